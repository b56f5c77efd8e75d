//! The simulation: a scenario and a workload in, a [`RunResult`] out.
//!
//! [`Simulation::new`] validates the scenario and builds the cluster; [`Simulation::run`] (or
//! [`Simulation::run_with_progress`], whose callback can cancel) replays every arrival through
//! the router and drains the replicas; [`Simulation::results`] summarises. The UI's worker, the
//! CLI and the tests all go through this API.
//!
//! # Example
//!
//! ```
//! use servesim_core::scenario::Scenario;
//! use servesim_core::sim::Simulation;
//! use servesim_core::workload::parse_trace;
//!
//! let trace = parse_trace("arrived_at,num_prefill_tokens,num_decode_tokens\n0,1000,50\n0.5,2000,20\n", &mut |_| {})
//!     .unwrap();
//! let mut simulation = Simulation::new(&Scenario::default(), trace).unwrap();
//! simulation.run();
//! let results = simulation.results();
//! assert_eq!(results.report.summary.requests.completed, 2);
//! ```

mod queue;

pub use queue::EventQueue;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::{policy_for, Cluster};
use crate::engine::{Engine, EngineConfig};
use crate::ids::{ReplicaId, RequestId};
use crate::metrics::{LatencyColumns, Recorder, RequestLog, Series, Summary};
use crate::perf::{catalog, GpuSpec, ReplicaConfig, StepModel};
use crate::scenario::{Deployment, Problem, Scenario};
use crate::time::SimDuration;
use crate::workload::Trace;

/// Why a simulation could not be set up.
#[derive(Clone, Debug, PartialEq)]
pub enum SimError {
    /// The scenario breaks validation rules.
    Invalid(Vec<Problem>),
    /// The model does not fit the deployment (with the field to change).
    DoesNotFit(crate::perf::FitError),
    /// The workload has no requests.
    EmptyWorkload,
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Invalid(problems) => {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                write!(f, "{}", list.join("; "))
            }
            SimError::DoesNotFit(error) => write!(f, "{error}"),
            SimError::EmptyWorkload => write!(f, "workload: the trace has no requests"),
        }
    }
}

impl std::error::Error for SimError {}

/// The run was cancelled by its progress callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

/// The serialisable result of a run: summary, chart series and digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The headline numbers.
    pub summary: Summary,
    /// Time series (≤ 2,000 points each): arrivals, completions and output tokens per second,
    /// running and waiting requests, KV cache use.
    pub series: Vec<Series>,
    /// Latency CDFs in ms (≤ 200 points each): TTFT, TPOT, E2E.
    pub latency_cdfs: Vec<Series>,
    /// Per-replica facts: KV capacity in tokens.
    pub kv_capacity_tokens_per_replica: u64,
    /// Engine steps executed over all replicas (with arrivals, the run's events).
    pub engine_steps: u64,
    /// Digest of the per-request records ([`RequestLog::digest`]), hex in JSON.
    #[serde(with = "crate::digest::hex_u64")]
    pub digest: u64,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Summary, series and digest.
    pub report: RunReport,
    /// Per-request records.
    pub requests: RequestLog,
}

/// One simulation run.
pub struct Simulation {
    scenario: Scenario,
    trace: Trace,
    cluster: Cluster,
    next_arrival: usize,
    drained: bool,
    num_gpus: u64,
    kv_capacity_tokens: u64,
}

/// Points per latency CDF.
const CDF_POINTS: usize = 200;

/// Timeline buckets over the arrival span (more follow while the replicas drain).
const TIMELINE_BUCKETS: u64 = 1_000;

