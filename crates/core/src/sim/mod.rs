//! The simulation driver: one global event queue, a scenario and a workload in, a
//! [`RunResult`] out.
//!
//! [`Simulation::new`] validates the scenario and builds the cluster; [`Simulation::run`] (or
//! [`Simulation::run_with_progress`], whose callback can cancel) processes events until none is
//! left; [`Simulation::results`] summarises. The UI's worker, the CLI and the tests all go
//! through this API.
//!
//! **Events.** The [`EventQueue`] orders events by `(time, insertion order)`. Arrivals enter it
//! one at a time (the next one is pushed when the previous is popped, so a million-request
//! trace never sits in the heap); later issues add transfers, faults, scaling and timeouts.
//! Each replica's engine works in two phases — a step's plan is fixed when it starts, its effects
//! apply when it ends — and exposes when its step in flight ends.
//!
//! **Sampling.** At the start of every timeline bucket, after every other event of that instant,
//! a `SampleTick` event looks at every replica (advancing it to that instant) and records its
//! running and waiting requests and KV blocks in use, until no request is left.
//!
//! **Stepping.** With [`Stepping::Eager`] every step end is an event: at every event every
//! replica is advanced to its instant, and once all events of an instant are handled, every
//! idle replica with requests starts its next step. [`Stepping::Lazy`] (the default) gives
//! the same results faster: replicas interact only when the router looks at them, so a replica
//! is advanced only when it is looked at or handed a request, and otherwise runs its steps in
//! a tight loop. The two are equal because advancing is splittable — advancing to `a` then to
//! `b` is advancing to `b`, and a step starting at `t` is only planned once every event at `t`
//! was delivered — and a test runs the golden scenarios both ways and compares their digests.
//!
//! **Disaggregation.** Prefill and decode replicas interact through handoffs (`cluster`'s
//! module docs), which a replica makes at the start or end of a step; so a replica whose next
//! step may hand something off ([`Engine::hands_off`]) has every step end as an event, and
//! starts its next step at the end of the instant, as under eager stepping. The others stay
//! lazy. Transfers are events too: one when a transfer's latency has passed, and one when the
//! next transfer in flight ends (superseded when the links' rates change).
//!
//! **Stale signals.** With `router.signal_delay_ms`, a `SignalsRefreshed` event every delay
//! advances every replica and snapshots the load the routers read until the next one.
//!
//! **Chains.** A chained request (a session's next turn, a closed-loop client's next request;
//! see [`Trace::follows`](crate::workload::Trace::follows)) arrives its think time after the
//! request it follows ends. Ends must then be seen when they happen, so a workload with chains
//! runs with [`Stepping::Eager`]: every step end is an event, and after each event the ends it
//! produced release their followers.
//!
//! **Budget.** Every arrival and every engine step counts against `limits.max_events`; a run
//! that spends it stops there, reports why, and counts its unfinished requests.
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

use crate::cluster::{policy_for, Cluster, Fabric, Links, Placement, TransferSettings, Wakeup};
use crate::engine::{Engine, Halt, Handoff, HostTier, SchedulerConfig, StepContext};
use crate::ids::{ReplicaId, RequestId};
use crate::metrics::{
    DeploymentFacts, HostKvSummary, KvTransferSummary, LatencyColumns, PoolScale, Recorder, RequestLog,
    SpeculativeSummary, Summary,
};
use crate::perf::StepModel;
use crate::rng::StreamId;
use crate::scenario::{PoolRole, Problem, Scenario, Speculative};
use crate::stats::{bucket_width_s, Quantiles, Series, SeriesId};
use crate::time::{SimDuration, SimTime};
use crate::workload::Trace;

/// Why a simulation could not be set up.
#[derive(Clone, Debug, PartialEq)]
pub enum SimError {
    /// The scenario breaks validation rules (including vLLM's start-up checks).
    Invalid(Vec<Problem>),
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
            SimError::EmptyWorkload => write!(f, "workload: the trace has no requests"),
        }
    }
}

impl std::error::Error for SimError {}

/// The run was cancelled by its progress callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

/// How replicas are advanced (the results are the same; see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stepping {
    /// Advance a replica only when something looks at it or hands it a request.
    #[default]
    Lazy,
    /// Every step end is an event, and every replica is advanced at every event.
    Eager,
}

