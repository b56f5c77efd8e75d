//! The scenario editor: deployment (in [`super::deployment_panel`]), router (in
//! [`super::router_panel`]), engine (in [`super::engine_panel`]), SLO and seed, with inline
//! validation of the whole scenario (the model and GPU are edited in [`super::ModelPanel`]).

use leptos::prelude::*;

use super::deployment_panel::DeploymentPanel;
use super::engine_panel::EnginePanel;
use super::fields::InputField;
use super::router_panel::RouterPanel;
use crate::syntax::decimal;
use crate::use_app_state;

/// Milliseconds, or nothing for "no target".
fn optional_ms(text: &str) -> Result<Option<f64>, &'static str> {
    if text.is_empty() {
        Ok(None)
    } else {
        decimal(text).map(Some).map_err(|_| "a number of ms, or nothing for no target")
    }
}

fn show_optional(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

/// The scenario editor.
#[component]
pub fn ScenarioForm() -> impl IntoView {
    let state = use_app_state();
    let problems = Memo::new(move |_| {
        state
            .scenario
            .with(|s| s.validate().err().unwrap_or_default().iter().map(ToString::to_string).collect::<Vec<_>>())
    });
    view! {
        <section class="panel" data-testid="scenario">
            <DeploymentPanel/>
            <RouterPanel/>
            <EnginePanel/>
            <h2>"SLO, price, seed and limits"</h2>
            <div class="fields">
                <InputField label="TTFT target (ms)" testid="slo-ttft" get=|s| show_optional(s.slo.ttft_ms)
                    set=|s, v| { s.slo.ttft_ms = optional_ms(v)?; Ok(()) }/>
                <InputField label="TPOT target (ms)" testid="slo-tpot" get=|s| show_optional(s.slo.tpot_ms)
                    set=|s, v| { s.slo.tpot_ms = optional_ms(v)?; Ok(()) }/>
                <InputField label="E2E target (ms)" testid="slo-e2e" get=|s| show_optional(s.slo.e2e_ms)
                    set=|s, v| { s.slo.e2e_ms = optional_ms(v)?; Ok(()) }/>
                <InputField label="SLO percentile" testid="slo-percentile" get=|s| s.slo.percentile.to_string()
                    set=|s, v| { s.slo.percentile = decimal(v)?; Ok(()) }/>
                <InputField label="Price ($ per GPU-hour; empty: none)" testid="cost-usd-per-gpu-hour"
                    get=|s| show_optional(s.cost.usd_per_gpu_hour)
                    set=|s, v| {
                        s.cost.usd_per_gpu_hour =
                            crate::syntax::optional(v, |t| decimal(t).map_err(|_| "dollars, or nothing for no price"))?;
                        Ok(())
                    }/>
                <InputField label="Seed" testid="seed" get=|s| s.seed.to_string()
                    set=|s, v| { s.seed = v.parse().map_err(|_| "a whole number")?; Ok(()) }/>
                <InputField label="Event budget (arrivals + steps)" testid="max-events" get=|s| s.limits.max_events.to_string()
                    set=|s, v| { s.limits.max_events = v.parse().map_err(|_| "a whole number")?; Ok(()) }/>
            </div>
            <Show when=move || !problems.get().is_empty()>
                <ul class="problems" data-testid="validation" role="alert">
                    {move || problems.get().into_iter().map(|problem| view! { <li>{problem}</li> }).collect_view()}
                </ul>
            </Show>
        </section>
    }
}
