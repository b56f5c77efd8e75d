//! Fitting the performance model to a benchmark: every row is replayed through the simulator
//! with the benchmark's own load (closed-loop clients at its concurrency, Poisson arrivals at
//! its rate, or every request at once), and the three calibration factors (compute, memory,
//! overhead) are chosen to minimise the squared log error of the predicted TTFT, TPOT and
//! output throughput.
//!
//! The search is Nelder–Mead over the logarithms of the factors, from the catalog's defaults
//! (all 1), with a fixed iteration budget: deterministic, so the same file always gives the
//! same fit.

use serde::{Deserialize, Serialize};

use super::{BenchmarkRow, Load};
use crate::perf::Factors;
use crate::scenario::{Calibration, Deployment, PoolRole, Scenario};
use crate::sim::Simulation;
use crate::workload::{resolve, Arrivals, Generator, GeneratorClass, Lengths, Workload, WorkloadSource};

/// The most requests one row's replay simulates: enough for a steady state at the
/// concurrencies benchmarks use, few enough that a fit takes seconds.
pub const MAX_REPLAY_REQUESTS: u32 = 512;
/// Nelder–Mead iterations.
const ITERATIONS: usize = 150;
/// The factors stay within these bounds (as validation requires).
const FACTOR_BOUNDS: (f64, f64) = (0.05, 20.0);

/// TTFT, TPOT and output throughput, measured or predicted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Median time to first token, ms.
    pub ttft_ms: Option<f64>,
    /// Median time per output token, ms.
    pub tpot_ms: Option<f64>,
    /// Output tokens per second.
    pub output_throughput: Option<f64>,
}

impl Metrics {
    /// The metrics a benchmark row measured.
    pub fn measured(row: &BenchmarkRow) -> Metrics {
        Metrics { ttft_ms: row.ttft_ms, tpot_ms: row.tpot_ms, output_throughput: row.output_throughput }
    }

    fn pairs(self) -> [Option<f64>; 3] {
        [self.ttft_ms, self.tpot_ms, self.output_throughput]
    }

    /// Relative errors of `self` (predicted) against `measured`, for each metric both have.
    pub fn errors(self, measured: Metrics) -> impl Iterator<Item = f64> {
        self.pairs().into_iter().zip(measured.pairs()).filter_map(|pair| match pair {
            (Some(predicted), Some(measured)) => Some(predicted / measured - 1.0),
            _ => None,
        })
    }
}

/// One row's fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowFit {
    /// The row's label, e.g. `"concurrency 64"`.
    pub label: String,
    /// What the benchmark measured.
    pub measured: Metrics,
    /// What the uncalibrated model predicts.
    pub before: Metrics,
    /// What the fitted model predicts.
    pub after: Metrics,
}

/// The fitted factors and the error per row before and after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// The fitted factors.
    pub factors: Factors,
    /// Every row, before and after.
    pub rows: Vec<RowFit>,
    /// Mean absolute relative error over every measured metric before the fit, percent.
    pub error_before_pct: f64,
    /// The same after the fit.
    pub error_after_pct: f64,
}

impl FitReport {
    /// The calibration to put in the scenario.
    pub fn calibration(&self, source: &str) -> Calibration {
        Calibration::new(source, self.factors, None)
    }
}

