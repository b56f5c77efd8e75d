//! servesim-charts: the charts, as plotters drawing functions generic over the backend.
//!
//! Each `draw_*` function takes a plotters [`DrawingArea`] and data from `servesim-core`'s
//! result types, and draws one complete chart into it: line charts of a run's series
//! ([`draw_line_chart`]) and a replica's roofline ([`draw_roofline`]). The browser app passes a canvas-backed
//! area, the CLI and the tests an SVG-backed one, so every chart is tested natively as SVG text.
//!
//! # Example
//!
//! ```
//! use plotters::prelude::*;
//! use servesim_charts::{draw_line_chart, LineChart};
//! use servesim_core::stats::{Series, SeriesId};
//!
//! let series = Series { id: SeriesId::ArrivalsPerS, points: vec![(0.0, 1.0), (1.0, 3.0)] };
//! let mut svg = String::new();
//! {
//!     let area = SVGBackend::with_string(&mut svg, (640, 320)).into_drawing_area();
//!     let chart = LineChart { title: "Arrival rate", x_label: "time (s)", y_label: "req/s",
//!                             series: std::slice::from_ref(&series), log_x: false, legend: &[] };
//!     draw_line_chart(&area, &chart).unwrap();
//! }
//! assert!(svg.contains("Arrival rate"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use servesim_core::perf::Roofline;
use servesim_core::sim::RunReport;
use servesim_core::stats::{Series, SeriesId};
use servesim_core::workload::LengthHistogram;

/// Colours of successive series (colour-blind-safe Okabe–Ito palette).
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
];

/// A drawing failure, with the backend's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartError(pub String);

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chart drawing failed: {}", self.0)
    }
}

impl std::error::Error for ChartError {}

fn chart_error<E: std::fmt::Display>(error: E) -> ChartError {
    ChartError(error.to_string())
}

/// The legend of the series drawn with labels, in the lower right corner.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    context: &mut ChartContext<'a, DB, CT>,
) -> Result<(), ChartError> {
    context
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(chart_error)
}

/// A line chart of one or more series over a shared x axis.
#[derive(Clone, Copy, Debug)]
pub struct LineChart<'a> {
    /// Caption above the plot.
    pub title: &'a str,
    /// X-axis description, with unit.
    pub x_label: &'a str,
    /// Y-axis description, with unit.
    pub y_label: &'a str,
    /// The series; each gets a colour from [`PALETTE`] and a legend entry.
    pub series: &'a [Series],
    /// Whether the x axis is logarithmic (points with x ≤ 0 are then left out).
    pub log_x: bool,
    /// Legend texts that replace [`Series::label`] for these series while the chart draws more
    /// than one series, to tell them apart (the GPU's KV use next to the host tier's).
    pub legend: &'a [(SeriesId, &'a str)],
}

impl LineChart<'_> {
    /// The legend text of `series`: this chart's own for its id when the chart draws several
    /// series, otherwise the series' label.
    pub fn label_of(&self, series: &Series) -> String {
        let own = self.legend.iter().find(|(id, _)| *id == series.id).filter(|_| self.series.len() > 1);
        own.map_or(series.label(), |(_, text)| text).to_owned()
    }
}

/// One chart of a run report: an id (used for file names and `data-testid`s), labels and its
/// series.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportChart {
    /// Stable id, e.g. `"ttft-cdf"`.
    pub id: &'static str,
    /// Caption.
    pub title: &'static str,
    /// X-axis label.
    pub x_label: &'static str,
    /// Y-axis label.
    pub y_label: &'static str,
    /// The series drawn.
    pub series: Vec<Series>,
    /// Whether the x axis is logarithmic (latency CDFs, whose tails span decades).
    pub log_x: bool,
    /// Whether the chart only exists for some runs (the acceptance length, measured only with
    /// speculative decoding; the pools and KV links of a disaggregated run): it is shown only
    /// when its series are present.
    pub optional: bool,
    /// Legend texts replacing series labels ([`LineChart::legend`]).
    pub legend: &'static [(SeriesId, &'static str)],
}

impl ReportChart {
    /// Whether to show the chart: always, unless it is [`ReportChart::optional`] and has no
    /// series.
    pub fn is_shown(&self) -> bool {
        !self.optional || !self.series.is_empty()
    }

