//! The workload: the bundled sample or a trace dropped anywhere on the page / picked from disk.

use leptos::prelude::*;
use leptos::task::spawn_local;
use servesim_core::scenario::Workload;
use servesim_core::workload::samples;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DragEvent, File, HtmlInputElement};

use crate::{format, use_app_state, AppState};

/// Reads `file` as text and hands it to the app.
fn load(state: AppState, file: File) {
    let name = file.name();
    spawn_local(async move {
        match JsFuture::from(file.text()).await {
            Ok(text) => state.load_file(name, text.as_string().unwrap_or_default()),
            Err(error) => state.status.set(crate::RunStatus::Failed(format!("{name}: cannot read the file: {error:?}"))),
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

    let workload_text = move || match state.scenario.with(|s| s.workload.clone()) {
        Workload::Sample(id) => match samples::find(&id) {
            Some(sample) => format!("Sample: {}", sample.description),
            None => format!("Unknown sample {id}"),
        },
        Workload::File(file) => format!("File: {} ({} requests)", file.name, format::thousands(file.rows)),
    };

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
            <button class="link" data-testid="use-sample"
                on:click=move |_| {
                    state.scenario.update(|s| s.workload = Workload::Sample(samples::DEFAULT_SAMPLE_ID.to_owned()));
                    state.run();
                }>
                "Use the bundled Mooncake sample"
            </button>
        </section>
    }
}
