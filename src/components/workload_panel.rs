//! The workload: drop a trace anywhere on the page (or pick one), a bundled sample, or the
//! generator; what the import found, and what to do when a file does not import.

use leptos::prelude::*;
use servesim_core::scenario::WorkloadSource;
use servesim_core::workload::{samples, ColumnMapping, Generator, ImportOptions, ImportReport, TimeUnit};
use wasm_bindgen::JsValue;
use web_sys::File;

use super::file_drop::FileDrop;
use crate::{format, use_app_state, AppState, ImportFailure};

/// Hands a dropped or picked `file` to the app (the worker reads it from disk in chunks).
fn load(state: AppState, file: File) {
    state.load_file(file.name(), JsValue::from(file));
}

/// What the current workload is, in one line.
fn workload_line(state: AppState) -> String {
    match state.scenario.with(|s| s.workload.source.clone()) {
        WorkloadSource::Sample(id) => match samples::find(&id) {
            Some(sample) => format!("Sample: {}", sample.description),
            None => format!("Unknown sample {id}"),
        },
        WorkloadSource::File(file) => format!("File: {} ({} requests)", file.name, format::thousands(file.rows)),
        WorkloadSource::Generator(generator) => format!(
            "Generated: {} requests in {} class{} (seed {})",
            format::thousands(generator.num_requests()),
            generator.classes.len(),
            if generator.classes.len() == 1 { "" } else { "es" },
            state.scenario.with(|s| s.seed)
        ),
    }
}

