//! Where a request's time goes: each stage's mean and p95 over the completed requests (queue,
//! prefill, and with disaggregation the wait for the decode pool's room and the KV transfer,
//! then decode), as a table (a dash for a stage the run does not have) and as a bar of the
//! means.

use leptos::prelude::*;
use servesim_core::metrics::StageSummary;
use servesim_core::stats::Quantiles;

use super::kpis::latency;
use crate::use_app_state;

/// The stages in the order a request passes them: test id key, label and durations.
fn stage_rows(stages: &StageSummary) -> [(&'static str, &'static str, Option<Quantiles>); 5] {
    [
        ("queue", "queue", stages.queue_ms.clone()),
        ("prefill", "prefill", stages.prefill_ms.clone()),
        ("kv-wait", "KV wait (decode pool full)", stages.kv_wait_ms.clone()),
        ("transfer", "KV transfer", stages.transfer_ms.clone()),
        ("decode", "decode", stages.decode_ms.clone()),
    ]
}

/// The stage table and bar of the latest run.
#[component]
pub fn StageTable() -> impl IntoView {
    let state = use_app_state();
    let rows = move || state.run_report.with(|report| report.as_ref().map(|r| stage_rows(&r.summary.stages)));
    move || {
        rows().map(|rows| {
            // The bar's segments grow with the stage means (the browser shares out the width).
            let segments = rows
                .iter()
                .filter_map(|(key, label, stage)| {
                    let mean = stage.as_ref()?.mean;
                    (mean > 0.0).then(|| {
                        view! {
                            <span class=format!("segment stage-{key}") style=format!("flex-grow: {mean}")
                                title=format!("{label}: {mean:.1} ms")></span>
                        }
                    })
                })
                .collect_view();
            view! {
                <section class="panel" data-testid="stages-panel">
                    <h2>"Where the time goes (completed requests)"</h2>
                    <div class="stage-bar" data-testid="stage-bar">{segments}</div>
                    <table class="stages" data-testid="stages">
                        <thead><tr><th>"stage"</th><th>"mean"</th><th>"p95"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|(key, label, stage)| view! {
                                <tr data-testid=format!("stage-{key}")>
                                    <th><span class=format!("swatch stage-{key}")></span>{label}</th>
                                    <td data-testid=format!("stage-{key}-mean")>{latency(&stage, |q| q.mean)}</td>
                                    <td data-testid=format!("stage-{key}-p95")>{latency(&stage, |q| q.p95)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </section>
            }
        })
    }
}