    /// The chart as a [`LineChart`] to draw.
    pub fn line_chart(&self) -> LineChart<'_> {
        LineChart {
            title: self.title,
            x_label: self.x_label,
            y_label: self.y_label,
            series: &self.series,
            log_x: self.log_x,
            legend: self.legend,
        }
    }
}

/// The charts of a run, in display order: TTFT, TPOT and E2E CDFs, throughput, queue depth,
/// KV-cache use (the GPUs' and, with a host KV tier, the host tier's, each as a share of its
/// own blocks), prefix-cache hits (all tiers' and, with a host tier, the share it served),
/// (with speculative decoding; [`ReportChart::optional`]) the acceptance length over time and
/// (disaggregated runs only; optional too) each pool's queue, each pool's KV use with the
/// prefill blocks held while the decode pool has no room, and the transfers in flight with the
/// KV links' utilisation.
/// Without a report the charts come with no series (empty axes). The list is the same for every report, so a chart's index names it.
pub fn report_charts(report: Option<&RunReport>) -> Vec<ReportChart> {
    let pick = |list: Option<&Vec<Series>>, ids: &[SeriesId]| {
        list.into_iter().flatten().filter(|s| ids.contains(&s.id)).cloned().collect::<Vec<_>>()
    };
    let cdf = |id: SeriesId| pick(report.map(|r| &r.latency_cdfs), &[id]);
    let series = |ids: &[SeriesId]| pick(report.map(|r| &r.series), ids);
    let cdf_chart = |id: &'static str, title: &'static str, x_label: &'static str, series: SeriesId| ReportChart {
        id,
        title,
        x_label,
        y_label: "fraction of requests",
        log_x: true,
        series: cdf(series),
        optional: false,
        legend: &[],
    };
    let time_chart = |id: &'static str, title: &'static str, y_label: &'static str, ids: &[SeriesId]| ReportChart {
        id,
        title,
        x_label: "time (s)",
        y_label,
        log_x: false,
        series: series(ids),
        optional: false,
        legend: &[],
    };
    vec![
        cdf_chart("ttft-cdf", "Time to first token (CDF)", "TTFT (ms)", SeriesId::TtftCdf),
        cdf_chart("tpot-cdf", "Time per output token (CDF)", "TPOT (ms)", SeriesId::TpotCdf),
        cdf_chart("e2e-cdf", "End-to-end latency (CDF)", "E2E (ms)", SeriesId::E2eCdf),
        time_chart("throughput", "Output throughput", "tokens / s", &[SeriesId::OutputTokensPerS]),
        time_chart("queue", "Requests running and waiting", "requests", &[SeriesId::Running, SeriesId::Waiting]),
        ReportChart {
            legend: &[(SeriesId::KvCacheUsedPercent, "GPU KV cache used (%)")],
            ..time_chart(
                "kv-cache",
                "KV cache use",
                "% of each tier's blocks",
                &[SeriesId::KvCacheUsedPercent, SeriesId::HostKvUsedPercent],
            )
        },
        ReportChart {
            legend: &[(SeriesId::PrefixCacheHitPercent, "all hits, GPU and host (% of prompt tokens)")],
            ..time_chart(
                "prefix-cache",
                "Prefix-cache hits (prompt tokens served from cache)",
                "% of prompt tokens",
                &[SeriesId::PrefixCacheHitPercent, SeriesId::HostCacheHitPercent],
            )
        },
        ReportChart {
            optional: true,
            ..time_chart(
                "acceptance",
                "Speculative acceptance length",
                "tokens / verification",
                &[SeriesId::AcceptanceLength],
            )
        },
        ReportChart {
            optional: true,
            ..time_chart(
                "pool-queues",
                "Pool queues (prefill and decode)",
                "requests waiting",
                &[SeriesId::PrefillWaiting, SeriesId::DecodeWaiting],
            )
        },
        ReportChart {
            optional: true,
            ..time_chart(
                "pool-kv",
                "Pool KV use",
                "% of the pool's KV blocks",
                &[SeriesId::PrefillKvUsedPercent, SeriesId::DecodeKvUsedPercent, SeriesId::PrefillKvHeldPercent],
            )
        },
        ReportChart {
            optional: true,
            ..time_chart(
                "kv-links",
                "KV links (prefill to decode)",
                "transfers · % busy",
                &[SeriesId::TransfersInFlight, SeriesId::KvLinkUtilizationPercent],
            )
        },
    ]
}

