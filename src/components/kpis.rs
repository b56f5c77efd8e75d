//! KPI cards: the headline numbers of the latest report.

use leptos::prelude::*;

use crate::{format, use_app_state};

/// One card: a label and a value.
#[component]
fn Kpi(
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

/// The cards for the latest trace report.
#[component]
pub fn Kpis() -> impl IntoView {
    let state = use_app_state();
    let field = move |show: fn(&crate::protocol::TraceReport) -> String| {
        Signal::derive(move || state.report.with(|report| report.as_ref().map_or_else(|| "–".to_owned(), show)))
    };
    view! {
        <section class="panel kpis" data-testid="kpis">
            <Kpi label="Requests" testid="kpi-requests" value=field(|r| format::thousands(r.summary.num_requests))/>
            <Kpi label="Span" testid="kpi-span" value=field(|r| format::duration_s(r.summary.span_s))/>
            <Kpi label="Mean rate" testid="kpi-rate"
                value=field(|r| r.summary.mean_rate_per_s.map_or("–".to_owned(), |rate| format!("{rate:.2} req/s")))/>
            <Kpi label="Prompt tokens" testid="kpi-prompt-tokens" value=field(|r| format::thousands(r.summary.total_prompt_tokens))/>
            <Kpi label="Output tokens" testid="kpi-output-tokens" value=field(|r| format::thousands(r.summary.total_output_tokens))/>
            <Kpi label="Prompt p50 / p99" testid="kpi-prompt-pct"
                value=field(|r| format!("{:.0} / {:.0}", r.summary.prompt_tokens.p50, r.summary.prompt_tokens.p99))/>
            <Kpi label="Prefix reuse (ideal)" testid="kpi-reuse"
                value=field(|r| r.summary.ideal_block_reuse.map_or("–".to_owned(), |reuse| format!("{:.1} %", reuse * 100.0)))/>
            <Kpi label="Digest" testid="kpi-digest" small=true value=field(|r| format!("{:016x}", r.summary.digest))/>
        </section>
    }
}
