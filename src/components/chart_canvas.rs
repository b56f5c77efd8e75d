//! Charts on `<canvas>`: [`PlotCanvas`] paints any `servesim-charts` drawing function, and
//! [`ChartCanvas`] wraps it for a line chart of a run's series.

use leptos::prelude::*;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use servesim_charts::{draw_line_chart, report_charts, ChartError, LineChart};
use servesim_core::stats::{Series, SeriesId};

use crate::use_app_state;

/// A canvas of `width` × `height` pixels that `draw` paints whenever the signals it reads
/// change; `draw` returns `None` to leave the canvas as it is.
#[component]
pub fn PlotCanvas<D>(#[prop(into)] testid: String, width: u32, height: u32, draw: D) -> impl IntoView
where
    D: Fn(&DrawingArea<CanvasBackend, Shift>) -> Option<Result<(), ChartError>> + 'static,
{
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let draw_error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let Some(canvas) = canvas.get() else { return };
        let Some(backend) = CanvasBackend::with_canvas_object(canvas) else {
            return draw_error.set(Some("this browser gives no 2-D canvas".to_owned()));
        };
        if let Some(drawn) = draw(&backend.into_drawing_area()) {
            draw_error.set(drawn.err().map(|e| e.to_string()));
        }
    });
    view! {
        <div class="chart">
            <canvas node_ref=canvas data-testid=testid width=width height=height></canvas>
            {move || draw_error.get().map(|message| view! { <p class="banner error">{message}</p> })}
        </div>
    }
}

/// A line chart redrawn whenever `series` changes.
#[component]
pub fn ChartCanvas(
    testid: String,
    title: &'static str,
    x_label: &'static str,
    y_label: &'static str,
    series: Signal<Vec<Series>>,
    /// Legend texts replacing series labels (none by default).
    #[prop(optional)]
    legend: &'static [(SeriesId, &'static str)],
    /// A logarithmic x axis.
    #[prop(optional)]
    log_x: bool,
) -> impl IntoView {
    // Until the first data arrives the canvas stays blank: drawing eight sets of empty axes
    // would hold up the page's first paint and its first run.
    let drawn = StoredValue::new(false);
    let draw = move |area: &DrawingArea<CanvasBackend, Shift>| {
        series.with(|series| {
            if series.is_empty() && !drawn.get_value() {
                return None;
            }
            drawn.set_value(true);
            Some(draw_line_chart(area, &LineChart { title, x_label, y_label, series, log_x, legend }))
        })
    };
    view! { <PlotCanvas testid width=620 height=300 draw/> }
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
    // An optional chart (the acceptance length, with speculative decoding only; the pools and
    // KV links of a disaggregated run) is left out while the run has no series for it.
    let charts = report_charts(None).into_iter().enumerate().map(|(index, chart)| {
        let series = Signal::derive(move || report_series.with(|all| all[index].clone()));
        let shown = move || !chart.optional || series.with(|series| !series.is_empty());
        view! {
            <Show when=shown>
                <ChartCanvas testid=format!("chart-{}", chart.id) title=chart.title x_label=chart.x_label
                    y_label=chart.y_label series legend=chart.legend log_x=chart.log_x/>
            </Show>
        }
    });
    view! {
        <section class="panel charts">
            {charts.collect_view()}
        </section>
    }
}