/// The range covering every series' values (widened when flat), starting y at zero.
fn axis_ranges(series: &[Series]) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let widen = |(lo, hi): (f64, f64)| if hi > lo { lo..hi } else { lo - 0.5..hi + 0.5 };
    let merge = |a: (f64, f64), b: (f64, f64)| (a.0.min(b.0), a.1.max(b.1));
    let x = series.iter().filter_map(Series::x_range).reduce(merge).unwrap_or((0.0, 1.0));
    let y = series.iter().filter_map(Series::y_range).reduce(merge).unwrap_or((0.0, 1.0));
    let y = (y.0.min(0.0), if y.1 > 0.0 { y.1 * 1.05 } else { y.1 });
    (widen(x), widen(y))
}

/// An axis tick label: whole numbers without decimals, others with up to three significant
/// digits after the point (`500`, `2.5`, `0.125`).
fn tick_label(value: &f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A length histogram as a step outline for a line chart on a log x axis: each bin
/// `[edge, next edge)` is a flat segment at the share of requests it holds.
pub fn histogram_series(id: SeriesId, histogram: &LengthHistogram) -> Series {
    let total = histogram.counts.iter().sum::<u64>().max(1) as f64;
    let points = histogram
        .counts
        .iter()
        .enumerate()
        .flat_map(|(bin, &count)| {
            let share = count as f64 / total;
            [(histogram.edges[bin] as f64, share), (histogram.edges[bin + 1] as f64, share)]
        })
        .collect();
    Series { id, points }
}

/// Draws `chart` into `area`, filling it (white background, caption, axes, grid, legend).
/// With [`LineChart::log_x`] the x axis is logarithmic over the positive x values.
///
/// # Errors
///
/// Returns a [`ChartError`] when the backend fails (e.g. a canvas without a 2-D context).
pub fn draw_line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &LineChart<'_>,
) -> Result<(), ChartError> {
    area.fill(&WHITE).map_err(chart_error)?;
    let (x_range, y_range) = axis_ranges(chart.series);
    if chart.log_x {
        let low = chart
            .series
            .iter()
            .flat_map(|s| &s.points)
            .map(|&(x, _)| x)
            .filter(|&x| x > 0.0)
            .fold(f64::INFINITY, f64::min);
        let low = if low.is_finite() { low } else { 1.0 };
        let high = x_range.end.max(low * 10.0);
        draw_in(area, chart, (low..high).log_scale(), y_range)
    } else {
        draw_in(area, chart, x_range, y_range)
    }
}

/// The body of [`draw_line_chart`] for either kind of x axis.
fn draw_in<DB, X>(
    area: &DrawingArea<DB, Shift>,
    chart: &LineChart<'_>,
    x_axis: X,
    y_range: std::ops::Range<f64>,
) -> Result<(), ChartError>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut context = ChartBuilder::on(area)
        .margin(12)
        .margin_right(28)
        .caption(chart.title, ("sans-serif", 18))
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x_axis, y_range)
        .map_err(chart_error)?;
    context
        .configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(chart_error)?;
    for (index, series) in chart.series.iter().enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        let points = series.points.iter().copied().filter(|&(x, _)| !chart.log_x || x > 0.0);
        context
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(chart_error)?
            .label(chart.label_of(series))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    if !chart.series.is_empty() {
        draw_legend(&mut context)?;
    }
    area.present().map_err(chart_error)
}

/// Colour of the roof in [`draw_roofline`].
const ROOF_COLOR: RGBColor = RGBColor(60, 60, 60);

/// FLOP/s per unit of the roofline's y axis (TFLOP/s).
const TERA: f64 = 1e12;

/// The power of ten at or below `value`, with a quarter of a decade of margin.
fn decade_below(value: f64) -> f64 {
    10f64.powf((value.log10() - 0.25).floor())
}

/// The power of ten at or above `value`, with a quarter of a decade of margin.
fn decade_above(value: f64) -> f64 {
    10f64.powf((value.log10() + 0.25).ceil())
}

