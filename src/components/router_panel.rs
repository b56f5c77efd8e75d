//! The router section of the scenario editor: the policy (and a disaggregated deployment's
//! decode policy), how stale its load signals are, and the KV-aware router's knobs.

use leptos::prelude::*;
use servesim_core::scenario::{RouterKind, Scenario};

use super::deployment_panel::is_disaggregated;
use super::fields::{InputField, SelectField};
use crate::syntax::decimal;
use crate::use_app_state;

/// The decode router select's value for "the same policy as the prefill router".
const SAME_ROUTER: &str = "";

/// Every router kind, after `first` when given.
fn router_options(first: Option<(&str, &str)>) -> Vec<(String, String)> {
    let first = first.map(|(value, text)| (value.to_owned(), text.to_owned()));
    first.into_iter().chain(RouterKind::ALL.iter().map(|r| (r.kind().to_owned(), r.kind().replace('_', " ")))).collect()
}

/// Whether either router is the KV-aware one (whose knobs are then shown).
fn kv_aware(scenario: &Scenario) -> bool {
    let router = &scenario.router;
    router.kind == RouterKind::KvAware || router.decode_kind == Some(RouterKind::KvAware)
}

/// The router fields.
#[component]
pub fn RouterPanel() -> impl IntoView {
    let state = use_app_state();
    let disaggregated = Memo::new(move |_| state.scenario.with(is_disaggregated));
    let kv_aware = Memo::new(move |_| state.scenario.with(kv_aware));
    view! {
        <h2>"Router"</h2>
        <div class="fields" data-testid="router-fields">
            <SelectField label="Router" testid="router" options=router_options(None)
                get=|s| s.router.kind.kind().to_owned()
                set=|s, v| s.router.kind = RouterKind::from_kind(v).unwrap_or_default()/>
            <Show when=move || disaggregated.get()>
                <SelectField label="Decode router" testid="decode-router"
                    options=router_options(Some((SAME_ROUTER, "same as prefill")))
                    get=|s| s.router.decode_kind.map_or(SAME_ROUTER, RouterKind::kind).to_owned()
                    set=|s, v| s.router.decode_kind = RouterKind::from_kind(v)/>
            </Show>
            <InputField label="Load signal delay (ms; 0: live)" testid="signal-delay-ms"
                get=|s| s.router.signal_delay_ms.to_string()
                set=|s, v| { s.router.signal_delay_ms = decimal(v)?; Ok(()) }/>
            <Show when=move || kv_aware.get()>
                <InputField label="KV overlap weight" testid="kv-overlap-weight"
                    get=|s| s.router.kv_overlap_weight.to_string()
                    set=|s, v| { s.router.kv_overlap_weight = decimal(v)?; Ok(()) }/>
                <InputField label="Temperature (0: cheapest)" testid="router-temperature"
                    get=|s| s.router.temperature.to_string()
                    set=|s, v| { s.router.temperature = decimal(v)?; Ok(()) }/>
            </Show>
        </div>
    }
}
