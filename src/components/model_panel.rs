//! The Model & hardware panel: the model, GPU and number formats; the model sheet (sizes and
//! step times of one replica, recomputed as the scenario changes) with its roofline; a
//! Hugging Face `config.json` for a model that is not a preset; and the calibration: a
//! benchmark the worker fits the performance model to, or a measured step-time profile.

use leptos::prelude::*;
use leptos::task::spawn_local;
use plotters::coord::Shift;
use plotters::prelude::DrawingArea;
use plotters_canvas::CanvasBackend;
use servesim_charts::draw_roofline;
use servesim_core::calibrate::{mean_abs_error, parse_benchmark, parse_profile, Metrics, RowFit, StepProfile};
use servesim_core::perf::{catalog, Dtype, Factors, ModelSheet, ModelSpec, SheetShape};
use servesim_core::scenario::{Calibration, GpuChoice, Scenario};
use web_sys::File;

use super::chart_canvas::PlotCanvas;
use super::fields::{SelectField, SignalInputField};
use super::file_drop::{read_small_file, FileDrop};
use crate::syntax::whole;
use crate::{format, use_app_state, BenchmarkFit, RunStatus};

/// The model select's value for a model given by its `config.json` rather than a preset.
const CUSTOM: &str = "custom";

/// Every model preset, and the scenario's own config when it has one.
fn model_options(scenario: &Scenario) -> Vec<(String, String)> {
    let presets = catalog::MODELS.iter().map(|preset| (preset.id.to_owned(), preset.name.to_owned()));
    let custom = scenario.model.config.is_some().then(|| (CUSTOM.to_owned(), scenario.model.label()));
    presets.chain(custom).collect()
}

/// Every GPU preset, and `gpu` when it is written inline (its value is [`GpuChoice::id`]'s).
pub(super) fn gpu_options(gpu: Option<&GpuChoice>) -> Vec<(String, String)> {
    let presets = catalog::gpus().iter().map(|gpu| (gpu.id.to_owned(), gpu.spec.name.clone()));
    let custom = match gpu {
        Some(GpuChoice::Custom(spec)) => Some((CUSTOM.to_owned(), format!("custom: {}", spec.name))),
        _ => None,
    };
    presets.chain(custom).collect()
}

/// `formats` as select options (`fp8` shown as `FP8`), after `first` when given.
fn dtype_options(first: Option<(&str, &str)>, formats: &[Dtype]) -> Vec<(String, String)> {
    let first = first.map(|(value, text)| (value.to_owned(), text.to_owned()));
    first.into_iter().chain(formats.iter().map(|d| (d.name().to_owned(), d.name().to_uppercase()))).collect()
}

/// The sheet of the scenario's replica at `shape`, or why there is none: an unreadable model,
/// an unknown GPU, or an invalid combination (FP4 weights on Hopper, EP on a dense model…).
fn sheet_of(scenario: &Scenario, shape: SheetShape) -> Result<ModelSheet, String> {
    ModelSheet::of_scenario(scenario, shape).map_err(|error| error.to_string())
}

/// The config.json in `bytes`, as the scenario's inline model; refused unless
/// `ModelSpec::from_hf_config` reads it.
fn model_config(bytes: &[u8]) -> Result<serde_json::Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| format!("not UTF-8 text: {error}"))?;
    ModelSpec::from_hf_config(text)?;
    serde_json::from_str(text).map_err(|error| error.to_string())
}

/// The step profile in `bytes`.
fn step_profile(bytes: &[u8]) -> Result<StepProfile, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| format!("not UTF-8 text: {error}"))?;
    parse_profile(text).map_err(|error| error.to_string())
}

/// Adds a measured step `profile` (from the file `source`) to the scenario's calibration, or
/// to a new one with factors of 1.
fn add_profile(scenario: &mut Scenario, source: String, profile: StepProfile) {
    let calibration = scenario.calibration.get_or_insert_with(|| Calibration::new(&source, Factors::default(), None));
    calibration.profile = Some(profile);
}