/// Draws `roofline` into `area` on log-log axes: x the arithmetic intensity (FLOP per byte of
/// HBM traffic), y the attained TFLOP/s. The roof is `min(peak, intensity × bandwidth)`, a
/// line bending at the ridge point (`peak / bandwidth`); the prefill and the decode step are
/// labelled points. The axes span whole decades around the points and the ridge.
///
/// # Errors
///
/// Returns a [`ChartError`] when the backend fails.
pub fn draw_roofline<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, roofline: &Roofline) -> Result<(), ChartError> {
    area.fill(&WHITE).map_err(chart_error)?;
    let (peak, bandwidth) = (roofline.peak_flops, roofline.hbm_bandwidth);
    let ridge = peak / bandwidth;
    let roof_at = |intensity: f64| (intensity * bandwidth).min(peak) / TERA;
    let usable = |value: f64| value.is_finite() && value > 0.0;
    let steps: Vec<(&str, f64, f64)> = [("prefill", roofline.prefill), ("decode", roofline.decode)]
        .into_iter()
        .filter(|(_, point)| usable(point.intensity) && usable(point.attained_flops))
        .map(|(label, point)| (label, point.intensity, point.attained_flops / TERA))
        .collect();
    let intensities = steps.iter().map(|&(_, x, _)| x).chain([ridge]).filter(|&x| usable(x));
    let (x_min, x_max) = intensities.fold((f64::INFINITY, 0.0_f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (x_low, x_high) = if x_max > 0.0 { (decade_below(x_min), decade_above(x_max)) } else { (0.1, 1e4) };
    let y_min =
        steps.iter().map(|&(_, _, y)| y).chain([roof_at(x_low)]).filter(|&y| usable(y)).fold(f64::INFINITY, f64::min);
    let y_max = if usable(peak) { peak / TERA } else { 1e3 };
    let y_low = if y_min.is_finite() { decade_below(y_min) } else { y_max / 1e4 };
    let mut context = ChartBuilder::on(area)
        .margin(12)
        .margin_right(28)
        .caption("Roofline (per GPU)", ("sans-serif", 18))
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d((x_low..x_high).log_scale(), (y_low..decade_above(y_max)).log_scale())
        .map_err(chart_error)?;
    context
        .configure_mesh()
        .x_desc("arithmetic intensity (FLOP/byte)")
        .y_desc("attained TFLOP/s")
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(chart_error)?;
    if usable(ridge) {
        let roof = [(x_low, roof_at(x_low)), (ridge, peak / TERA), (x_high, peak / TERA)];
        context
            .draw_series(LineSeries::new(roof, ROOF_COLOR.stroke_width(2)))
            .map_err(chart_error)?
            .label(format!("roof: {:.0} TFLOP/s peak, {:.2} TB/s", peak / TERA, bandwidth / TERA))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], ROOF_COLOR.stroke_width(2)));
    }
    let points = steps.iter().zip(PALETTE).map(|(&(label, x, y), color)| {
        EmptyElement::at((x, y))
            + Circle::new((0, 0), 5, color.filled())
            + Text::new(label, (8, -16), ("sans-serif", 14))
    });
    context.draw_series(points).map_err(chart_error)?;
    draw_legend(&mut context)?;
    area.present().map_err(chart_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg_of(chart: &LineChart<'_>) -> String {
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, (800, 360)).into_drawing_area();
            draw_line_chart(&area, chart).unwrap();
        }
        svg
    }

    #[test]
    fn line_chart_svg_has_caption_axis_labels_legend_and_one_polyline_per_series() {
        let arrivals = Series { id: SeriesId::ArrivalsPerS, points: vec![(0.0, 2.0), (30.0, 5.0), (60.0, 3.0)] };
        let completions = Series { id: SeriesId::CompletionsPerS, points: vec![(0.0, 0.0), (60.0, 4.0)] };
        let series = [arrivals, completions];
        let svg = svg_of(&LineChart {
            title: "Request rate",
            x_label: "time (s)",
            y_label: "req/s",
            series: &series,
            log_x: false,
            legend: &[],
        });
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        for text in ["Request rate", "time (s)", "req/s", "arrivals/s", "completions/s"] {
            assert!(
                svg.contains(&format!(">{text}<")) || svg.contains(&format!(">\n{text}\n<")),
                "missing text {text}"
            );
        }
        // Two data polylines in the two palette colours (plus the two legend swatches).
        let blue = "stroke=\"#0072B2\"";
        let orange = "stroke=\"#E69F00\"";
        assert_eq!(svg.matches(blue).count(), 2, "{svg}");
        assert_eq!(svg.matches(orange).count(), 2);
        let data_line = svg.lines().find(|l| l.contains("<polyline") && l.contains(blue)).unwrap();
        let num_points =
            data_line.split("points=\"").nth(1).unwrap().split('"').next().unwrap().split_whitespace().count();
        assert_eq!(num_points, 3);
    }

    #[test]
    fn an_empty_chart_still_draws_axes_without_failing() {
        let svg = svg_of(&LineChart {
            title: "Nothing yet",
            x_label: "x",
            y_label: "y",
            series: &[],
            log_x: false,
            legend: &[],
        });
        assert!(svg.contains("Nothing yet"));
        assert!(!svg.contains("<polyline fill=\"none\" opacity=\"1\" stroke=\"#0072B2\""));
    }

    /// The report of a small run of a 2-request trace, with or without speculative decoding.
    fn small_run(speculative: bool) -> RunReport {
        use servesim_core::scenario::{Scenario, Speculative, SpeculativeMethod};
        let mut scenario = Scenario::default();
        if speculative {
            scenario.engine.speculative = Some(Speculative {
                method: SpeculativeMethod::Ngram,
                num_draft_tokens: 3,
                acceptance: Some(vec![0.8, 0.6, 0.4]),
                acceptance_lengths: None,
                draft: None,
            });
        }
        run_of(&scenario)
    }

    /// The report of `scenario` on a 2-request trace.
    fn run_of(scenario: &servesim_core::scenario::Scenario) -> RunReport {
        use servesim_core::sim::Simulation;
        let trace = servesim_core::workload::parse_trace(
            "arrived_at,num_prefill_tokens,num_decode_tokens\n0,1000,200\n0.5,2000,100\n",
            &mut |_| {},
        )
        .unwrap();
        let mut simulation = Simulation::new(scenario, trace).unwrap();
        simulation.run();
        simulation.results().report
    }

    /// Whether `svg` writes `text` (plotters puts a text on one line or between newlines).
    fn has_text(svg: &str, text: &str) -> bool {
        svg.contains(&format!(">{text}<")) || svg.contains(&format!(">\n{text}\n<"))
    }

    /// The SVG stroke attribute of the `index`th palette colour.
    fn stroke(index: usize) -> String {
        let RGBColor(r, g, b) = PALETTE[index];
        format!("stroke=\"#{r:02X}{g:02X}{b:02X}\"")
    }

    /// Polylines (data lines and legend swatches) of `svg` drawn with `stroke`.
    fn data_lines(svg: &str, stroke: &str) -> usize {
        svg.lines().filter(|l| l.contains("<polyline") && l.contains(stroke)).count()
    }

    #[test]
    fn the_acceptance_chart_is_shown_only_with_speculative_decoding_and_draws_its_series() {
        let acceptance = |report: Option<&RunReport>| {
            report_charts(report).into_iter().find(|chart| chart.id == "acceptance").expect("listed for every report")
        };
        assert!(!acceptance(None).is_shown(), "no report: nothing to show");
        assert!(!acceptance(Some(&small_run(false))).is_shown(), "no speculation: no acceptance series");
        assert!(report_charts(Some(&small_run(false))).iter().filter(|c| !c.optional).all(ReportChart::is_shown));
        let chart = acceptance(Some(&small_run(true)));
        assert!(chart.is_shown());
        assert_eq!(chart.series.len(), 1);
        assert_eq!(chart.series[0].id, SeriesId::AcceptanceLength);
        // Each verification emits 1 to k + 1 = 4 tokens.
        assert!(chart.series[0].points.iter().all(|&(_, y)| (1.0..=4.0).contains(&y)), "{:?}", chart.series[0]);
        let svg = svg_of(&chart.line_chart());
        for text in ["Speculative acceptance length", "tokens / verification"] {
            assert!(has_text(&svg, text), "missing {text}");
        }
        assert!(data_lines(&svg, &stroke(0)) > 0, "one data line");
    }

    #[test]
    fn with_a_host_tier_the_kv_and_prefix_charts_draw_each_tier_with_its_own_legend() {
        let chart = |report: &RunReport, id: &str| {
            report_charts(Some(report)).into_iter().find(|chart| chart.id == id).expect("listed for every report")
        };
        let (blue, orange) = (stroke(0), stroke(1));

        // Without a host tier: one line each, the GPU's, under the series' own label.
        let gpu_only = small_run(false);
        for (id, only) in
            [("kv-cache", SeriesId::KvCacheUsedPercent), ("prefix-cache", SeriesId::PrefixCacheHitPercent)]
        {
            let chart = chart(&gpu_only, id);
            assert!(chart.is_shown());
            assert_eq!(chart.series.iter().map(|s| s.id).collect::<Vec<_>>(), vec![only], "{id}");
            let svg = svg_of(&chart.line_chart());
            assert_eq!(data_lines(&svg, &orange), 0, "{id}: no second line");
            assert!(has_text(&svg, only.label()), "{id}: legend {}", only.label());
        }

        let mut scenario = servesim_core::scenario::Scenario::default();
        scenario.engine.host_kv_cache_gb = 64.0;
        scenario.engine.preemption = servesim_core::scenario::Preemption::Swap;
        let with_host = run_of(&scenario);
        assert!(report_charts(Some(&with_host)).iter().filter(|c| !c.optional).all(ReportChart::is_shown));
        for (id, ids, legends) in [
            (
                "kv-cache",
                [SeriesId::KvCacheUsedPercent, SeriesId::HostKvUsedPercent],
                ["GPU KV cache used (%)", "host KV tier used (%)"],
            ),
            (
                "prefix-cache",
                [SeriesId::PrefixCacheHitPercent, SeriesId::HostCacheHitPercent],
                ["all hits, GPU and host (% of prompt tokens)", "host-tier hits (% of prompt tokens)"],
            ),
        ] {
            let chart = chart(&with_host, id);
            assert_eq!(chart.series.iter().map(|s| s.id).collect::<Vec<_>>(), ids, "{id}");
            let svg = svg_of(&chart.line_chart());
            for legend in legends {
                assert!(has_text(&svg, legend), "{id}: no legend {legend}");
            }
            // A data line and a legend swatch per series, in the first two palette colours.
            assert_eq!((data_lines(&svg, &blue), data_lines(&svg, &orange)), (2, 2), "{id}");
        }
        // A percentage of the host tier's own blocks.
        let host_use = &chart(&with_host, "kv-cache").series[1];
        assert!(host_use.points.iter().all(|&(_, y)| (0.0..=100.0).contains(&y)), "{host_use:?}");
    }

    #[test]
    fn a_disaggregated_run_draws_its_pool_queues_pool_kv_and_kv_links_and_an_aggregated_one_none() {
        let pd_charts = ["pool-queues", "pool-kv", "kv-links"];
        let aggregated = small_run(false);
        for chart in report_charts(Some(&aggregated)).iter().filter(|c| pd_charts.contains(&c.id)) {
            assert!(chart.optional && !chart.is_shown(), "{}: not for an aggregated run", chart.id);
        }

        let mut scenario = servesim_core::scenario::Scenario::default();
        scenario.deployment = servesim_core::scenario::Deployment::Disaggregated(Default::default());
        let disaggregated = run_of(&scenario);
        let charts = report_charts(Some(&disaggregated));
        assert!(charts.iter().filter(|c| c.id != "acceptance").all(ReportChart::is_shown));
        for (id, title, ids) in [
            (
                "pool-queues",
                "Pool queues (prefill and decode)",
                vec![SeriesId::PrefillWaiting, SeriesId::DecodeWaiting],
            ),
            (
                "pool-kv",
                "Pool KV use",
                vec![SeriesId::PrefillKvUsedPercent, SeriesId::DecodeKvUsedPercent, SeriesId::PrefillKvHeldPercent],
            ),
            (
                "kv-links",
                "KV links (prefill to decode)",
                vec![SeriesId::TransfersInFlight, SeriesId::KvLinkUtilizationPercent],
            ),
        ] {
            let chart = charts.iter().find(|chart| chart.id == id).expect("listed for every report");
            assert_eq!(chart.series.iter().map(|s| s.id).collect::<Vec<_>>(), ids, "{id}");
            let svg = svg_of(&chart.line_chart());
            assert!(has_text(&svg, title), "{id}: caption");
            for (index, series) in chart.series.iter().enumerate() {
                assert!(has_text(&svg, series.label()), "{id}: legend {}", series.label());
                assert_eq!(data_lines(&svg, &stroke(index)), 2, "{id}: a line and a swatch for {}", series.label());
            }
        }
        // Both requests' KV moved: the link was busy, by a percentage of its capacity.
        let utilization = &charts.iter().find(|chart| chart.id == "kv-links").unwrap().series[1];
        assert!(utilization.points.iter().any(|&(_, y)| y > 0.0), "{utilization:?}");
        assert!(utilization.points.iter().all(|&(_, y)| (0.0..=100.0).contains(&y)), "{utilization:?}");
    }

    #[test]
    fn tick_labels_drop_needless_decimals() {
        assert_eq!(tick_label(&500.0), "500");
        assert_eq!(tick_label(&2.5), "2.5");
        assert_eq!(tick_label(&0.125), "0.125");
        assert_eq!(tick_label(&-3.0), "-3");
    }

    #[test]
    fn a_log_x_chart_spans_decades_and_skips_non_positive_x() {
        let cdf =
            [Series { id: SeriesId::TtftCdf, points: vec![(0.0, 0.1), (10.0, 0.5), (1_000.0, 0.9), (100_000.0, 1.0)] }];
        let svg = svg_of(&LineChart {
            title: "TTFT",
            x_label: "ms",
            y_label: "fraction",
            series: &cdf,
            log_x: true,
            legend: &[],
        });
        let ticks: Vec<&str> =
            svg.split("<text").filter_map(|t| Some(t.split('>').nth(1)?.split('<').next()?.trim())).collect();
        for decade in ["10", "100", "1000", "10000"] {
            assert!(ticks.contains(&decade), "no tick {decade} in {ticks:?}");
        }
        let line = svg.lines().find(|l| l.contains("<polyline") && l.contains("stroke=\"#0072B2\"")).unwrap();
        let points = line.split("points=\"").nth(1).unwrap().split('"').next().unwrap().split_whitespace().count();
        assert_eq!(points, 3, "the x = 0 point is left out");
    }

    #[test]
    fn a_histogram_becomes_a_step_outline_of_shares() {
        let histogram = LengthHistogram { edges: vec![1, 2, 4, 8], counts: vec![1, 0, 3] };
        let series = histogram_series(SeriesId::PromptLengths, &histogram);
        assert_eq!(series.points, vec![(1.0, 0.25), (2.0, 0.25), (2.0, 0.0), (4.0, 0.0), (4.0, 0.75), (8.0, 0.75)]);
        assert_eq!(series.label(), "prompt tokens");
    }

    #[test]
    fn flat_series_get_a_non_empty_range() {
        let flat = [Series { id: SeriesId::Running, points: vec![(5.0, 0.0), (5.0, 0.0)] }];
        let (x, y) = axis_ranges(&flat);
        assert!(x.end > x.start && y.end > y.start);
    }

    /// The attributes of every `<tag …>` in `svg`, in document order, with the text that follows
    /// the tag (a `<text>`'s content).
    fn svg_tags<'a>(svg: &'a str, tag: &str) -> Vec<(Vec<(&'a str, &'a str)>, &'a str)> {
        svg.split(&format!("<{tag} "))
            .skip(1)
            .map(|rest| {
                let (attributes, after) = rest.split_once('>').unwrap();
                let pairs = attributes
                    .trim_end_matches('/')
                    .split("\" ")
                    .filter_map(|pair| pair.trim().split_once("=\""))
                    .map(|(name, value)| (name, value.trim_end_matches('"')))
                    .collect();
                (pairs, after.split('<').next().unwrap().trim())
            })
            .collect()
    }

    fn attribute(attributes: &[(&str, &str)], name: &str) -> f64 {
        attributes.iter().find(|(key, _)| *key == name).unwrap().1.parse().unwrap()
    }

    /// `pixel = a + b · log10(value)` fitted by least squares to `(value, pixel)` ticks.
    fn log_axis(ticks: &[(f64, f64)]) -> impl Fn(f64) -> f64 {
        let n = ticks.len() as f64;
        let (sx, sy) = ticks.iter().fold((0.0, 0.0), |(sx, sy), &(v, p)| (sx + v.log10(), sy + p));
        let (mx, my) = (sx / n, sy / n);
        let b = ticks.iter().map(|&(v, p)| (v.log10() - mx) * (p - my)).sum::<f64>()
            / ticks.iter().map(|&(v, _)| (v.log10() - mx).powi(2)).sum::<f64>();
        move |value: f64| my + b * (value.log10() - mx)
    }

    #[test]
    fn the_roofline_puts_the_roof_and_both_steps_where_their_values_are_on_the_tick_scale() {
        use servesim_core::perf::RooflinePoint;
        // A GPU of 1,000 TFLOP/s and 1 TB/s: the ridge is at 1,000 FLOP/byte. The decode step
        // (10 FLOP/byte, 5 TFLOP/s) is under the slope, the prefill (10,000, 800) under the flat
        // roof.
        let roofline = Roofline {
            prefill: RooflinePoint { intensity: 1e4, attained_flops: 8e14 },
            decode: RooflinePoint { intensity: 10.0, attained_flops: 5e12 },
            peak_flops: 1e15,
            hbm_bandwidth: 1e12,
        };
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, (800, 360)).into_drawing_area();
            draw_roofline(&area, &roofline).unwrap();
        }
        // Tick labels: the x axis's centred under their ticks, the y axis's right-aligned.
        let (mut x_ticks, mut y_ticks) = (Vec::new(), Vec::new());
        for (attributes, text) in svg_tags(&svg, "text") {
            let Ok(value) = text.parse::<f64>() else { continue };
            let anchor = attributes.iter().find(|(key, _)| *key == "text-anchor").unwrap().1;
            match anchor {
                "middle" => x_ticks.push((value, attribute(&attributes, "x"))),
                "end" => y_ticks.push((value, attribute(&attributes, "y"))),
                _ => {}
            }
        }
        assert!(x_ticks.len() >= 4 && y_ticks.len() >= 4, "{x_ticks:?} {y_ticks:?}");
        assert!(x_ticks.iter().any(|&(v, _)| v == 1.0) && x_ticks.iter().any(|&(v, _)| v == 100_000.0), "{x_ticks:?}");
        let (x_pixel, y_pixel) = (log_axis(&x_ticks), log_axis(&y_ticks));
        let near = |got: f64, want: f64| (got - want).abs() <= 1.5;

        let circles: Vec<(f64, f64)> =
            svg_tags(&svg, "circle").iter().map(|(a, _)| (attribute(a, "cx"), attribute(a, "cy"))).collect();
        assert_eq!(circles.len(), 2, "{circles:?}");
        for ((cx, cy), (intensity, tflops)) in circles.iter().zip([(1e4, 800.0), (10.0, 5.0)]) {
            assert!(
                near(*cx, x_pixel(intensity)) && near(*cy, y_pixel(tflops)),
                "({cx}, {cy}) for ({intensity}, {tflops})"
            );
        }
        for (label, (cx, cy)) in ["prefill", "decode"].iter().zip(&circles) {
            let (attributes, _) = svg_tags(&svg, "text").into_iter().find(|(_, text)| text == label).unwrap();
            let (x, y) = (attribute(&attributes, "x"), attribute(&attributes, "y"));
            assert!((x - cx).abs() < 20.0 && (y - cy).abs() < 20.0, "{label} is written next to its point");
        }

        // The roof: from (1, 1 TFLOP/s) up the bandwidth slope to the ridge (1,000, 1,000), then
        // flat at the peak to the axis's end (100,000).
        let roof = svg_tags(&svg, "polyline")
            .into_iter()
            .find(|(a, _)| a.contains(&("stroke", "#3C3C3C")))
            .map(|(a, _)| a.iter().find(|(key, _)| *key == "points").unwrap().1)
            .unwrap()
            .split_whitespace()
            .map(|point| {
                let (x, y) = point.split_once(',').unwrap();
                (x.parse::<f64>().unwrap(), y.parse::<f64>().unwrap())
            })
            .collect::<Vec<_>>();
        let expected = [(1.0, 1.0), (1_000.0, 1_000.0), (100_000.0, 1_000.0)];
        assert_eq!(roof.len(), expected.len(), "{roof:?}");
        for ((x, y), (intensity, tflops)) in roof.iter().zip(expected) {
            assert!(
                near(*x, x_pixel(intensity)) && near(*y, y_pixel(tflops)),
                "roof vertex ({x}, {y}) for ({intensity}, {tflops})"
            );
        }
        assert!(svg.contains("roof: 1000 TFLOP/s peak, 1.00 TB/s"));
    }
}
