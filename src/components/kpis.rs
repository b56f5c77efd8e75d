//! KPI cards: the headline numbers of the latest run and its workload.

use leptos::prelude::*;
use servesim_core::sim::RunReport;
use servesim_core::stats::Quantiles;

use crate::{format, use_app_state};
use servesim_core::workload::TraceSummary;

/// One card: a label and a value.
#[component]
pub(super) fn Kpi(
    label: &'static str,
    testid: &'static str,
    value: Signal<String>,
    /// Small monospace text, for identifiers such as digests.
    #[prop(optional)]
    small: bool,
) -> impl IntoView {
    view! {
        <div class="kpi">
            <span class="kpi-label">{label}</span>
            <span class="kpi-value" class:small=small data-testid=testid>{value}</span>
        </div>
    }
}

/// A latency in ms with one decimal, or a dash.
pub(super) fn latency_ms(ms: Option<f64>) -> String {
    ms.map_or_else(|| "–".to_owned(), |ms| format!("{ms:.1} ms"))
}

/// `p` of a latency distribution in ms with one decimal, or a dash.
pub(super) fn latency(quantiles: &Option<Quantiles>, p: fn(&Quantiles) -> f64) -> String {
    latency_ms(quantiles.as_ref().map(p))
}

/// Whether the run decoded speculatively (its summary states an acceptance).
fn speculative(report: &RunReport) -> bool {
    let speculative = &report.summary.speculative;
    speculative.acceptance_length > 0.0 || speculative.expected_accepted_tokens > 0.0
}

/// The TPOT speed-up over the same run without speculation and the draft tokens accepted per
/// verification, e.g. `1.62× (accept 1.47/step)`, or `off`.
fn spec_speedup(report: &RunReport) -> String {
    if !speculative(report) {
        return "off".to_owned();
    }
    let speculative = &report.summary.speculative;
    let speedup = speculative.tpot_speedup.map_or_else(|| "–".to_owned(), |speedup| format!("{speedup:.2}×"));
    format!("{speedup} (accept {:.2}/step)", speculative.mean_accepted_tokens)
}

/// Tokens per verification, measured and as the stated acceptance expects, or `off`.
fn acceptance_length(report: &RunReport) -> String {
    if !speculative(report) {
        return "off".to_owned();
    }
    let speculative = &report.summary.speculative;
    format!("{:.2} (expected {:.2})", speculative.acceptance_length, speculative.expected_accepted_tokens + 1.0)
}

/// The prefix-cache hit rate by tier, e.g. `12.3 % host · 5.9 % GPU` (the GPU's share is the
/// total's rest), or `off` without a host tier or without prefix caching.
fn host_hit_rate(report: &RunReport) -> String {
    let cache = &report.summary.prefix_cache;
    if report.summary.host_kv.is_none() || !cache.enabled {
        return "off".to_owned();
    }
    let gpu = (cache.hit_rate - cache.host_hit_rate).max(0.0);
    format!("{:.1} % host · {:.1} % GPU", cache.host_hit_rate * 100.0, gpu * 100.0)
}