/// The events the driver processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// A request of the workload arrives.
    RequestArrived(RequestId),
    /// A replica's step ends (eager stepping only).
    StepFinished(ReplicaId),
    /// The timeline samples every replica's state (a bucket starts).
    SampleTick,
    /// The routers' stale view of the replicas is refreshed.
    SignalsRefreshed,
    /// A transfer's latency has passed: its bytes start to flow.
    TransferStarts(RequestId),
    /// The next transfer in flight ends, if the links' rates are still those of this
    /// generation.
    TransfersDue(u64),
}

impl Event {
    /// Whether the event recurs while the run goes on (it does not keep the run alive).
    fn is_tick(self) -> bool {
        matches!(self, Event::SampleTick | Event::SignalsRefreshed)
    }
}

/// One pool of the deployment as the report describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolReport {
    /// What the pool does.
    pub role: PoolRole,
    /// Its replicas.
    pub replicas: u32,
    /// GPUs per replica.
    pub gpus_per_replica: u32,
    /// The GPU's name.
    pub gpu: String,
    /// KV capacity of one replica, tokens.
    pub kv_capacity_tokens_per_replica: u64,
}

/// The serialisable result of a run: summary, chart series and digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The headline numbers.
    pub summary: Summary,
    /// Time series (≤ 2,000 points each): arrivals, completions and output tokens per second,
    /// running and waiting requests, KV cache use, prefix-cache hits.
    pub series: Vec<Series>,
    /// Latency CDFs in ms (≤ 200 points each): TTFT, TPOT, E2E.
    pub latency_cdfs: Vec<Series>,
    /// Per-replica facts of the first pool: KV capacity in tokens.
    pub kv_capacity_tokens_per_replica: u64,
    /// The pools: one aggregated pool, or the prefill and the decode pool.
    pub pools: Vec<PoolReport>,
    /// Engine steps executed over all replicas (with arrivals, the run's events).
    pub engine_steps: u64,
    /// Why the run stopped before every request ended, if it did.
    pub stopped_early: Option<String>,
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
    recorder: Recorder,
    queue: EventQueue<Event>,
    stepping: Stepping,
    events_left: u64,
    /// The next row with an arrival time of its own to push.
    next_arrival: usize,
    /// Arrivals handled so far.
    num_arrived: usize,
    /// The rows released by each row's end: `released[released_starts[r]..released_starts[r + 1]]`.
    released_starts: Vec<u32>,
    released: Vec<u32>,
    halted: Option<(Halt, SimTime)>,
    finished: bool,
    pools: Vec<PoolReport>,
    /// The decode (or only) pool's speculative decoding.
    speculative: Option<Speculative>,
    /// Handoffs the replicas made, for the cluster to act on.
    handoffs: Vec<Handoff>,
    /// The end of each replica's step in flight that has an event.
    scheduled_ends: Vec<Option<SimTime>>,
    /// Tick events in the queue.
    num_ticks: usize,
    signal_delay: Option<SimDuration>,
    /// With speculative decoding: the same scenario without it, which the speed-up is
    /// measured against (run after this one).
    baseline: Option<Box<Simulation>>,
}

/// For each row, the rows that follow it, as offsets and a flat list (empty without chains).
fn released_by(trace: &Trace) -> (Vec<u32>, Vec<u32>) {
    if trace.follows.is_empty() {
        return (vec![0; trace.num_requests() + 1], Vec::new());
    }
    let mut counts = vec![0u32; trace.num_requests() + 1];
    for &previous in trace.follows.iter().filter(|&&previous| previous != crate::workload::NO_ROW) {
        counts[previous as usize + 1] += 1;
    }
    for row in 0..trace.num_requests() {
        counts[row + 1] += counts[row];
    }
    let mut filled = counts.clone();
    let mut released = vec![0u32; counts[trace.num_requests()] as usize];
    for (row, &previous) in trace.follows.iter().enumerate() {
        if previous != crate::workload::NO_ROW {
            released[filled[previous as usize] as usize] = row as u32;
            filled[previous as usize] += 1;
        }
    }
    (counts, released)
}

/// Points per latency CDF.
const CDF_POINTS: usize = 200;

/// Timeline buckets over the arrival span (more follow while the replicas drain).
const TIMELINE_BUCKETS: u64 = 1_000;

