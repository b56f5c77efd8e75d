//! "Prefix hit rate by router": the scenario run once per router kind in the worker (only the
//! router's kind changes), with each router's prefix-cache hit rate and p95 TTFT and TPOT.

use leptos::prelude::*;
use servesim_core::scenario::Scenario;

use super::kpis::latency_ms;
use crate::protocol::RouterRow;
use crate::{use_app_state, RunStatus};

/// Whether `compared` is `current` but for the router's kind (which the comparison varies).
fn same_but_router(compared: &Scenario, current: &Scenario) -> bool {
    let mut compared = compared.clone();
    compared.router.kind = current.router.kind;
    compared == *current
}

/// The table of a comparison's rows; the scenario's own router is marked.
#[component]
fn ComparisonTable(rows: Vec<RouterRow>) -> impl IntoView {
    let state = use_app_state();
    view! {
        <table class="replicas" data-testid="router-comparison">
            <thead><tr><th>"router"</th><th>"prefix-cache hits"</th><th>"TTFT p95"</th><th>"TPOT p95"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|row| {
                    let kind = row.router.kind();
                    view! {
                        <tr data-testid=format!("router-row-{kind}")
                            class:current=move || state.scenario.with(|s| s.router.kind == row.router)>
                            <td>{kind.replace('_', " ")}</td>
                            <td data-testid=format!("router-hit-rate-{kind}")>{format!("{:.1} %", row.prefix_hit_rate * 100.0)}</td>
                            <td data-testid=format!("router-ttft-p95-{kind}")>{latency_ms(row.ttft_p95_ms)}</td>
                            <td data-testid=format!("router-tpot-p95-{kind}")>{latency_ms(row.tpot_p95_ms)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The Compare routers button and the last comparison.
#[component]
pub fn RouterComparisonPanel() -> impl IntoView {
    let state = use_app_state();
    let busy = move || state.status.with(RunStatus::is_busy);
    let invalid = move || state.scenario.with(|s| s.validate().is_err());
    let stale = move || {
        state.router_comparison.with(|comparison| {
            comparison.as_ref().is_some_and(|c| state.scenario.with(|s| !same_but_router(&c.scenario, s)))
        })
    };
    view! {
        <section class="panel" data-testid="router-comparison-panel">
            <h2>"Prefix hit rate by router"</h2>
            <div class="buttons">
                <button data-testid="compare-routers" disabled=move || busy() || invalid()
                    on:click=move |_| state.compare_routers()>"Compare routers"</button>
            </div>
            <p class="hint">"Runs this scenario once per router, changing only the router (Cancel stops it)."</p>
            <Show when=stale>
                <p class="banner notice" data-testid="router-comparison-stale">
                    "The scenario changed since this comparison. Press Compare routers to update."
                </p>
            </Show>
            {move || state.router_comparison.get().map(|comparison| match comparison.rows {
                Ok(rows) => view! { <ComparisonTable rows/> }.into_any(),
                Err(message) => view! {
                    <p class="banner error" data-testid="router-comparison-error" role="alert">{message}</p>
                }.into_any(),
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use servesim_core::scenario::RouterKind;

    use super::*;

    #[test]
    fn a_comparison_stays_current_while_only_the_router_kind_changes() {
        let compared = Scenario::reference();
        let mut current = compared.clone();
        current.router.kind = RouterKind::KvAware;
        assert!(same_but_router(&compared, &current));
        current.router.signal_delay_ms = 50.0;
        assert!(!same_but_router(&compared, &current));
    }
}
