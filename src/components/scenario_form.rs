//! The scenario editor: deployment, engine (in [`super::engine_panel`]), router, SLO and seed,
//! with inline validation of the whole scenario (the model and GPU are edited in
//! [`super::ModelPanel`]).

use leptos::prelude::*;
use servesim_core::scenario::{ReplicaPool, RouterKind, Scenario};

use super::engine_panel::EnginePanel;
use super::fields::{CheckField, InputField, SelectField};
use crate::use_app_state;

fn pool(scenario: &Scenario) -> &ReplicaPool {
    scenario.deployment.primary_pool()
}

fn pool_mut(scenario: &mut Scenario) -> &mut ReplicaPool {
    scenario.deployment.primary_pool_mut()
}

use crate::syntax::{decimal, whole};

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

fn numbers(values: &[u32]) -> Vec<(String, String)> {
    values.iter().map(|v| (v.to_string(), v.to_string())).collect()
}

fn router_options() -> Vec<(String, String)> {
    RouterKind::ALL.iter().map(|r| (r.kind().to_owned(), r.kind().replace('_', " "))).collect()
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
            <h2>"Deployment"</h2>
            <div class="fields">
                <InputField label="Replicas" testid="replicas" get=|s| pool(s).replicas.to_string()
                    set=|s, v| { pool_mut(s).replicas = whole(v)?; Ok(()) }/>
                <SelectField label="Tensor parallel" testid="tp" options=numbers(&[1, 2, 4, 8, 16, 32, 64])
                    get=|s| pool(s).tp.to_string() set=|s, v| pool_mut(s).tp = v.parse().unwrap_or(1)/>
                <InputField label="Pipeline stages" testid="pp" get=|s| pool(s).pp.to_string()
                    set=|s, v| { pool_mut(s).pp = whole(v)?; Ok(()) }/>
                <SelectField label="Expert parallel (MoE)" testid="ep" options=numbers(&[1, 2, 4, 8, 16, 32, 64])
                    get=|s| pool(s).ep.to_string() set=|s, v| pool_mut(s).ep = v.parse().unwrap_or(1)/>
                <InputField label="Redundant experts" testid="redundant-experts"
                    get=|s| pool(s).redundant_experts.to_string()
                    set=|s, v| { pool_mut(s).redundant_experts = whole(v)?; Ok(()) }/>
                <InputField label="Expert imbalance (busiest / mean)" testid="expert-imbalance"
                    get=|s| pool(s).expert_imbalance.to_string()
                    set=|s, v| { pool_mut(s).expert_imbalance = decimal(v)?; Ok(()) }/>
                <SelectField label="Router" testid="router"
                    options=router_options()
                    get=|s| s.router.kind.kind().to_owned() set=|s, v| s.router.kind = RouterKind::from_kind(v).unwrap_or_default()/>
                <CheckField label="Data-parallel attention" testid="dp-attention"
                    get=|s| pool(s).dp_attention set=|s, v| pool_mut(s).dp_attention = v/>
            </div>
            <EnginePanel/>
            <h2>"SLO, seed and limits"</h2>
            <div class="fields">
                <InputField label="TTFT target (ms)" testid="slo-ttft" get=|s| show_optional(s.slo.ttft_ms)
                    set=|s, v| { s.slo.ttft_ms = optional_ms(v)?; Ok(()) }/>
                <InputField label="TPOT target (ms)" testid="slo-tpot" get=|s| show_optional(s.slo.tpot_ms)
                    set=|s, v| { s.slo.tpot_ms = optional_ms(v)?; Ok(()) }/>
                <InputField label="E2E target (ms)" testid="slo-e2e" get=|s| show_optional(s.slo.e2e_ms)
                    set=|s, v| { s.slo.e2e_ms = optional_ms(v)?; Ok(()) }/>
                <InputField label="SLO percentile" testid="slo-percentile" get=|s| s.slo.percentile.to_string()
                    set=|s, v| { s.slo.percentile = decimal(v)?; Ok(()) }/>
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