impl Simulation {
    /// Sets up `scenario` on `trace` (resolve the scenario's workload with
    /// [`crate::workload::resolve`]), advancing replicas lazily.
    ///
    /// # Errors
    ///
    /// Returns [`SimError`] when the scenario is invalid or the trace is empty.
    pub fn new(scenario: &Scenario, trace: Trace) -> Result<Simulation, SimError> {
        Simulation::with_stepping(scenario, trace, Stepping::Lazy)
    }

    /// [`Simulation::new`] with a choice of [`Stepping`].
    ///
    /// # Errors
    ///
    /// As [`Simulation::new`].
    pub fn with_stepping(scenario: &Scenario, trace: Trace, stepping: Stepping) -> Result<Simulation, SimError> {
        scenario.validate().map_err(SimError::Invalid)?;
        let Some(first_arrival) = (0..trace.num_requests()).find(|&row| !trace.is_chained(row)) else {
            return Err(SimError::EmptyWorkload);
        };
        let chained = trace.num_chained() > 0;
        let stepping = if chained { Stepping::Eager } else { stepping };
        let (released_starts, released) = released_by(&trace);
        let (cluster, pools, max_model_len) = Simulation::build_cluster(scenario, &trace, stepping);
        let speculative = scenario.pool_view(pools.last().expect("a pool").role).engine.speculative;
        let span = trace.arrived_at[trace.num_requests() - 1].saturating_since(trace.arrived_at[0]);
        let width = bucket_width_s(span.as_secs_f64(), TIMELINE_BUCKETS);
        let mut recorder = Recorder::new(&trace, max_model_len, SimDuration::from_millis(width.saturating_mul(1000)));
        if chained {
            recorder.watch_ends();
        }
        if pools.len() > 1 {
            recorder.record_transfers();
        }
        let signal_delay = signal_delay_of(scenario);
        let mut queue = EventQueue::new();
        queue.push(trace.arrived_at[first_arrival], Event::RequestArrived(RequestId(first_arrival as u32)));
        queue.push(SimTime::ZERO, Event::SampleTick);
        if signal_delay.is_some() {
            queue.push(SimTime::ZERO, Event::SignalsRefreshed);
        }
        Ok(Simulation {
            scenario: scenario.clone(),
            scheduled_ends: vec![None; cluster.engines().len()],
            cluster,
            recorder,
            num_ticks: queue.len() - 1,
            queue,
            stepping,
            events_left: scenario.limits.max_events,
            next_arrival: first_arrival + 1,
            num_arrived: 0,
            released_starts,
            released,
            halted: None,
            finished: false,
            pools,
            speculative,
            handoffs: Vec::new(),
            signal_delay,
            baseline: Simulation::baseline_of(scenario, &trace, stepping),
            trace,
        })
    }

