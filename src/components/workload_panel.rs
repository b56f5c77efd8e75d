//! The workload: the bundled sample or a trace dropped anywhere on the page / picked from disk.

use leptos::prelude::*;
use leptos::task::spawn_local;
use servesim_core::scenario::{Scenario, WorkloadSource};
use servesim_core::workload::{samples, Arrivals, Generator, GeneratorClass, Lengths};
use wasm_bindgen_futures::JsFuture;
use web_sys::{DragEvent, File, HtmlInputElement};

use super::fields::{decimal, whole, InputField};
use crate::{format, use_app_state, AppState};

/// A length distribution as the generator form writes it: `fixed N`, `uniform MIN MAX`,
/// `lognormal MEDIAN SIGMA MAX` or `zipf EXPONENT MIN MAX`.
pub fn lengths_text(lengths: &Lengths) -> String {
    match *lengths {
        Lengths::Fixed { tokens } => format!("fixed {tokens}"),
        Lengths::Uniform { min, max } => format!("uniform {min} {max}"),
        Lengths::Lognormal { median, sigma, max } => format!("lognormal {median} {sigma} {max}"),
        Lengths::Zipf { exponent, min, max } => format!("zipf {exponent} {min} {max}"),
    }
}

/// Reads the form's length syntax (see [`lengths_text`]).
///
/// # Errors
///
/// Returns what the field expects when `text` is not one of the three forms.
pub fn parse_lengths(text: &str) -> Result<Lengths, &'static str> {
    const EXPECTED: &str = "fixed N, uniform MIN MAX, lognormal MEDIAN SIGMA MAX, or zipf EXPONENT MIN MAX";
    let words: Vec<&str> = text.split_whitespace().collect();
    let number = |word: &str| whole(word).map_err(|_| EXPECTED);
    match words.as_slice() {
        ["fixed", tokens] => Ok(Lengths::Fixed { tokens: number(tokens)? }),
        ["uniform", min, max] => Ok(Lengths::Uniform { min: number(min)?, max: number(max)? }),
        ["lognormal", median, sigma, max] => Ok(Lengths::Lognormal {
            median: decimal(median).map_err(|_| EXPECTED)?,
            sigma: decimal(sigma).map_err(|_| EXPECTED)?,
            max: number(max)?,
        }),
        ["zipf", exponent, min, max] => Ok(Lengths::Zipf {
            exponent: decimal(exponent).map_err(|_| EXPECTED)?,
            min: number(min)?,
            max: number(max)?,
        }),
        _ => Err(EXPECTED),
    }
}

fn generator(scenario: &Scenario) -> Option<&GeneratorClass> {
    scenario.workload.generator().and_then(|generator| generator.classes.first())
}

fn generator_mut(scenario: &mut Scenario) -> Result<&mut GeneratorClass, &'static str> {
    match &mut scenario.workload.source {
        WorkloadSource::Generator(generator) => generator.classes.first_mut().ok_or("a generator class"),
        _ => Err("a value once the generator is the workload"),
    }
}

/// The generator's parameters, shown while it is the workload.
#[component]
fn GeneratorFields() -> impl IntoView {
    view! {
        <div class="fields" data-testid="generator">
            <InputField label="Poisson rate (req/s)" testid="generator-rate"
                get=|s| generator(s).and_then(|g| g.arrivals.mean_rate_per_s()).map(|rate| rate.to_string()).unwrap_or_default()
                set=|s, v| { let rate_per_s = decimal(v)?; generator_mut(s)?.arrivals = Arrivals::Poisson { rate_per_s }; Ok(()) }/>
            <InputField label="Requests" testid="generator-requests"
                get=|s| generator(s).map(|g| g.num_requests.to_string()).unwrap_or_default()
                set=|s, v| { let n = whole(v)?; generator_mut(s)?.num_requests = n; Ok(()) }/>
            <InputField label="Prompt lengths" testid="generator-prompt"
                get=|s| generator(s).map(|g| lengths_text(&g.prompt_tokens)).unwrap_or_default()
                set=|s, v| { let lengths = parse_lengths(v)?; generator_mut(s)?.prompt_tokens = lengths; Ok(()) }/>
            <InputField label="Output lengths" testid="generator-output"
                get=|s| generator(s).map(|g| lengths_text(&g.output_tokens)).unwrap_or_default()
                set=|s, v| { let lengths = parse_lengths(v)?; generator_mut(s)?.output_tokens = lengths; Ok(()) }/>
        </div>
    }
}