/// Drop zone (the whole page accepts drops), file picker, samples and generator.
#[component]
pub fn WorkloadPanel() -> impl IntoView {
    let state = use_app_state();
    let current_sample = move || match state.scenario.with(|s| s.workload.source.clone()) {
        WorkloadSource::Sample(id) => id,
        _ => String::new(),
    };

    view! {
        <section class="panel" data-testid="workload">
            <h2>"Workload"</h2>
            <FileDrop testid="dropzone" input_testid="file-input" accept=".jsonl,.json,.csv,.txt,.gz"
                button="choose a file" page_wide=true on_file=move |file| load(state, file)>
                <p>"Drop a trace anywhere on the page — Mooncake, Azure LLM 2023/2024, BurstGPT, SplitwiseSim, \
                    Vidur, Qwen Bailian, a length-only file or any CSV/JSONL, gzipped or not — or "</p>
            </FileDrop>
            <p class="workload-current" data-testid="workload-current">{move || workload_line(state)}</p>
            <div class="workload-choices">
                <label class="field">
                    <span>"Bundled samples"</span>
                    <select data-testid="sample-select" on:change=move |ev| {
                        let id = event_target_value(&ev);
                        if !id.is_empty() {
                            state.use_source(WorkloadSource::Sample(id));
                        }
                    }>
                        <option value="" prop:selected=move || current_sample().is_empty()>"Pick a sample…"</option>
                        {samples::SAMPLES.iter().map(|sample| view! {
                            <option value=sample.id prop:selected=move || current_sample() == sample.id>{sample.description}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button class="link" data-testid="use-generator"
                    on:click=move |_| state.use_source(WorkloadSource::Generator(Generator::default()))>
                    "Generate a workload"
                </button>
            </div>
            <ImportFailureBox/>
            <ImportReportBox/>
        </section>
    }
}

/// What the last import found: format, columns, rows read, skipped and why, notices.
#[component]
fn ImportReportBox() -> impl IntoView {
    let state = use_app_state();
    let report = move || state.trace_report.with(|report| report.as_ref().and_then(|r| r.import.clone()));
    move || {
        report().map(|import: ImportReport| {
        let columns = import
            .columns
            .iter()
            .map(|c| match c.unit {
                Some(unit) => format!("{} ← {} ({})", c.role, c.source, unit.symbol()),
                None => format!("{} ← {}", c.role, c.source),
            })
            .collect::<Vec<_>>()
            .join(", ");
        view! {
            <div class="import-report" data-testid="import-report">
                <p>
                    <strong data-testid="import-format">{import.format.to_string()}</strong>
                    {if import.gzip { " (gzip)" } else { "" }}
                    ": "
                    <span data-testid="import-rows">{format!("{} rows read, {} requests", format::thousands(import.rows_read), format::thousands(import.num_requests))}</span>
                    {(import.rows_skipped > 0).then(|| view! {
                        <span data-testid="import-skipped">{format!(", {} bad rows skipped", format::thousands(import.rows_skipped))}</span>
                    })}
                </p>
                <p class="small" data-testid="import-columns">{columns}</p>
                <ul class="small">
                    {import.skipped_examples.iter().map(|example| view! { <li data-testid="import-skipped-example">{example.clone()}</li> }).collect_view()}
                    {import.notices.iter().map(|notice| view! { <li class="notice" data-testid="import-notice">{notice.clone()}</li> }).collect_view()}
                </ul>
            </div>
        }
    })
    }
}

/// A dropped file that did not import: the error, and ways to import it anyway — skip the bad
/// rows, or map its columns. The scenario and the trace loaded before are untouched.
#[component]
fn ImportFailureBox() -> impl IntoView {
    let state = use_app_state();
    let mapping_open = RwSignal::new(false);
    move || {
        state.import_failure.get().map(|failure: ImportFailure| {
            let options = failure.options.clone();
            let skip_options = ImportOptions { skip_bad_rows: true, ..options.clone() };
            view! {
                <div class="import-failure" data-testid="import-failure" role="alert">
                    <p>{format!("{} was not imported: {}", failure.name, failure.message)}</p>
                    <div class="actions">
                        {(!options.skip_bad_rows).then(|| view! {
                            <button data-testid="import-skip-bad-rows" on:click=move |_| state.retry_import(skip_options.clone())>
                                "Skip bad rows and import"
                            </button>
                        })}
                        <button data-testid="import-map-columns" on:click=move |_| mapping_open.update(|open| *open = !*open)>
                            "Map columns…"
                        </button>
                        <button class="link" data-testid="import-dismiss" on:click=move |_| state.import_failure.set(None)>
                            "Dismiss"
                        </button>
                    </div>
                    <Show when=move || mapping_open.get()>
                        <MappingForm initial=options.columns.clone().unwrap_or_default() skip_bad_rows=options.skip_bad_rows/>
                    </Show>
                </div>
            }
        })
    }
}

/// Column names for a file whose format is not detected (CSV header names or JSON keys).
#[component]
fn MappingForm(initial: ColumnMapping, skip_bad_rows: bool) -> impl IntoView {
    let state = use_app_state();
    let text = |value: Option<String>| RwSignal::new(value.unwrap_or_default());
    let arrival = text(initial.arrival.clone());
    let unit = RwSignal::new(initial.arrival_unit);
    let prompt = text(Some(initial.prompt_tokens.clone()));
    let output = text(Some(initial.output_tokens.clone()));
    let session = text(initial.session.clone());
    let class = text(initial.class.clone());
    let skip = RwSignal::new(skip_bad_rows);
    let optional = |signal: RwSignal<String>| Some(signal.get_untracked().trim().to_owned()).filter(|t| !t.is_empty());
    let apply = move |_| {
        let columns = ColumnMapping {
            arrival: optional(arrival),
            arrival_unit: unit.get_untracked(),
            prompt_tokens: prompt.get_untracked().trim().to_owned(),
            output_tokens: output.get_untracked().trim().to_owned(),
            session: optional(session),
            class: optional(class),
        };
        state.retry_import(ImportOptions { columns: Some(columns), skip_bad_rows: skip.get_untracked() });
    };
    let input = |label: &'static str, testid: &'static str, signal: RwSignal<String>| {
        view! {
            <label class="field">
                <span>{label}</span>
                <input type="text" data-testid=testid prop:value=move || signal.get()
                    on:input=move |ev| signal.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <div class="fields" data-testid="column-mapping">
            {input("Prompt tokens column", "map-prompt", prompt)}
            {input("Output tokens column", "map-output", output)}
            {input("Arrival time column (empty: none)", "map-arrival", arrival)}
            <label class="field">
                <span>"Arrival unit"</span>
                <select data-testid="map-arrival-unit" on:change=move |ev| {
                    if let Some(chosen) = TimeUnit::from_symbol(&event_target_value(&ev)) {
                        unit.set(chosen);
                    }
                }>
                    {TimeUnit::ALL.iter().map(|u| {
                        let u = *u;
                        view! { <option value=u.symbol() prop:selected=move || unit.get() == u>{u.symbol()}</option> }
                    }).collect_view()}
                </select>
            </label>
            {input("Session column (optional)", "map-session", session)}
            {input("Class / tenant column (optional)", "map-class", class)}
            <label class="field check">
                <input type="checkbox" data-testid="map-skip-bad-rows" prop:checked=move || skip.get()
                    on:change=move |ev| skip.set(event_target_checked(&ev))/>
                <span>"Skip bad rows"</span>
            </label>
            <button data-testid="map-apply" on:click=apply>"Import with these columns"</button>
        </div>
    }
}