    /// The replicas of every pool, their routers and links; the pools as the report gives
    /// them; and the longest sequence the (decode) engines allow.
    fn build_cluster(scenario: &Scenario, trace: &Trace, stepping: Stepping) -> (Cluster, Vec<PoolReport>, u64) {
        let mut engines: Vec<Engine> = Vec::new();
        let mut pools = Vec::new();
        let mut placements: Vec<Vec<Placement>> = Vec::new();
        let mut kv_bytes_per_token = 0.0;
        let gpus_per_node = u64::from(scenario.hardware.gpus_per_node);
        let transfer = scenario.deployment.disaggregated().map(|d| d.transfer.clone()).unwrap_or_default();
        let mut next_gpu = 0u64;
        let mut previous_gpu: Option<String> = None;
        let pools_and_configs: Vec<_> = scenario
            .deployment
            .pools()
            .into_iter()
            .map(|(role, pool)| (role, pool, SchedulerConfig::from_scenario(&scenario.pool_view(role))))
            .collect();
        // The decode pool decides where outputs stop; the prefill pool refuses a prompt that
        // either pool cannot hold.
        let decode_max_model_len = pools_and_configs.last().expect("a pool").2.max_model_len;
        for (role, pool, mut config) in pools_and_configs {
            let view = scenario.pool_view(role);
            let step_model = StepModel::from_scenario(&view).expect("validated: the model fits");
            config.max_model_len = config.max_model_len.min(decode_max_model_len);
            config.decode_max_model_len = decode_max_model_len;
            let class_priorities: Vec<i32> = trace
                .class_names
                .iter()
                .map(|name| view.engine.class_priorities.get(name).copied().unwrap_or(0))
                .collect();
            let gpu = view.hardware.gpu.spec().expect("validated: a known GPU");
            if previous_gpu.as_deref().is_some_and(|name| name != gpu.name) {
                // A pool of another GPU type starts a node and an NVLink domain of its own.
                let boundary = gpus_per_node.max(u64::from(transfer.nvlink_domain_gpus.unwrap_or(0)));
                next_gpu = next_gpu.div_ceil(boundary) * boundary;
            }
            previous_gpu = Some(gpu.name.clone());
            let gpus = u64::from(pool.gpus_per_replica());
            let mut pool_placements = Vec::new();
            for _ in 0..pool.replicas {
                let mut engine =
                    Engine::with_role(ReplicaId(engines.len() as u32), role, config.clone(), step_model.clone());
                engine.set_class_priorities(class_priorities.clone());
                if stepping == Stepping::Eager {
                    engine.step_one_at_a_time();
                }
                engines.push(engine);
                pool_placements.push(Placement {
                    first_gpu: next_gpu,
                    gpus,
                    nvlink_gb_s: gpu.scale_up_gb_s,
                    nic_gb_s: transfer.nic_gb_s.unwrap_or(gpu.nic_gb_s),
                });
                next_gpu += gpus;
            }
            placements.push(pool_placements);
            pools.push(PoolReport {
                role,
                replicas: pool.replicas,
                gpus_per_replica: pool.gpus_per_replica(),
                gpu: gpu.name.clone(),
                kv_capacity_tokens_per_replica: step_model.kv_capacity_tokens(),
            });
            kv_bytes_per_token = step_model.kv_bytes_per_token_per_replica();
        }
        let router = &scenario.router;
        let signal_delay = signal_delay_of(scenario);
        let cluster = match scenario.deployment.disaggregated() {
            None => Cluster::aggregated(
                engines,
                policy_for(router.kind, router, scenario.seed, StreamId::ROUTER),
                signal_delay,
            ),
            Some(disaggregated) => {
                let fabric = Fabric {
                    gpus_per_node,
                    nvlink_domain_gpus: u64::from(
                        transfer.nvlink_domain_gpus.unwrap_or(scenario.hardware.gpus_per_node),
                    ),
                    nics: transfer.nics,
                    nic_efficiency: transfer.nic_efficiency,
                };
                let links = Links::new(&placements[0], &placements[1], fabric);
                let decode_kind = router.decode_kind.unwrap_or(router.kind);
                let policies = (
                    policy_for(router.kind, router, scenario.seed, StreamId::ROUTER),
                    policy_for(decode_kind, router, scenario.seed, StreamId::ROUTER.child(1)),
                );
                let settings = TransferSettings {
                    kv_bytes_per_token,
                    latency: SimDuration::from_secs_f64(transfer.latency_us / 1e6),
                    conditional_threshold: disaggregated.conditional_threshold.map(u64::from),
                };
                let num_prefill = disaggregated.prefill.replicas as usize;
                Cluster::disaggregated(engines, num_prefill, policies, signal_delay, links, settings)
            }
        };
        (cluster, pools, decode_max_model_len)
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
        let Some(mut baseline) = self.baseline.take() else { return self.run_own(on_progress) };
        let outcome = self
            .run_own(&mut |fraction| on_progress(0.5 * fraction))
            .and_then(|()| baseline.run_own(&mut |fraction| on_progress(0.5 + 0.5 * fraction)));
        self.baseline = Some(baseline);
        outcome
    }

    /// Runs to the end without the comparison run a speculative scenario makes (its report
    /// then has no speed-up): what the bench times.
    pub fn run_without_baseline(&mut self) {
        self.baseline = None;
        let _ = self.run_own(&mut |_| true);
    }

    /// The run without speculative decoding that a speculative scenario is compared with.
    fn baseline_of(scenario: &Scenario, trace: &Trace, stepping: Stepping) -> Option<Box<Simulation>> {
        scenario.engines().find_map(|engine| engine.speculative.as_ref())?;
        let mut without = scenario.clone();
        for engine in without.engines_mut() {
            engine.speculative = None;
        }
        let baseline = Simulation::with_stepping(&without, trace.clone(), stepping)
            .expect("the scenario validated, and without speculation it still does");
        Some(Box::new(baseline))
    }