/// The scenario that replays `row` on one replica of `base`'s deployment with `factors`
/// (`engine.max_model_len` defaults to the row's prompt plus output).
pub fn replay_scenario(base: &Scenario, row: &BenchmarkRow, factors: Factors) -> Scenario {
    // A benchmark ran one aggregated server: the first pool's view.
    let mut scenario = base.pool_view(PoolRole::Aggregated);
    if let Deployment::Aggregated(pool) = &mut scenario.deployment {
        pool.replicas = 1;
    }
    // The benchmarked server started, so it held its longest request (it may have been launched
    // with a --max-model-len below the model's context to get there).
    scenario.engine.max_model_len.get_or_insert(row.isl.saturating_add(row.osl));
    let (arrivals, default_requests) = match row.load {
        Load::Concurrency(concurrency) => {
            (Arrivals::ClosedLoop { concurrency, think_time_s: 0.0 }, concurrency.saturating_mul(4).max(64))
        }
        Load::Rate(rate_per_s) => (Arrivals::Poisson { rate_per_s }, 200),
        Load::Offline => (Arrivals::ClosedLoop { concurrency: u32::MAX, think_time_s: 0.0 }, 200),
    };
    let num_requests = row.num_prompts.unwrap_or(default_requests).clamp(1, MAX_REPLAY_REQUESTS);
    let arrivals = match arrivals {
        Arrivals::ClosedLoop { concurrency, think_time_s } => {
            Arrivals::ClosedLoop { concurrency: concurrency.min(num_requests), think_time_s }
        }
        open => open,
    };
    let class = GeneratorClass {
        arrivals,
        num_requests,
        prompt_tokens: Lengths::Fixed { tokens: row.isl.max(1) },
        output_tokens: Lengths::Fixed { tokens: row.osl.max(1) },
        ..GeneratorClass::default()
    };
    scenario.workload = Workload::from(WorkloadSource::Generator(Generator { classes: vec![class] }));
    let profile = base.calibration.as_ref().and_then(|calibration| calibration.profile.clone());
    scenario.calibration = Some(Calibration::new("", factors, profile));
    scenario
}

/// What the model predicts for `row` on `base`'s deployment with `factors`.
///
/// # Errors
///
/// Returns the problems of the replay scenario (a model that does not fit) as one message, or
/// says so when not every request completed (a row longer than `max_model_len`).
pub fn predict(base: &Scenario, row: &BenchmarkRow, factors: Factors) -> Result<Metrics, String> {
    replayed_metrics(&replay_scenario(base, row, factors), &row.label)
}

/// Runs a replay scenario (from [`replay_scenario`], perhaps with its lengths changed) and
/// reads the metrics a benchmark reports; `label` names it in errors.
///
/// # Errors
///
/// As [`predict`].
pub fn replayed_metrics(scenario: &Scenario, label: &str) -> Result<Metrics, String> {
    if let Err(problems) = scenario.validate() {
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(format!("{label}: {}", problems.join("; ")));
    }
    let resolved = resolve(&scenario.workload, scenario.seed, None, &mut |_| {}).map_err(|e| e.to_string())?;
    let mut simulation = Simulation::new(scenario, resolved.trace).map_err(|e| e.to_string())?;
    simulation.run();
    let summary = simulation.report().summary;
    if summary.requests.completed < summary.requests.total {
        return Err(format!(
            "{label}: only {} of {} requests completed ({} rejected: longer than max_model_len?)",
            summary.requests.completed, summary.requests.total, summary.requests.rejected
        ));
    }
    Ok(Metrics {
        ttft_ms: summary.ttft_ms.map(|q| q.p50),
        tpot_ms: summary.tpot_ms.map(|q| q.p50),
        output_throughput: Some(summary.throughput.output_tokens_per_s),
    })
}

