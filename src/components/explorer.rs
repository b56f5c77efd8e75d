//! The trace explorer: what the simulated requests look like beyond the workload's headline
//! numbers (the KPI cards) — format, rate over time and its peak, burstiness, length
//! histograms, sessions, classes, requests that wait on another.

use leptos::prelude::*;
use servesim_charts::histogram_series;
use servesim_core::stats::SeriesId;
use servesim_core::workload::TraceSummary;

use super::chart_canvas::ChartCanvas;
use crate::{format, use_app_state};

/// One row of the explorer's table.
fn row(label: &'static str, testid: &'static str, value: String) -> impl IntoView {
    view! {
        <tr><th>{label}</th><td data-testid=testid>{value}</td></tr>
    }
}

fn stats(summary: &TraceSummary) -> impl IntoView {
    let rate = |rate: Option<f64>| rate.map_or_else(|| "–".to_owned(), |r| format!("{r:.2} req/s"));
    let arrivals = if summary.has_arrivals { "from the workload" } else { "none: set arrivals under Traffic" };
    let sessions = match (summary.num_sessions, &summary.turns_per_session) {
        (Some(sessions), Some(turns)) => {
            format!(
                "{} sessions, {:.2} turns each on average (max {})",
                format::thousands(sessions),
                turns.mean,
                turns.max
            )
        }
        _ => "none".to_owned(),
    };
    let classes = if summary.classes.is_empty() {
        "one".to_owned()
    } else {
        summary
            .classes
            .iter()
            .map(|class| format!("{} {}", class.name, format::thousands(class.num_requests)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    view! {
        <table class="explorer-stats">
            <tbody>
                {row("Format", "explorer-format", summary.format.to_string())}
                {row("Arrival times", "explorer-arrivals", arrivals.to_owned())}
                {row("Peak rate", "explorer-peak-rate", rate(summary.peak_rate_per_s))}
                {row("Burstiness (CV of gaps)", "explorer-cv", summary.gap_cv.map_or_else(|| "–".to_owned(), |cv| format!("{cv:.2}")))}
                {row("Waiting on another request", "explorer-chained", format::thousands(summary.num_chained_requests))}
                {row("Output tokens p50 / p99", "explorer-output", format!("{:.0} / {:.0}", summary.output_tokens.p50, summary.output_tokens.p99))}
                {row("Sessions", "explorer-sessions", sessions)}
                {row("Classes", "explorer-classes", classes)}
            </tbody>
        </table>
    }
}

/// The explorer panel for the latest run's requests.
#[component]
pub fn TraceExplorer() -> impl IntoView {
    let state = use_app_state();
    let summary = move || state.trace_report.with(|report| report.as_ref().and_then(|r| r.summary.clone()));
    let arrivals = Signal::derive(move || summary().map(|s| vec![s.arrival_rate]).unwrap_or_default());
    let lengths = Signal::derive(move || {
        summary()
            .map(|s| {
                vec![
                    histogram_series(SeriesId::PromptLengths, &s.prompt_histogram),
                    histogram_series(SeriesId::OutputLengths, &s.output_histogram),
                ]
            })
            .unwrap_or_default()
    });
    view! {
        <section class="panel explorer" data-testid="explorer">
            <h2>"Trace explorer"</h2>
            {move || summary().map(|s| stats(&s))}
            <div class="charts">
                <ChartCanvas testid="chart-arrivals".to_owned() title="Arrival rate" x_label="time (s)" y_label="requests / s"
                    series=arrivals/>
                <ChartCanvas testid="chart-lengths".to_owned() title="Length distribution" x_label="tokens"
                    y_label="share of requests" series=lengths log_x=true/>
            </div>
        </section>
    }
}