    /// Runs this simulation's own events to the end.
    fn run_own(&mut self, on_progress: &mut dyn FnMut(f64) -> bool) -> Result<(), Cancelled> {
        let total = self.trace.num_requests();
        let report_every = (total / 200).max(1);
        while !self.finished {
            // Sample ticks keep coming while any replica has a request, so an empty queue means
            // every request has ended.
            let Some((at, event)) = self.queue.pop() else {
                debug_assert!(self.cluster.is_idle(), "the queue is empty but work is left");
                self.finished = true;
                break;
            };
            if event.is_tick() {
                self.num_ticks -= 1;
            }
            if let Err(halt) = self.handle(at, event) {
                self.halted = Some((halt, at));
                self.finished = true;
                break;
            }
            if let Event::RequestArrived(_) = event {
                self.num_arrived += 1;
                let arrived = self.num_arrived;
                if arrived.is_multiple_of(report_every) && !on_progress(0.95 * arrived as f64 / total as f64) {
                    return Err(Cancelled);
                }
            }
        }
        on_progress(1.0);
        Ok(())
    }

    /// Handles one event at `at`.
    fn handle(&mut self, at: SimTime, event: Event) -> Result<(), Halt> {
        let mut ctx = StepContext {
            trace: &self.trace,
            recorder: &mut self.recorder,
            events_left: &mut self.events_left,
            handoffs: &mut self.handoffs,
        };
        if self.stepping == Stepping::Eager {
            self.cluster.advance_all(at, &mut ctx)?;
        }
        let mut wakeups = Vec::new();
        match event {
            Event::RequestArrived(request) => {
                if *ctx.events_left == 0 {
                    return Err(Halt::EventBudget);
                }
                *ctx.events_left -= 1;
                ctx.recorder.on_arrived(at);
                self.cluster.route(request, at, &mut ctx)?;
                if !self.trace.is_chained(request.index()) {
                    while self.next_arrival < self.trace.num_requests() && self.trace.is_chained(self.next_arrival) {
                        self.next_arrival += 1;
                    }
                    if self.next_arrival < self.trace.num_requests() {
                        let next = self.next_arrival;
                        self.queue.push(self.trace.arrived_at[next], Event::RequestArrived(RequestId(next as u32)));
                        self.next_arrival += 1;
                    }
                }
            }
            // Under eager stepping every replica was advanced to `at` above.
            Event::StepFinished(replica) => self.cluster.advance(replica, at, &mut ctx)?,
            Event::SampleTick if self.queue.next_due_at() == Some(at) => {
                // A sample is taken after every other event of its instant.
                self.push_tick(at, Event::SampleTick);
            }
            Event::SampleTick => {
                // Every replica is looked at: advanced to the tick, then sampled as it is then.
                self.cluster.advance_all(at, &mut ctx)?;
                let timeline = &mut ctx.recorder.timeline;
                let mut held_blocks = 0;
                for engine in self.cluster.engines() {
                    if engine.num_outstanding() > 0 || engine.num_held_for_transfer() > 0 {
                        let (waiting, used) = (engine.num_waiting() as u64, u64::from(engine.num_used_blocks()));
                        let host = engine.kv_cache().host().map_or(0, |host| host.used_blocks());
                        timeline.sample(at, engine.num_running() as u64, waiting, used, host);
                        if engine.role() == PoolRole::Decode {
                            timeline.sample_decode_pool(at, waiting, used);
                        }
                        held_blocks += engine.num_parked_blocks();
                    }
                }
                if self.pools.len() > 1 {
                    timeline.sample_held_blocks(at, held_blocks);
                }
                if self.is_busy() {
                    let next = at + self.recorder.timeline.interval();
                    self.push_tick(next, Event::SampleTick);
                }
            }
            Event::SignalsRefreshed => {
                self.cluster.refresh_signals(at, &mut ctx)?;
                if let (true, Some(delay)) = (self.is_busy(), self.signal_delay) {
                    self.push_tick(at + delay, Event::SignalsRefreshed);
                }
            }
            Event::TransferStarts(request) => self.cluster.start_transfer(request, at, &mut ctx, &mut wakeups),
            Event::TransfersDue(generation) => self.cluster.finish_transfers(at, generation, &mut ctx, &mut wakeups)?,
        }
        let mut ctx = StepContext {
            trace: &self.trace,
            recorder: &mut self.recorder,
            events_left: &mut self.events_left,
            handoffs: &mut self.handoffs,
        };
        self.cluster.process_handoffs(&mut ctx, &mut wakeups)?;
        self.push_wakeups(at, &wakeups);
        self.release_followers();
        let end_of_instant = self.queue.next_due_at() != Some(at);
        let eager = self.stepping == Stepping::Eager;
        if end_of_instant && (eager || self.pools.len() > 1) {
            let mut ctx = StepContext {
                trace: &self.trace,
                recorder: &mut self.recorder,
                events_left: &mut self.events_left,
                handoffs: &mut self.handoffs,
            };
            let mut started = Vec::new();
            self.cluster.start_pending_steps(eager, &mut ctx, &mut self.scheduled_ends, &mut started)?;
            wakeups.clear();
            self.cluster.process_handoffs(&mut ctx, &mut wakeups)?;
            for (replica, ends_at) in started {
                self.queue.push(ends_at, Event::StepFinished(replica));
            }
            self.push_wakeups(at, &wakeups);
        }
        Ok(())
    }