/// Reads `file` as text and hands it to the app.
fn load(state: AppState, file: File) {
    let name = file.name();
    spawn_local(async move {
        match JsFuture::from(file.text()).await {
            Ok(text) => state.load_file(name, text),
            Err(error) => {
                if !state.status.with_untracked(crate::RunStatus::is_busy) {
                    state.status.set(crate::RunStatus::Failed(format!("{name}: cannot read the file: {error:?}")));
                }
            }
        }
    });
}

/// Drop zone (the whole page accepts drops), file picker and the current workload.
#[component]
pub fn WorkloadPanel() -> impl IntoView {
    let state = use_app_state();
    let dragging = RwSignal::new(false);

    let on_drag_over = window_event_listener(leptos::ev::dragover, move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(true);
    });
    let on_drag_leave = window_event_listener(leptos::ev::dragleave, move |_| dragging.set(false));
    let on_drop = window_event_listener(leptos::ev::drop, move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(file) = ev.data_transfer().and_then(|dt| dt.files()).and_then(|files| files.get(0)) {
            load(state, file);
        }
    });
    on_cleanup(move || {
        on_drag_over.remove();
        on_drag_leave.remove();
        on_drop.remove();
    });

    let on_pick = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|files| files.get(0)) {
            load(state, file);
        }
        input.set_value("");
    };

    let workload_text = move || match state.scenario.with(|s| s.workload.source.clone()) {
        WorkloadSource::Sample(id) => match samples::find(&id) {
            Some(sample) => format!("Sample: {}", sample.description),
            None => format!("Unknown sample {id}"),
        },
        WorkloadSource::File(file) => format!("File: {} ({} requests)", file.name, format::thousands(file.rows)),
        WorkloadSource::Generator(generator) => format!(
            "Generated: {} requests in {} class(es) (seed {})",
            format::thousands(generator.num_requests()),
            generator.classes.len(),
            state.scenario.with(|s| s.seed)
        ),
    };
    let is_generator = move || state.scenario.with(|s| matches!(s.workload.source, WorkloadSource::Generator(_)));

    view! {
        <section class="panel" data-testid="workload">
            <h2>"Workload"</h2>
            <div class="dropzone" class:dragging=move || dragging.get() data-testid="dropzone">
                <p>"Drop a trace anywhere on the page (Mooncake JSONL or Vidur CSV), or "</p>
                <label class="button">
                    "choose a file"
                    <input type="file" data-testid="file-input" accept=".jsonl,.json,.csv,.txt" on:change=on_pick/>
                </label>
            </div>
            <p class="workload-current" data-testid="workload-current">{workload_text}</p>
            <div class="workload-choices">
                <button class="link" data-testid="use-sample"
                    on:click=move |_| {
                        state.scenario.update(|s| s.workload = WorkloadSource::Sample(samples::DEFAULT_SAMPLE_ID.to_owned()).into());
                        state.run();
                    }>
                    "Use the bundled Mooncake sample"
                </button>
                <button class="link" data-testid="use-generator"
                    on:click=move |_| {
                        state.scenario.update(|s| s.workload = WorkloadSource::Generator(Generator::default()).into());
                        state.run();
                    }>
                    "Generate a Poisson workload"
                </button>
            </div>
            <Show when=is_generator>
                <GeneratorFields/>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_texts_round_trip_and_bad_ones_say_what_is_expected() {
        for lengths in [
            Lengths::Fixed { tokens: 128 },
            Lengths::Uniform { min: 10, max: 20 },
            Lengths::Lognormal { median: 1000.5, sigma: 0.8, max: 8192 },
            Lengths::Zipf { exponent: 1.2, min: 16, max: 4096 },
        ] {
            assert_eq!(parse_lengths(&lengths_text(&lengths)), Ok(lengths));
        }
        assert_eq!(parse_lengths("  uniform   5  9 "), Ok(Lengths::Uniform { min: 5, max: 9 }));
        assert!(parse_lengths("normal 5").unwrap_err().starts_with("fixed N"));
        assert!(parse_lengths("fixed -3").is_err());
    }
}