/// The model, GPU and formats, the model sheet and roofline, a custom model's config and the
/// calibration.
#[component]
pub fn ModelPanel() -> impl IntoView {
    let state = use_app_state();
    view! {
        <section class="panel" data-testid="model-panel">
            <h2>"Model & hardware"</h2>
            <div class="fields">
                <SelectField label="Model" testid="model" options=Signal::derive(move || state.scenario.with(model_options))
                    get=|s| s.model.preset.clone().unwrap_or_else(|| CUSTOM.to_owned())
                    set=|s, v| if catalog::model(v).is_some() {
                        s.model.preset = Some(v.to_owned());
                        s.model.config = None;
                    }/>
                <SelectField label="GPU" testid="gpu" options=Signal::derive(move || state.scenario.with(|s| gpu_options(Some(&s.hardware.gpu))))
                    get=|s| s.hardware.gpu.id().to_owned()
                    set=|s, v| if catalog::gpu(v).is_some() {
                        s.hardware.gpu = GpuChoice::Preset(v.to_owned());
                    }/>
                <SelectField label="Weights" testid="weights" options=dtype_options(Some(("", "checkpoint's own")), &Dtype::ALL)
                    get=|s| s.model.weights.map_or("", Dtype::name).to_owned()
                    set=|s, v| s.model.weights = Dtype::from_name(v)/>
                <SelectField label="KV cache" testid="kv-cache" options=dtype_options(None, &Dtype::KV)
                    get=|s| s.model.kv_cache.name().to_owned()
                    set=|s, v| s.model.kv_cache = Dtype::from_name(v).unwrap_or_default()/>
            </div>
            <ModelConfigDrop/>
            <ModelSheetView/>
            <CalibrationBox/>
        </section>
    }
}

/// A Hugging Face `config.json` dropped or picked becomes the scenario's model when it reads;
/// otherwise its message is shown and the scenario is unchanged.
#[component]
fn ModelConfigDrop() -> impl IntoView {
    let state = use_app_state();
    let error = RwSignal::new(None::<String>);
    let on_file = move |file: File| {
        spawn_local(async move {
            let name = file.name();
            match read_small_file(&file).await.and_then(|bytes| model_config(&bytes)) {
                Ok(config) => {
                    error.set(None);
                    state.scenario.update(|s| {
                        s.model.preset = None;
                        s.model.config = Some(config);
                    });
                }
                Err(message) => error.set(Some(format!("{name}: {message}"))),
            }
        });
    };
    view! {
        <FileDrop testid="model-config-drop" input_testid="model-config-input" accept=".json"
            button="choose a config.json" on_file>
            <p>"Another model: drop its Hugging Face config.json here, or"</p>
        </FileDrop>
        {move || error.get().map(|message| view! {
            <p class="banner error" data-testid="model-config-error" role="alert">{message}</p>
        })}
    }
}

/// The model sheet at a shape chosen here (not part of the scenario), and its roofline.
#[component]
fn ModelSheetView() -> impl IntoView {
    let state = use_app_state();
    let shape = RwSignal::new(SheetShape::default());
    let sheet = Memo::new(move |_| state.scenario.with(|s| sheet_of(s, shape.get())));
    let roofline = move || sheet.with(|sheet| sheet.as_ref().ok().and_then(|sheet| sheet.roofline));
    view! {
        {move || match sheet.get() {
            Ok(sheet) => sheet_table(&sheet, shape.get()).into_any(),
            Err(message) => view! {
                <p class="banner error" data-testid="model-sheet-error" role="alert">{message}</p>
            }.into_any(),
        }}
        <div class="fields" data-testid="sheet-shape">
            <SignalInputField label="Prefill tokens" testid="sheet-isl" bound=shape
                get=|shape: &SheetShape| shape.isl.to_string()
                set=|shape: &mut SheetShape, v: &str| { shape.isl = whole(v)?; Ok(()) }/>
            <SignalInputField label="Decode batch" testid="sheet-batch" bound=shape
                get=|shape: &SheetShape| shape.batch.to_string()
                set=|shape: &mut SheetShape, v: &str| { shape.batch = whole(v)?; Ok(()) }/>
            <SignalInputField label="Decode context" testid="sheet-context" bound=shape
                get=|shape: &SheetShape| shape.context.to_string()
                set=|shape: &mut SheetShape, v: &str| { shape.context = whole(v)?; Ok(()) }/>
        </div>
        {move || roofline().map(|roofline| {
            let draw = move |area: &DrawingArea<CanvasBackend, Shift>| Some(draw_roofline(area, &roofline));
            view! { <PlotCanvas testid="chart-roofline" width=480 height=320 draw/> }
        })}
    }
}