    /// Whether anything is left to do besides ticking: a request on a replica or a transfer,
    /// or an event that is not a tick.
    fn is_busy(&self) -> bool {
        self.queue.len() > self.num_ticks
            || self.cluster.num_transfers() > 0
            || self.cluster.engines().iter().any(|engine| engine.num_outstanding() > 0)
    }

    fn push_tick(&mut self, at: SimTime, tick: Event) {
        self.num_ticks += 1;
        self.queue.push(at, tick);
    }

    /// Queues what the cluster asked for at `now` (never earlier: replicas that hand off are
    /// current to the instant being handled).
    fn push_wakeups(&mut self, now: SimTime, wakeups: &[Wakeup]) {
        for &wakeup in wakeups {
            debug_assert!(
                matches!(wakeup, Wakeup::TransferStarts(_, at) | Wakeup::TransfersDue(at, _) if at >= now),
                "{wakeup:?} before {now:?}"
            );
            match wakeup {
                Wakeup::TransferStarts(request, at) => self.queue.push(at, Event::TransferStarts(request)),
                Wakeup::TransfersDue(at, generation) => self.queue.push(at, Event::TransfersDue(generation)),
            }
        }
    }

    /// Sends the requests that waited for the requests that just ended, each its think time
    /// after the end.
    fn release_followers(&mut self) {
        for (request, ended_at) in self.recorder.take_ended() {
            let row = request.index();
            for &follower in &self.released[self.released_starts[row] as usize..self.released_starts[row + 1] as usize]
            {
                let at = ended_at + self.trace.think_time[follower as usize];
                self.trace.arrived_at[follower as usize] = at;
                self.recorder.requests.arrived_at[follower as usize] = at;
                self.queue.push(at, Event::RequestArrived(RequestId(follower)));
            }
        }
    }

    /// Why the run stopped early, for people.
    fn stopped_early(&self) -> Option<String> {
        let (halt, at) = self.halted?;
        Some(match halt {
            Halt::EventBudget => format!(
                "the run stopped at {:.3} s simulated after {} events (limits.max_events); requests not finished \
                 by then are counted as unfinished",
                at.as_secs_f64(),
                self.scenario.limits.max_events
            ),
            Halt::Stuck(replica) => {
                format!("replica {} could not schedule any of its requests at {:.3} s", replica.0, at.as_secs_f64())
            }
        })
    }

