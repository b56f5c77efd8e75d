//! Charts on `<canvas>`: one component wraps any `servesim-charts` line chart.

use leptos::prelude::*;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use servesim_charts::{draw_line_chart, report_charts, LineChart};
use servesim_core::stats::Series;

use crate::use_app_state;

/// A canvas redrawn whenever `series` changes.
#[component]
pub fn ChartCanvas(
    testid: String,
    title: &'static str,
    x_label: &'static str,
    y_label: &'static str,
    series: Signal<Vec<Series>>,
    /// A logarithmic x axis.
    #[prop(optional)]
    log_x: bool,
) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let draw_error = RwSignal::new(None::<String>);
    // Until the first data arrives the canvas stays blank: drawing eight sets of empty axes
    // would hold up the page's first paint and its first run.
    let drawn = StoredValue::new(false);
    Effect::new(move |_| {
        let series = series.get();
        if series.is_empty() && !drawn.get_value() {
            return;
        }
        let Some(canvas) = canvas.get() else { return };
        drawn.set_value(true);
        let Some(backend) = CanvasBackend::with_canvas_object(canvas) else {
            return draw_error.set(Some("this browser gives no 2-D canvas".to_owned()));
        };
        let chart = LineChart { title, x_label, y_label, series: &series, log_x };
        draw_error.set(draw_line_chart(&backend.into_drawing_area(), &chart).err().map(|e| e.to_string()));
    });
    view! {
        <div class="chart">
            <canvas node_ref=canvas data-testid=testid width="620" height="300"></canvas>
            {move || draw_error.get().map(|message| view! { <p class="banner error">{message}</p> })}
        </div>
    }
}

/// The run's charts.
#[component]
pub fn ChartPanel() -> impl IntoView {
    let state = use_app_state();
    let report_series = Memo::new(move |_| {
        state
            .run_report
            .with(|report| report_charts(report.as_ref()).into_iter().map(|chart| chart.series).collect::<Vec<_>>())
    });
    let charts = report_charts(None).into_iter().enumerate().map(|(index, chart)| {
        let series = Signal::derive(move || report_series.with(|all| all[index].clone()));
        view! {
            <ChartCanvas testid=format!("chart-{}", chart.id) title=chart.title x_label=chart.x_label y_label=chart.y_label
                series log_x=chart.log_x/>
        }
    });
    view! {
        <section class="panel charts">
            {charts.collect_view()}
        </section>
    }
}