/// Fits the calibration factors of `base`'s deployment to `rows`.
///
/// # Errors
///
/// Returns a message when there are no rows or a row cannot be replayed ([`predict`]).
///
/// # Example
///
/// ```
/// use servesim_core::calibrate::{fit, predict, BenchmarkRow, Load};
/// use servesim_core::perf::Factors;
/// use servesim_core::scenario::Scenario;
///
/// let base = Scenario::default();
/// let row = |concurrency| BenchmarkRow {
///     label: format!("concurrency {concurrency}"), isl: 512, osl: 64, load: Load::Concurrency(concurrency),
///     ttft_ms: None, tpot_ms: None, output_throughput: None, num_prompts: Some(32),
/// };
/// // Measurements made by a GPU whose memory system is 20 % slower than the catalog's.
/// let slow = Factors { memory: 0.8, ..Factors::default() };
/// let rows: Vec<BenchmarkRow> = [1, 8].into_iter().map(|c| {
///     let measured = predict(&base, &row(c), slow).unwrap();
///     BenchmarkRow { ttft_ms: measured.ttft_ms, tpot_ms: measured.tpot_ms, ..row(c) }
/// }).collect();
/// let report = fit(&base, &rows).unwrap();
/// assert!(report.error_after_pct < report.error_before_pct);
/// assert!((report.factors.memory - 0.8).abs() < 0.05, "{:?}", report.factors);
/// ```
pub fn fit(base: &Scenario, rows: &[BenchmarkRow]) -> Result<FitReport, String> {
    if rows.is_empty() {
        return Err("the benchmark has no rows to fit".to_owned());
    }
    let measured: Vec<Metrics> = rows.iter().map(Metrics::measured).collect();
    let predict_all = |factors: Factors| -> Result<Vec<Metrics>, String> {
        rows.iter().map(|row| predict(base, row, factors)).collect()
    };
    let before = predict_all(Factors::default())?;
    let loss = |x: &[f64; 3]| -> f64 {
        let factors = factors_of(x);
        match predict_all(factors) {
            Ok(predicted) => predicted
                .iter()
                .zip(&measured)
                .flat_map(|(p, m)| p.errors(*m).map(|error| libm::log(1.0 + error).powi(2)).collect::<Vec<_>>())
                .sum(),
            Err(_) => f64::INFINITY,
        }
    };
    let best = nelder_mead(loss, [0.0; 3], 0.3, ITERATIONS);
    let factors = factors_of(&best);
    let after = predict_all(factors)?;
    let report_rows = rows
        .iter()
        .zip(measured.iter().zip(before.iter().zip(&after)))
        .map(|(row, (m, (b, a)))| RowFit { label: row.label.clone(), measured: *m, before: *b, after: *a })
        .collect();
    Ok(FitReport {
        factors,
        rows: report_rows,
        error_before_pct: mean_abs_error(&before, &measured),
        error_after_pct: mean_abs_error(&after, &measured),
    })
}

fn factors_of(x: &[f64; 3]) -> Factors {
    let bound = |v: f64| libm::exp(v).clamp(FACTOR_BOUNDS.0, FACTOR_BOUNDS.1);
    Factors { compute: bound(x[0]), memory: bound(x[1]), overhead: bound(x[2]) }
}

/// Mean absolute relative error of `predicted` against `measured`, percent.
pub fn mean_abs_error(predicted: &[Metrics], measured: &[Metrics]) -> f64 {
    let errors: Vec<f64> = predicted.iter().zip(measured).flat_map(|(p, m)| p.errors(*m).collect::<Vec<_>>()).collect();
    if errors.is_empty() {
        return 0.0;
    }
    100.0 * errors.iter().map(|e| e.abs()).sum::<f64>() / errors.len() as f64
}