    /// The report so far (complete after a run): summary, series and digest.
    pub fn report(&self) -> RunReport {
        let recorder = &self.recorder;
        let cluster_blocks: u64 =
            self.cluster.engines().iter().map(|engine| u64::from(engine.kv_cache().num_total_blocks())).sum();
        let host_tiers: Vec<&HostTier> =
            self.cluster.engines().iter().filter_map(|engine| engine.kv_cache().host()).collect();
        let cluster_host_blocks: u64 = host_tiers.iter().map(|host| host.capacity_blocks()).sum();
        let columns = LatencyColumns::of(&recorder.requests);
        let deployment = &self.scenario.deployment;
        let board_watts = deployment
            .pools()
            .iter()
            .map(|&(role, pool)| {
                let power = self.scenario.pool_view(role).hardware.gpu.spec().map_or(0.0, |gpu| gpu.power_w);
                pool.num_gpus() as f64 * power
            })
            .sum();
        let facts = DeploymentFacts {
            num_gpus: deployment.num_gpus(),
            board_watts,
            usd_per_gpu_hour: self.scenario.cost.usd_per_gpu_hour,
            num_replicas: deployment.num_replicas(),
            prefix_caching: self.scenario.pool_view(self.pools[0].role).engine.prefix_caching,
        };
        let mut summary = Summary::of(&recorder.requests, &columns, &recorder.itl, &self.scenario.slo, &facts);
        if cluster_host_blocks > 0 {
            let cache = &mut summary.prefix_cache;
            cache.host_cached_tokens = recorder.host_cached_tokens;
            cache.host_hit_rate = if cache.prompt_tokens == 0 {
                0.0
            } else {
                recorder.host_cached_tokens as f64 / cache.prompt_tokens as f64
            };
            summary.host_kv = Some(HostKvSummary::of(cluster_host_blocks, host_tiers.iter().map(|host| host.counts())));
        }
        let link_capacity = self.cluster.links().map_or(0.0, |links| links.used_send_capacity());
        summary.kv_transfer = KvTransferSummary::of(&recorder.requests, link_capacity);
        let pool_scale = (self.pools.len() > 1).then(|| {
            let blocks_of = |role: PoolRole| -> u64 {
                let engines = self.cluster.engines().iter().filter(|engine| engine.role() == role);
                engines.map(|engine| u64::from(engine.kv_cache().num_total_blocks())).sum()
            };
            PoolScale {
                prefill_blocks: blocks_of(PoolRole::Prefill),
                decode_blocks: blocks_of(PoolRole::Decode),
                link_capacity_bytes_per_s: link_capacity,
            }
        });
        if let Some(speculative) = &self.speculative {
            summary.speculative =
                SpeculativeSummary::of(recorder.num_verified, recorder.num_accepted, speculative.expected_accepted());
            let baseline = self.baseline.as_ref().filter(|baseline| baseline.finished);
            // The summary's mean TPOT, without the rest of the baseline's report.
            let baseline_tpot_ms = baseline
                .and_then(|baseline| Quantiles::of_sorted(&LatencyColumns::of(&baseline.recorder.requests).tpot_ms))
                .map(|tpot| tpot.mean);
            summary.speculative.baseline_tpot_ms = baseline_tpot_ms;
            summary.speculative.tpot_speedup = baseline_tpot_ms
                .zip(summary.tpot_ms.as_ref())
                .map(|(baseline, tpot)| baseline / tpot.mean.max(f64::MIN_POSITIVE));
        }
        RunReport {
            summary,
            series: recorder.timeline.series(cluster_blocks, cluster_host_blocks, pool_scale),
            latency_cdfs: vec![
                Series::cdf_of_sorted(SeriesId::TtftCdf, &columns.ttft_ms, CDF_POINTS),
                Series::cdf_of_sorted(SeriesId::TpotCdf, &columns.tpot_ms, CDF_POINTS),
                Series::cdf_of_sorted(SeriesId::E2eCdf, &columns.e2e_ms, CDF_POINTS),
            ],
            kv_capacity_tokens_per_replica: self.pools[0].kv_capacity_tokens_per_replica,
            pools: self.pools.clone(),
            engine_steps: recorder.num_steps,
            stopped_early: self.stopped_early(),
            digest: recorder.requests.digest(),
        }
    }

    /// The report and a copy of the per-request records.
    pub fn results(&self) -> RunResult {
        RunResult { report: self.report(), requests: self.recorder.requests.clone() }
    }

    /// The replicas, for inspection (tests, invariant checks).
    pub fn engines(&self) -> &[Engine] {
        self.cluster.engines()
    }
}

/// How stale the routers' load signals are, if they are.
fn signal_delay_of(scenario: &Scenario) -> Option<SimDuration> {
    let delay_ms = scenario.router.signal_delay_ms;
    (delay_ms > 0.0).then(|| SimDuration::from_secs_f64(delay_ms / 1e3).max(SimDuration::from_nanos(1)))
}