/// The cards for the latest run and for its trace.
#[component]
pub fn Kpis() -> impl IntoView {
    let state = use_app_state();
    let run = move |show: fn(&RunReport) -> String| {
        Signal::derive(move || state.run_report.with(|report| report.as_ref().map_or_else(|| "–".to_owned(), show)))
    };
    let trace = move |show: fn(&TraceSummary) -> String| {
        Signal::derive(move || {
            state
                .trace_report
                .with(|report| report.as_ref().and_then(|r| r.summary.as_ref()).map_or_else(|| "–".to_owned(), show))
        })
    };
    let stale = move || {
        state.run_report.with(Option::is_some)
            && state.ran_scenario.with(|ran| ran.as_ref() != Some(&state.scenario.get()))
    };
    view! {
        <section class="panel kpis-panel">
            <Show when=stale>
                <p class="banner notice" data-testid="stale">"The scenario changed since this run. Press Run to update."</p>
            </Show>
            {move || state.run_error.get().map(|message| view! {
                <p class="banner error" data-testid="run-error" role="alert">"This scenario cannot run: " {message}</p>
            })}
            {move || state.run_report.with(|report| report.as_ref().and_then(|r| r.stopped_early.clone())).map(|reason| view! {
                <p class="banner error" data-testid="stopped-early" role="alert">"Stopped early: " {reason}</p>
            })}
            <h2>"Latency"</h2>
            <div class="kpis" data-testid="kpis-latency">
                <Kpi label="TTFT p50" testid="kpi-ttft-p50" value=run(|r| latency(&r.summary.ttft_ms, |q| q.p50))/>
                <Kpi label="TTFT p95" testid="kpi-ttft-p95" value=run(|r| latency(&r.summary.ttft_ms, |q| q.p95))/>
                <Kpi label="TTFT p99" testid="kpi-ttft-p99" value=run(|r| latency(&r.summary.ttft_ms, |q| q.p99))/>
                <Kpi label="TPOT p50" testid="kpi-tpot-p50" value=run(|r| latency(&r.summary.tpot_ms, |q| q.p50))/>
                <Kpi label="TPOT p95" testid="kpi-tpot-p95" value=run(|r| latency(&r.summary.tpot_ms, |q| q.p95))/>
                <Kpi label="TPOT p99" testid="kpi-tpot-p99" value=run(|r| latency(&r.summary.tpot_ms, |q| q.p99))/>
                <Kpi label="ITL p99" testid="kpi-itl-p99" value=run(|r| latency(&r.summary.itl_ms, |q| q.p99))/>
                <Kpi label="E2E p50" testid="kpi-e2e-p50" value=run(|r| latency(&r.summary.e2e_ms, |q| q.p50))/>
                <Kpi label="E2E p95" testid="kpi-e2e-p95" value=run(|r| latency(&r.summary.e2e_ms, |q| q.p95))/>
            </div>
            <h2>"Throughput and SLO"</h2>
            <div class="kpis" data-testid="kpis-throughput">
                <Kpi label="Output tokens/s" testid="kpi-throughput" value=run(|r| format!("{:.0}", r.summary.throughput.output_tokens_per_s))/>
                <Kpi label="Per GPU" testid="kpi-throughput-gpu" value=run(|r| format!("{:.0}", r.summary.throughput.output_tokens_per_s_per_gpu))/>
                <Kpi label="Requests/s" testid="kpi-rps" value=run(|r| format!("{:.3}", r.summary.throughput.requests_per_s))/>
                <Kpi label="Goodput (req/s)" testid="kpi-goodput" value=run(|r| format!("{:.3}", r.summary.goodput.requests_per_s))/>
                <Kpi label="SLO attainment" testid="kpi-slo" value=run(|r| format!("{:.1} %", 100.0 * r.summary.goodput.slo_attainment))/>
                <Kpi label="Load" testid="kpi-saturation"
                    value=run(|r| if r.summary.saturation.saturated { "saturated".to_owned() } else { "keeps up".to_owned() })/>
                <Kpi label="Completed / rejected" testid="kpi-completed"
                    value=run(|r| format!("{} / {}", format::thousands(r.summary.requests.completed), format::thousands(r.summary.requests.rejected)))/>
                <Kpi label="Preemptions" testid="kpi-preemptions" value=run(|r| format::thousands(r.summary.preemptions))/>
                <Kpi label="Prefix-cache hits" testid="kpi-prefix-hit-rate" value=run(|r| {
                    let cache = &r.summary.prefix_cache;
                    if cache.enabled { format!("{:.1} %", cache.hit_rate * 100.0) } else { "off".to_owned() }
                })/>
                <Kpi label="Prefix hits by tier" testid="kpi-host-hit-rate" value=run(host_hit_rate)/>
                <Kpi label="Stopped at max length / unfinished" testid="kpi-truncated"
                    value=run(|r| format!("{} / {}", format::thousands(r.summary.requests.truncated), format::thousands(r.summary.requests.unfinished)))/>
                <Kpi label="Speculative speed-up (TPOT)" testid="kpi-spec-speedup" value=run(spec_speedup)/>
                <Kpi label="Acceptance length (tokens / step)" testid="kpi-acceptance-length" value=run(acceptance_length)/>
                <Kpi label="KV per replica" testid="kpi-kv" value=run(|r| format!("{} tokens", format::thousands(r.kv_capacity_tokens_per_replica)))/>
                <Kpi label="GPU-hours" testid="kpi-gpu-hours" value=run(|r| format!("{:.2}", r.summary.gpu_hours))/>
                <Kpi label="Cost / M output tokens" testid="kpi-cost-per-million" value=run(|r| {
                    r.summary.cost.usd_per_million_output_tokens.map_or("set a price".to_owned(), |usd| format!("$ {usd:.2}"))
                })/>
                <Kpi label="Energy (board power)" testid="kpi-energy" value=run(|r| {
                    format!("{:.2} kWh · {:.2} tok/J", r.summary.cost.energy_kwh, r.summary.cost.output_tokens_per_joule)
                })/>
                <Kpi label="Run digest" testid="kpi-run-digest" small=true value=run(|r| format!("{:016x}", r.digest))/>
            </div>
            <h2>"Workload"</h2>
            <div class="kpis" data-testid="kpis-workload">
                <Kpi label="Requests" testid="kpi-requests" value=trace(|r| format::thousands(r.num_requests))/>
                <Kpi label="Span" testid="kpi-span" value=trace(|r| format::duration_s(r.span_s))/>
                <Kpi label="Mean rate" testid="kpi-rate"
                    value=trace(|r| r.mean_rate_per_s.map_or("–".to_owned(), |rate| format!("{rate:.2} req/s")))/>
                <Kpi label="Prompt tokens" testid="kpi-prompt-tokens" value=trace(|r| format::thousands(r.total_prompt_tokens))/>
                <Kpi label="Output tokens" testid="kpi-output-tokens" value=trace(|r| format::thousands(r.total_output_tokens))/>
                <Kpi label="Prompt p50 / p99" testid="kpi-prompt-pct"
                    value=trace(|r| format!("{:.0} / {:.0}", r.prompt_tokens.p50, r.prompt_tokens.p99))/>
                <Kpi label="Prefix reuse (ideal)" testid="kpi-reuse"
                    value=trace(|r| r.ideal_block_reuse.map_or("–".to_owned(), |reuse| format!("{:.1} %", reuse * 100.0)))/>
            </div>
        </section>
    }
}
