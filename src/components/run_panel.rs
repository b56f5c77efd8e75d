//! Run and Cancel, with the progress bar and the status line.

use leptos::prelude::*;

use crate::{use_app_state, RunStatus};

/// Run / Cancel buttons, progress and status.
#[component]
pub fn RunPanel() -> impl IntoView {
    let state = use_app_state();
    let busy = move || state.status.with(RunStatus::is_busy);
    let invalid = move || state.scenario.with(|s| s.validate().is_err());
    let fraction = move || match state.status.get() {
        RunStatus::Running { fraction } => fraction,
        RunStatus::Done => 1.0,
        _ => 0.0,
    };
    let status_text = move || match state.status.get() {
        RunStatus::Idle => "Ready.".to_owned(),
        RunStatus::Fetching(what) => format!("Loading {what}…"),
        RunStatus::Fitting(file) => format!("Fitting the model to {file}…"),
        RunStatus::Running { fraction } => format!("Running… {:.0}%", fraction * 100.0),
        RunStatus::Done => "Done.".to_owned(),
        RunStatus::Cancelled => "Cancelled.".to_owned(),
        RunStatus::Failed(_) => "Failed.".to_owned(),
    };
    let error = move || match state.status.get() {
        RunStatus::Failed(message) => Some(message),
        _ => None,
    };
    view! {
        <section class="panel run">
            <div class="buttons">
                <button class="primary" data-testid="run" disabled=move || busy() || invalid()
                    on:click=move |_| state.run()>"Run"</button>
                <button data-testid="cancel" disabled=move || !busy() on:click=move |_| state.cancel()>"Cancel"</button>
            </div>
            <progress data-testid="progress" max="1" prop:value=fraction></progress>
            <p class="status" data-testid="run-status">{status_text}</p>
            {move || error().map(|message| view! { <p class="banner error" data-testid="error" role="alert">{message}</p> })}
        </section>
    }
}