/// Nelder–Mead minimisation of `f` from `start`, with an initial simplex of `step` along each
/// axis, for `iterations` iterations (standard coefficients: reflection 1, expansion 2,
/// contraction ½, shrink ½).
fn nelder_mead(f: impl Fn(&[f64; 3]) -> f64, start: [f64; 3], step: f64, iterations: usize) -> [f64; 3] {
    let mut simplex: Vec<([f64; 3], f64)> = (0..4)
        .map(|i| {
            let mut x = start;
            if i > 0 {
                x[i - 1] += step;
            }
            (x, f(&x))
        })
        .collect();
    let along = |from: &[f64; 3], to: &[f64; 3], t: f64| -> [f64; 3] {
        std::array::from_fn(|k| from[k] + t * (to[k] - from[k]))
    };
    for _ in 0..iterations {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let centroid: [f64; 3] = std::array::from_fn(|k| simplex[..3].iter().map(|(x, _)| x[k]).sum::<f64>() / 3.0);
        let worst = simplex[3];
        let reflected = along(&centroid, &worst.0, -1.0);
        let reflected_value = f(&reflected);
        if reflected_value < simplex[0].1 {
            let expanded = along(&centroid, &worst.0, -2.0);
            let expanded_value = f(&expanded);
            simplex[3] = if expanded_value < reflected_value {
                (expanded, expanded_value)
            } else {
                (reflected, reflected_value)
            };
        } else if reflected_value < simplex[2].1 {
            simplex[3] = (reflected, reflected_value);
        } else {
            let contracted = along(&centroid, &worst.0, 0.5);
            let contracted_value = f(&contracted);
            if contracted_value < worst.1 {
                simplex[3] = (contracted, contracted_value);
            } else {
                let best = simplex[0].0;
                for vertex in simplex.iter_mut().skip(1) {
                    let x = along(&best, &vertex.0, 0.5);
                    *vertex = (x, f(&x));
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex[0].0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nelder_mead_finds_the_minimum_of_a_bowl() {
        let bowl = |x: &[f64; 3]| (x[0] - 1.0).powi(2) + 2.0 * (x[1] + 0.5).powi(2) + 3.0 * (x[2] - 0.25).powi(2);
        let best = nelder_mead(bowl, [0.0; 3], 0.3, 200);
        for (found, want) in best.iter().zip([1.0, -0.5, 0.25]) {
            assert!((found - want).abs() < 1e-3, "{best:?}");
        }
    }

    fn row(isl: u32, osl: u32, concurrency: u32) -> BenchmarkRow {
        BenchmarkRow {
            label: format!("isl {isl} c {concurrency}"),
            isl,
            osl,
            load: Load::Concurrency(concurrency),
            ttft_ms: None,
            tpot_ms: None,
            output_throughput: None,
            num_prompts: Some(concurrency * 3),
        }
    }

    /// Measurements generated by the model itself with known factors: the fit recovers them.
    #[test]
    fn calibration_recovers_known_factors_from_synthetic_measurements() {
        let base = Scenario::default();
        let truth = Factors { compute: 0.7, memory: 1.25, overhead: 1.6 };
        let rows: Vec<BenchmarkRow> = [(4096, 32, 1), (1024, 128, 1), (512, 128, 16), (2048, 64, 64), (8192, 64, 32)]
            .into_iter()
            .map(|(isl, osl, c)| {
                let measured = predict(&base, &row(isl, osl, c), truth).unwrap();
                BenchmarkRow {
                    ttft_ms: measured.ttft_ms,
                    tpot_ms: measured.tpot_ms,
                    output_throughput: measured.output_throughput,
                    ..row(isl, osl, c)
                }
            })
            .collect();
        let report = fit(&base, &rows).unwrap();
        let found = report.factors;
        for (name, got, want) in [
            ("compute", found.compute, truth.compute),
            ("memory", found.memory, truth.memory),
            ("overhead", found.overhead, truth.overhead),
        ] {
            assert!((got / want - 1.0).abs() < 0.05, "{name}: {got} vs {want} ({found:?})");
        }
        assert!(report.error_after_pct < 1.0 && report.error_before_pct > 10.0, "{report:?}");
    }

    #[test]
    fn offline_and_rate_rows_replay_with_their_load() {
        let base = Scenario::default();
        let offline = BenchmarkRow { load: Load::Offline, num_prompts: Some(10), ..row(128, 16, 1) };
        let scenario = replay_scenario(&base, &offline, Factors::default());
        let WorkloadSource::Generator(generator) = &scenario.workload.source else { panic!("a generator") };
        assert_eq!(generator.classes[0].arrivals, Arrivals::ClosedLoop { concurrency: 10, think_time_s: 0.0 });
        let rate = BenchmarkRow { load: Load::Rate(2.0), num_prompts: None, ..row(128, 16, 1) };
        let metrics = predict(&base, &rate, Factors::default()).unwrap();
        assert!(metrics.ttft_ms.unwrap() > 0.0 && metrics.output_throughput.unwrap() > 0.0);
        assert!(fit(&base, &[]).is_err());
        let too_long = row(200_000, 16, 1);
        assert!(predict(&base, &too_long, Factors::default()).unwrap_err().contains("isl 200000"));
    }
}