/// The sheet's numbers, formatted, with why the model does not fit when it does not.
fn sheet_table(sheet: &ModelSheet, shape: SheetShape) -> impl IntoView {
    let row = |label: String, testid: &'static str, value: String| {
        view! { <tr><th scope="row">{label}</th><td data-testid=testid>{value}</td></tr> }
    };
    let when_fits = |value: String| if sheet.fits { value } else { "–".to_owned() };
    let ms = |value: Option<f64>| value.map_or_else(|| "–".to_owned(), |ms| format!("{ms:.2} ms"));
    let gpus = match sheet.gpus_per_replica {
        1 => "1 GPU".to_owned(),
        n => format!("{n} GPUs"),
    };
    view! {
        <table class="sheet" data-testid="model-sheet">
            <tbody>
                {row("Parameters".to_owned(), "sheet-params-total", format::abbreviated(sheet.params_total))}
                {row("Active per token".to_owned(), "sheet-params-active", format::abbreviated(sheet.params_active))}
                {(sheet.params_mtp > 0).then(|| row("MTP layers".to_owned(), "sheet-params-mtp", format::abbreviated(sheet.params_mtp)))}
                {row(format!("Weights per GPU ({}, {gpus} per replica)", sheet.weights), "sheet-weight-bytes-per-gpu",
                    format::gigabytes(sheet.weight_bytes_per_gpu))}
                {row(format!("KV per token ({})", sheet.kv_cache), "sheet-kv-bytes-per-token", format::binary_size(sheet.kv_bytes_per_token))}
                {(sheet.kv_window_bytes_per_sequence > 0).then(|| row("Sliding-window KV per sequence".to_owned(),
                    "sheet-kv-window-bytes", format::binary_size(sheet.kv_window_bytes_per_sequence)))}
                {row("KV capacity per replica".to_owned(), "sheet-kv-capacity-tokens",
                    when_fits(format!("{} tokens", format::thousands(sheet.kv_capacity_tokens))))}
                {row(format!("Prefill of {} tokens", format::thousands(shape.isl.into())), "sheet-prefill-ms", ms(sheet.prefill_ms))}
                {row(format!("Decode step, {} × {} tokens", shape.batch, format::thousands(shape.context.into())),
                    "sheet-decode-step-ms", ms(sheet.decode_step_ms))}
                {row("Fits".to_owned(), "sheet-fits", if sheet.fits { "yes" } else { "no" }.to_owned())}
            </tbody>
        </table>
        {sheet.why.clone().map(|why| view! { <p class="banner notice" data-testid="sheet-why">{why}</p> })}
    }
}

/// Benchmark and step-profile drops, the fit in progress or why a file was refused, the
/// scenario's calibration with its Clear button, and the last fit.
#[component]
fn CalibrationBox() -> impl IntoView {
    let state = use_app_state();
    let on_benchmark = move |file: File| {
        spawn_local(async move {
            let name = file.name();
            let rows =
                read_small_file(&file).await.and_then(|bytes| parse_benchmark(&bytes).map_err(|e| e.to_string()));
            match rows {
                Ok(rows) => state.calibrate(name, rows),
                Err(message) => state.calibration_error.set(Some(format!("{name}: {message}"))),
            }
        });
    };
    let on_profile = move |file: File| {
        spawn_local(async move {
            let name = file.name();
            match read_small_file(&file).await.and_then(|bytes| step_profile(&bytes)) {
                Ok(profile) => {
                    state.calibration_error.set(None);
                    state.scenario.update(|s| add_profile(s, name, profile));
                }
                Err(message) => state.calibration_error.set(Some(format!("{name}: {message}"))),
            }
        });
    };
    let fitting = move || match state.status.get() {
        RunStatus::Fitting(file) => Some(view! {
            <p class="status" data-testid="calibration-status">{format!("Fitting the model to {file}…")}</p>
        }),
        _ => None,
    };
    view! {
        <h3>"Calibration"</h3>
        <div class="drops">
            <FileDrop testid="benchmark-drop" input_testid="benchmark-input" accept=".json,.jsonl,.csv,.txt"
                button="choose a benchmark" on_file=on_benchmark>
                <p>"Fit the model to a serving benchmark (vLLM JSON, SGLang JSONL, or CSV: isl, osl, \
                    concurrency or rate, ttft_ms, tpot_ms, throughput): drop it here, or"</p>
            </FileDrop>
            <FileDrop testid="profile-drop" input_testid="profile-input" accept=".csv,.txt"
                button="choose a profile" on_file=on_profile>
                <p>"Or replace the roofline by measured step times (CSV: new_tokens, context_tokens, \
                    step_ms): drop it here, or"</p>
            </FileDrop>
        </div>
        {fitting}
        {move || state.calibration_error.get().map(|message| view! {
            <p class="banner error" data-testid="calibration-error" role="alert">{message}</p>
        })}
        <CurrentCalibration/>
        <FitTable/>
    }
}

