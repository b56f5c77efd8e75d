//! The scenario editor: the deployment fields, with inline validation.

use leptos::prelude::*;
use servesim_core::perf::catalog::{self, Preset};
use servesim_core::scenario::{Deployment, ReplicaPool, Router, Scenario};

use crate::use_app_state;

/// A `<select>` over presets, bound to one string field of the scenario.
#[component]
fn PresetSelect(
    label: &'static str,
    testid: &'static str,
    presets: &'static [Preset],
    get: fn(&Scenario) -> &String,
    set: fn(&mut Scenario, String),
) -> impl IntoView {
    let state = use_app_state();
    view! {
        <label class="field">
            <span>{label}</span>
            <select data-testid=testid on:change=move |ev| {
                let value = event_target_value(&ev);
                state.scenario.update(|s| set(s, value));
            }>
                {presets.iter().map(|preset| {
                    let id = preset.id;
                    view! {
                        <option value=id prop:selected=move || state.scenario.with(|s| get(s) == id)>{preset.name}</option>
                    }
                }).collect_view()}
            </select>
        </label>
    }
}

/// A whole-number input bound to the scenario. Text that is not a number is reported, not
/// applied; range checks are `Scenario::validate`'s.
#[component]
fn NumberField(
    label: &'static str,
    testid: &'static str,
    get: fn(&Scenario) -> u64,
    set: fn(&mut Scenario, u64),
) -> impl IntoView {
    let state = use_app_state();
    let parse_error = RwSignal::new(None::<String>);
    let on_change = move |ev: leptos::ev::Event| match event_target_value(&ev).trim().parse::<u64>() {
        Ok(value) => {
            parse_error.set(None);
            state.scenario.update(|s| set(s, value));
        }
        Err(_) => parse_error.set(Some(format!("{label}: enter a whole number"))),
    };
    view! {
        <label class="field">
            <span>{label}</span>
            <input type="number" min="0" step="1" data-testid=testid
                prop:value=move || state.scenario.with(|s| get(s)).to_string()
                on:change=on_change/>
            {move || parse_error.get().map(|message| view! { <span class="field-error">{message}</span> })}
        </label>
    }
}

fn pool(scenario: &Scenario) -> &ReplicaPool {
    let Deployment::Aggregated(pool) = &scenario.deployment;
    pool
}

fn pool_mut(scenario: &mut Scenario) -> &mut ReplicaPool {
    let Deployment::Aggregated(pool) = &mut scenario.deployment;
    pool
}

fn clamp_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The editor for model, hardware, deployment and router.
#[component]
pub fn ScenarioForm() -> impl IntoView {
    let state = use_app_state();
    let problems = Memo::new(move |_| {
        state.scenario.with(|s| s.validate().err().unwrap_or_default().iter().map(ToString::to_string).collect::<Vec<_>>())
    });
    view! {
        <section class="panel" data-testid="scenario">
            <h2>"Deployment"</h2>
            <div class="fields">
                <PresetSelect label="Model" testid="model" presets=catalog::MODELS
                    get=|s| &s.model.preset set=|s, v| s.model.preset = v/>
                <PresetSelect label="GPU" testid="gpu" presets=catalog::GPUS
                    get=|s| &s.hardware.gpu set=|s, v| s.hardware.gpu = v/>
                <NumberField label="Replicas" testid="replicas"
                    get=|s| u64::from(pool(s).replicas) set=|s, v| pool_mut(s).replicas = clamp_u32(v)/>
                <NumberField label="Tensor parallel" testid="tp"
                    get=|s| u64::from(pool(s).tp) set=|s, v| pool_mut(s).tp = clamp_u32(v)/>
                <label class="field">
                    <span>"Router"</span>
                    <select data-testid="router" on:change=move |ev| {
                        if let Some(router) = Router::from_kind(&event_target_value(&ev)) {
                            state.scenario.update(|s| s.router = router);
                        }
                    }>
                        {Router::ALL.into_iter().map(|router| view! {
                            <option value=router.kind() prop:selected=move || state.scenario.with(|s| s.router == router)>
                                {router.kind().replace('_', " ")}
                            </option>
                        }).collect_view()}
                    </select>
                </label>
                <NumberField label="Seed" testid="seed" get=|s| s.seed set=|s, v| s.seed = v/>
            </div>
            <Show when=move || !problems.get().is_empty()>
                <ul class="problems" data-testid="validation" role="alert">
                    {move || problems.get().into_iter().map(|problem| view! { <li>{problem}</li> }).collect_view()}
                </ul>
            </Show>
        </section>
    }
}
