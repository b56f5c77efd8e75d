//! The examples gallery: one click opens a bundled scenario in the editor (and so in the
//! address bar's link) and runs it.

use leptos::prelude::*;

use crate::examples::EXAMPLES;
use crate::{use_app_state, RunStatus};

/// A button per bundled example.
#[component]
pub fn ExampleGallery() -> impl IntoView {
    let state = use_app_state();
    let buttons = EXAMPLES.iter().map(|example| {
        let open = move |_| match example.scenario() {
            Ok(scenario) => state.open_scenario(scenario),
            Err(message) => state.status.set(RunStatus::Failed(message)),
        };
        view! { <button data-testid=format!("example-{}", example.id) on:click=open>{example.title}</button> }
    });
    view! {
        <section class="panel" data-testid="examples">
            <h2>"Examples: prefill/decode disaggregation"</h2>
            <p class="hint">
                "Llama-3.1-70B on 8 H100s. Chat traffic: separate decode replicas keep prefills out of \
                 decode steps (lower TPOT). One long prompt at a time: one TP8 replica prefills faster than a \
                 TP4 prefill pool (lower TTFT)."
            </p>
            <div class="examples">{buttons.collect_view()}</div>
        </section>
    }
}