/// What the scenario's calibration applies, and the button that removes it.
#[component]
fn CurrentCalibration() -> impl IntoView {
    let state = use_app_state();
    let clear = move |_| {
        state.scenario.update(|s| s.calibration = None);
        state.fit.set(None);
        state.calibration_error.set(None);
    };
    move || {
        state.scenario.with(|s| s.calibration.clone()).map(|calibration| {
            let profile = calibration
                .profile
                .as_ref()
                .map(|profile| format!("; measured step times ({} steps) replace the roofline", profile.points.len()));
            view! {
                <p class="calibration-current" data-testid="calibration-current">
                    {format!("Calibrated to {}: ", calibration.source)}
                    <span data-testid="calibration-factors">{format!(
                        "compute × {:.3}, memory × {:.3}, overhead × {:.3}",
                        calibration.compute, calibration.memory, calibration.overhead
                    )}</span>
                    {profile}
                </p>
                <button class="link" data-testid="calibration-clear" on:click=clear>"Clear calibration"</button>
            }
        })
    }
}

/// One metric of a fit table.
struct Metric {
    name: &'static str,
    value: fn(&Metrics) -> Option<f64>,
    decimals: usize,
}

/// The metrics a fit compares.
const METRICS: [Metric; 3] = [
    Metric { name: "TTFT (ms)", value: |m| m.ttft_ms, decimals: 1 },
    Metric { name: "TPOT (ms)", value: |m| m.tpot_ms, decimals: 1 },
    Metric { name: "Output tokens/s", value: |m| m.output_throughput, decimals: 0 },
];

/// Each benchmark run's measured, predicted-before and fitted values with the relative errors
/// (mean absolute, over the run's metrics), and the mean over every run.
#[component]
fn FitTable() -> impl IntoView {
    let state = use_app_state();
    let percent = |pct: f64| format!("{pct:.1} %");
    let run = move |fit: &RowFit| {
        let error = |predicted: Metrics| percent(mean_abs_error(&[predicted], &[fit.measured]));
        let metrics = METRICS.iter().filter_map(|&Metric { name, value, decimals }| {
            let shown = |metrics: &Metrics| value(metrics).map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"));
            value(&fit.measured).map(|_| {
                view! {
                    <tr><td>{name}</td><td>{shown(&fit.measured)}</td><td>{shown(&fit.before)}</td><td>{shown(&fit.after)}</td></tr>
                }
            })
        });
        view! {
            <tbody>
                <tr class="run"><th scope="rowgroup">{fit.label.clone()}</th><td></td>
                    <td>{error(fit.before)}</td><td>{error(fit.after)}</td></tr>
                {metrics.collect_view()}
            </tbody>
        }
    };
    move || {
        state.fit.get().map(|BenchmarkFit { file, report }| {
            view! {
                <table class="fit" data-testid="calibration-fit">
                    <caption>{format!("Fit to {file} (errors: mean absolute, relative)")}</caption>
                    <thead><tr><th>"Run"</th><th>"measured"</th><th>"before"</th><th>"after"</th></tr></thead>
                    {report.rows.iter().map(run).collect_view()}
                    <tfoot>
                        <tr><th scope="row">"Mean error"</th><td></td>
                            <td data-testid="calibration-error-before">{percent(report.error_before_pct)}</td>
                            <td data-testid="calibration-error-after">{percent(report.error_after_pct)}</td></tr>
                    </tfoot>
                </table>
            }
        })
    }
}
