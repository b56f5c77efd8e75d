//! The prefill/decode view of a disaggregated run: its KV transfers (count, time, size, wait
//! for the decode pool, link utilisation) and its pools (replicas, GPUs, KV capacity). The P/D
//! charts are among the run's charts ([`super::ChartPanel`]).

use leptos::prelude::*;
use servesim_core::metrics::KvTransferSummary;

use super::kpis::{latency, Kpi};
use crate::{format, use_app_state};

/// The transfer cards and the pool table, shown for disaggregated runs only.
#[component]
pub fn PdView() -> impl IntoView {
    let state = use_app_state();
    let disaggregated =
        move || state.run_report.with(|report| report.as_ref().is_some_and(|r| r.summary.kv_transfer.is_some()));
    let transfer = move |show: fn(&KvTransferSummary) -> String| {
        Signal::derive(move || {
            state.run_report.with(|report| {
                report.as_ref().and_then(|r| r.summary.kv_transfer.as_ref()).map_or_else(|| "–".to_owned(), show)
            })
        })
    };
    let pools = move || state.run_report.with(|report| report.as_ref().map(|r| r.pools.clone()).unwrap_or_default());
    view! {
        <Show when=disaggregated>
            <section class="panel kpis-panel" data-testid="pd-view">
                <h2>"Prefill / decode: KV transfers"</h2>
                <div class="kpis" data-testid="kpis-transfer">
                    <Kpi label="Transfers / local prefills" testid="kpi-transfers"
                        value=transfer(|t| format!("{} / {}", format::thousands(t.num_transfers), format::thousands(t.num_local_prefills)))/>
                    <Kpi label="Transfer time p95" testid="kpi-transfer-p95" value=transfer(|t| latency(&t.time_ms, |q| q.p95))/>
                    <Kpi label="Wait for decode room p95" testid="kpi-kv-wait-p95" value=transfer(|t| latency(&t.wait_ms, |q| q.p95))/>
                    <Kpi label="KV per transfer (mean)" testid="kpi-transfer-bytes"
                        value=transfer(|t| t.bytes.as_ref().map_or_else(|| "–".to_owned(), |bytes| format::megabytes(bytes.mean)))/>
                    <Kpi label="Link utilisation" testid="kpi-link-utilization"
                        value=transfer(|t| format!("{:.1} %", t.link_utilization * 100.0))/>
                </div>
                <h2>"Pools"</h2>
                <table class="replicas" data-testid="pools">
                    <thead><tr><th>"pool"</th><th>"replicas"</th><th>"GPUs each"</th><th>"GPU"</th><th>"KV per replica (tokens)"</th></tr></thead>
                    <tbody>
                        {move || pools().into_iter().map(|pool| {
                            let role = pool.role.name();
                            view! {
                                <tr data-testid=format!("pool-{role}")>
                                    <td>{role}</td>
                                    <td data-testid=format!("pool-{role}-replicas")>{pool.replicas}</td>
                                    <td>{pool.gpus_per_replica}</td>
                                    <td data-testid=format!("pool-{role}-gpu")>{pool.gpu}</td>
                                    <td>{format::thousands(pool.kv_capacity_tokens_per_replica)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        </Show>
    }
}