impl Simulation {
    /// Sets up `scenario` on `trace` (the caller resolves the scenario's workload to a trace).
    ///
    /// # Errors
    ///
    /// Returns [`SimError`] when the scenario is invalid, the model does not fit, or the trace
    /// is empty.
    pub fn new(scenario: &Scenario, trace: Trace) -> Result<Simulation, SimError> {
        scenario.validate().map_err(SimError::Invalid)?;
        if trace.num_requests() == 0 {
            return Err(SimError::EmptyWorkload);
        }
        let model = catalog::model_spec(&scenario.model.preset).expect("validated");
        let gpu = GpuSpec::find(&scenario.hardware.gpu).expect("validated");
        let Deployment::Aggregated(pool) = &scenario.deployment;
        let engine = &scenario.engine;
        let step_model = StepModel::new(
            &model,
            gpu,
            ReplicaConfig {
                tp: pool.tp,
                pp: pool.pp,
                weights: scenario.model.weights,
                kv_cache: scenario.model.kv_cache,
                gpu_memory_utilization: engine.gpu_memory_utilization,
                max_num_batched_tokens: engine.max_num_batched_tokens,
                max_num_seqs: engine.max_num_seqs,
            },
        )
        .map_err(SimError::DoesNotFit)?;
        let config = EngineConfig {
            max_num_seqs: engine.max_num_seqs,
            max_num_batched_tokens: engine.max_num_batched_tokens,
            chunked_prefill: engine.chunked_prefill,
            block_size: engine.block_size,
            max_model_len: model.max_context,
        };
        let kv_capacity_tokens = step_model.kv_capacity_tokens();
        let engines = (0..pool.replicas).map(|i| Engine::new(ReplicaId(i), config, step_model.clone())).collect();
        let span = trace.arrived_at[trace.num_requests() - 1].saturating_since(trace.arrived_at[0]);
        let width = crate::metrics::bucket_width_s(span.as_secs_f64(), TIMELINE_BUCKETS);
        let recorder = Recorder::new(&trace, SimDuration::from_millis(width.saturating_mul(1000)));
        let cluster = Cluster::new(engines, policy_for(scenario.router.kind, scenario.seed), recorder);
        Ok(Simulation {
            scenario: scenario.clone(),
            trace,
            cluster,
            next_arrival: 0,
            drained: false,
            num_gpus: u64::from(pool.replicas) * u64::from(pool.tp) * u64::from(pool.pp),
            kv_capacity_tokens,
        })
    }

    /// Runs to the end.
    pub fn run(&mut self) {
        let _ = self.run_with_progress(&mut |_| true);
    }

    /// Runs to the end, calling `on_progress(fraction)` about 200 times; it returns `false` to
    /// cancel.
    ///
    /// # Errors
    ///
    /// Returns [`Cancelled`] when the callback cancelled; the run can be resumed by calling
    /// this again.
    pub fn run_with_progress(&mut self, on_progress: &mut dyn FnMut(f64) -> bool) -> Result<(), Cancelled> {
        let total = self.trace.num_requests();
        let report_every = (total / 200).max(1);
        while self.next_arrival < total {
            let request = self.next_arrival;
            self.cluster.route(RequestId(request as u32), self.trace.arrived_at[request]);
            self.next_arrival += 1;
            if self.next_arrival.is_multiple_of(report_every)
                && !on_progress(0.95 * self.next_arrival as f64 / total as f64)
            {
                return Err(Cancelled);
            }
        }
        if !self.drained {
            self.cluster.drain();
            self.drained = true;
        }
        on_progress(1.0);
        Ok(())
    }

    /// The report so far (complete after a run): summary, series and digest.
    pub fn report(&self) -> RunReport {
        let recorder = &self.cluster.recorder;
        let cluster_blocks: u64 = self.cluster.engines().iter().map(Engine::total_blocks).sum();
        let columns = LatencyColumns::of(&recorder.requests);
        RunReport {
            summary: Summary::of(&recorder.requests, &columns, &recorder.itl, &self.scenario.slo, self.num_gpus),
            series: recorder.timeline.series(cluster_blocks),
            latency_cdfs: vec![
                Series::cdf_of_sorted("TTFT", &columns.ttft_ms, CDF_POINTS),
                Series::cdf_of_sorted("TPOT", &columns.tpot_ms, CDF_POINTS),
                Series::cdf_of_sorted("E2E", &columns.e2e_ms, CDF_POINTS),
            ],
            kv_capacity_tokens_per_replica: self.kv_capacity_tokens,
            engine_steps: recorder.num_steps,
            digest: recorder.requests.digest(),
        }
    }

    /// The report and a copy of the per-request records.
    pub fn results(&self) -> RunResult {
        RunResult { report: self.report(), requests: self.cluster.recorder.requests.clone() }
    }
}
