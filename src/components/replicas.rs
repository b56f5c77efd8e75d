//! The per-replica view: each replica's prefix-cache hit rate.

use leptos::prelude::*;

use crate::use_app_state;

/// A table row per replica with its prefix-cache hit rate (what the summary reports; the
/// component only formats it).
#[component]
pub fn ReplicaTable() -> impl IntoView {
    let state = use_app_state();
    let rows = move || {
        state.run_report.with(|report| {
            report
                .as_ref()
                .filter(|r| r.summary.prefix_cache.enabled)
                .map(|r| r.summary.prefix_cache.per_replica_hit_rate.clone())
                .unwrap_or_default()
        })
    };
    move || {
        let rows = rows();
        (!rows.is_empty()).then(|| {
            view! {
                <section class="panel" data-testid="replica-hit-rates">
                    <h2>"Prefix-cache hits per replica"</h2>
                    <table class="replicas">
                        <thead><tr><th>"replica"</th><th>"prompt tokens served from cache"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().enumerate().map(|(index, rate)| view! {
                                <tr><td>{index}</td><td data-testid=format!("replica-hit-rate-{index}")>{format!("{:.1} %", rate * 100.0)}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </section>
            }
        })
    }
}
