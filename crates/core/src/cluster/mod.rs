//! The cluster: pools of replicas behind routers, and the links between pools.
//!
//! An aggregated deployment is one pool behind one router. A disaggregated one has a prefill
//! pool and a decode pool (replica ids: the prefill pool's first) and moves each prompt's KV
//! between them: an arriving request is given a decode replica by the decode router (whose
//! load counts the requests on their way to it), and — unless conditional disaggregation keeps
//! a short uncached prompt on that decode replica — a prefill replica by the prefill router. When
//! the prefill replica hands the request off ([`Handoff::PrefillDone`]) the decode replica
//! queues it; when it reserves the blocks ([`Handoff::KvReserved`]) the transfer starts after
//! the link's latency and shares the [`Links`] with the others in flight; when it ends, the
//! prefill replica frees its blocks and the decode replica runs the request.
//!
//! Routers look at replicas when a request arrives; a replica looked at is first advanced to
//! the arrival instant, so it is seen as it is then — or, with stale signals, its load is read
//! from the snapshot of the last refresh. Replicas interact only through such looks and the
//! handoffs, which is why the driver may advance each one lazily (`sim`'s module docs).

mod links;
mod router;

pub use links::{Fabric, Links, Placement, NVLINK_COPY_EFFICIENCY};
pub use router::{
    policy_for, KvAware, LeastKv, LeastOutstanding, LoadSignals, PoolView, PowerOfTwoChoices, RandomChoice, RoundRobin,
    RouteRequest, RoutingPolicy, SessionAffinity,
};

use std::collections::BTreeMap;
use std::ops::Range;

use crate::engine::{Engine, Halt, Handoff, StepContext};
use crate::ids::{ReplicaId, RequestId};
use crate::time::{SimDuration, SimTime};

/// One pool's router and the view of load it reads.
struct Router {
    policy: Box<dyn RoutingPolicy>,
    /// The pool's replicas (ids).
    replicas: Range<usize>,
    /// The load signals of the last refresh, when they are stale.
    snapshot: Option<Vec<LoadSignals>>,
}

/// What the cluster asks the driver to do later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wakeup {
    /// Start moving the request's KV (its transfer's latency has passed).
    TransferStarts(RequestId, SimTime),
    /// The next transfer ends then, if the links' generation is still this one.
    TransfersDue(SimTime, u64),
}

/// The links between the pools and the transfers waiting to start.
struct Disaggregation {
    links: Links,
    /// KV bytes one token takes on a decode replica.
    kv_bytes_per_token: f64,
    latency: SimDuration,
    conditional_threshold: Option<u64>,
    /// What is assigned to each decode replica and not handed to it yet: requests, and the
    /// blocks of their prompts (added to its load signals, live).
    incoming: Vec<LoadSignals>,
    /// Transfers in their latency: `(from prefill, to decode, bytes)`.
    starting: BTreeMap<RequestId, (usize, usize, f64)>,
    scratch_ended: Vec<RequestId>,
}

/// Replicas, their routers and the links between pools.
pub struct Cluster {
    engines: Vec<Engine>,
    router: Router,
    decode_router: Option<Router>,
    disaggregation: Option<Disaggregation>,
}

/// The settings of a disaggregated cluster's transfers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransferSettings {
    /// KV bytes per token on a decode replica.
    pub kv_bytes_per_token: f64,
    /// Fixed latency of each transfer.
    pub latency: SimDuration,
    /// Prefill on the decode replica when the uncached prompt is shorter than this.
    pub conditional_threshold: Option<u64>,
}

impl Cluster {
    /// One aggregated pool of `engines` behind `policy`; `signal_delay` makes its load signals
    /// stale.
    ///
    /// # Panics
    ///
    /// Panics if `engines` is empty.
    pub fn aggregated(
        engines: Vec<Engine>,
        policy: Box<dyn RoutingPolicy>,
        signal_delay: Option<SimDuration>,
    ) -> Cluster {
        assert!(!engines.is_empty(), "a cluster needs at least one replica");
        let router = Router::new(policy, 0..engines.len(), signal_delay);
        Cluster { engines, router, decode_router: None, disaggregation: None }
    }

    /// A prefill pool (`engines[..num_prefill]`) and a decode pool (the rest), each behind its
    /// policy, joined by `links`.
    ///
    /// # Panics
    ///
    /// Panics if either pool is empty.
    pub fn disaggregated(
        engines: Vec<Engine>,
        num_prefill: usize,
        (prefill_policy, decode_policy): (Box<dyn RoutingPolicy>, Box<dyn RoutingPolicy>),
        signal_delay: Option<SimDuration>,
        links: Links,
        settings: TransferSettings,
    ) -> Cluster {
        assert!(num_prefill > 0 && engines.len() > num_prefill, "both pools need a replica");
        let num_decode = engines.len() - num_prefill;
        Cluster {
            router: Router::new(prefill_policy, 0..num_prefill, signal_delay),
            decode_router: Some(Router::new(decode_policy, num_prefill..engines.len(), signal_delay)),
            disaggregation: Some(Disaggregation {
                links,
                kv_bytes_per_token: settings.kv_bytes_per_token,
                latency: settings.latency,
                conditional_threshold: settings.conditional_threshold,
                incoming: vec![LoadSignals::default(); num_decode],
                starting: BTreeMap::new(),
                scratch_ended: Vec::new(),
            }),
            engines,
        }
    }

    /// The replicas (a disaggregated cluster's prefill pool first).
    pub fn engines(&self) -> &[Engine] {
        &self.engines
    }

    /// The links, when the cluster is disaggregated.
    pub fn links(&self) -> Option<&Links> {
        self.disaggregation.as_ref().map(|d| &d.links)
    }

    /// Transfers started or waiting out their latency.
    pub fn num_transfers(&self) -> usize {
        self.disaggregation.as_ref().map_or(0, |d| d.links.num_in_flight() + d.starting.len())
    }

    /// Whether nothing is left anywhere: no request on a replica or on its way to one, no
    /// transfer.
    pub fn is_idle(&self) -> bool {
        self.num_transfers() == 0
            && self.engines.iter().all(|engine| engine.num_outstanding() == 0)
            && self.disaggregation.as_ref().is_none_or(|d| d.incoming.iter().all(|&n| n == LoadSignals::default()))
    }

    /// Routes `request`, arriving at `at`: to a replica of an aggregated pool; to a decode
    /// replica and (unless it prefills there) a prefill replica of a disaggregated one.
    ///
    /// # Errors
    ///
    /// Returns the [`Halt`] of a replica that could not be advanced to `at`.
    pub fn route(&mut self, request: RequestId, at: SimTime, ctx: &mut StepContext<'_>) -> Result<(), Halt> {
        let Some(decode_router) = &mut self.decode_router else {
            let chosen = self.router.choose(&mut self.engines, request, at, ctx, None)?;
            return self.hand_to(chosen, request, at, ctx);
        };
        let disaggregation = self.disaggregation.as_mut().expect("a decode router has links");
        let decode = decode_router.choose(&mut self.engines, request, at, ctx, Some(&disaggregation.incoming))?;
        ctx.recorder.on_decode_assigned(request, ReplicaId(decode as u32));
        if let Some(threshold) = disaggregation.conditional_threshold {
            let engine = &mut self.engines[decode];
            engine.advance_to(at, ctx)?;
            let prompt = u64::from(ctx.trace.prompt_tokens[request.index()]);
            if prompt - engine.cached_prefix_tokens(ctx.trace, request).min(prompt) < threshold {
                return self.hand_to(decode, request, at, ctx);
            }
        }
        disaggregation.incoming[decode - decode_router.replicas.start].add(&incoming_load(
            &self.engines[decode],
            ctx,
            request,
        ));
        let prefill = self.router.choose(&mut self.engines, request, at, ctx, None)?;
        self.hand_to(prefill, request, at, ctx)
    }

    fn hand_to(
        &mut self,
        replica: usize,
        request: RequestId,
        at: SimTime,
        ctx: &mut StepContext<'_>,
    ) -> Result<(), Halt> {
        let engine = &mut self.engines[replica];
        engine.advance_to(at, ctx)?;
        engine.enqueue(request, at, ctx);
        Ok(())
    }

    /// Acts on what the replicas handed off (`ctx.handoffs`, drained): a computed prompt goes
    /// to its decode replica's queue; reserved blocks start a transfer after its latency.
    ///
    /// # Errors
    ///
    /// Returns the [`Halt`] of a replica that could not be advanced.
    pub fn process_handoffs(&mut self, ctx: &mut StepContext<'_>, wakeups: &mut Vec<Wakeup>) -> Result<(), Halt> {
        while !ctx.handoffs.is_empty() {
            let handoffs = std::mem::take(ctx.handoffs);
            for handoff in &handoffs {
                self.on_handoff(*handoff, ctx, wakeups)?;
            }
            if ctx.handoffs.is_empty() {
                *ctx.handoffs = handoffs;
                ctx.handoffs.clear();
            }
        }
        Ok(())
    }

    fn on_handoff(
        &mut self,
        handoff: Handoff,
        ctx: &mut StepContext<'_>,
        wakeups: &mut Vec<Wakeup>,
    ) -> Result<(), Halt> {
        let disaggregation = self.disaggregation.as_mut().expect("only disaggregated replicas hand off");
        let first_decode = self.router.replicas.end;
        match handoff {
            Handoff::EndedOnPrefill { request } => {
                let decode = ctx.recorder.decode_replica(request).expect("assigned on arrival").0 as usize;
                disaggregation.incoming[decode - first_decode].remove(&incoming_load(
                    &self.engines[decode],
                    ctx,
                    request,
                ));
            }
            Handoff::PrefillDone { request, at } => {
                let decode = ctx.recorder.decode_replica(request).expect("assigned on arrival").0 as usize;
                disaggregation.incoming[decode - first_decode].remove(&incoming_load(
                    &self.engines[decode],
                    ctx,
                    request,
                ));
                let engine = &mut self.engines[decode];
                engine.advance_to(at, ctx)?;
                engine.enqueue_remote(request, at, ctx);
            }
            Handoff::KvReserved { request, replica, at, tokens } => {
                let bytes = tokens as f64 * disaggregation.kv_bytes_per_token;
                ctx.recorder.on_kv_reserved(request, at, bytes as u64);
                let from = ctx.recorder.requests.replica[request.index()] as usize;
                let route = (from, replica.0 as usize - first_decode, bytes);
                disaggregation.starting.insert(request, route);
                wakeups.push(Wakeup::TransferStarts(request, at + disaggregation.latency));
            }
        }
        Ok(())
    }

    /// The latency of `request`'s transfer has passed: its bytes start to flow.
    pub fn start_transfer(
        &mut self,
        request: RequestId,
        at: SimTime,
        ctx: &mut StepContext<'_>,
        wakeups: &mut Vec<Wakeup>,
    ) {
        let disaggregation = self.disaggregation.as_mut().expect("transfers need links");
        let (from, to, bytes) = disaggregation.starting.remove(&request).expect("a transfer waiting to start");
        let timeline = &mut ctx.recorder.timeline;
        let next = disaggregation.links.start(at, request, (from, to), bytes, &mut |start, end, rate, transfers| {
            timeline.add_link_activity(start, end, rate, transfers)
        });
        if let Some(due) = next {
            wakeups.push(Wakeup::TransfersDue(due, disaggregation.links.generation()));
        }
    }

    /// Ends the transfers due at `at` (unless `generation` is stale): each one's prefill
    /// replica frees its blocks and its decode replica runs it.
    ///
    /// # Errors
    ///
    /// Returns the [`Halt`] of a replica that could not be advanced to `at`.
    pub fn finish_transfers(
        &mut self,
        at: SimTime,
        generation: u64,
        ctx: &mut StepContext<'_>,
        wakeups: &mut Vec<Wakeup>,
    ) -> Result<(), Halt> {
        let disaggregation = self.disaggregation.as_mut().expect("transfers need links");
        if generation != disaggregation.links.generation() {
            return Ok(());
        }
        let mut ended = std::mem::take(&mut disaggregation.scratch_ended);
        let timeline = &mut ctx.recorder.timeline;
        let next = disaggregation.links.finish_due(at, &mut ended, &mut |start, end, rate, transfers| {
            timeline.add_link_activity(start, end, rate, transfers)
        });
        if let Some(due) = next {
            wakeups.push(Wakeup::TransfersDue(due, disaggregation.links.generation()));
        }
        for &request in &ended {
            let prefill = ctx.recorder.requests.replica[request.index()] as usize;
            let decode = ctx.recorder.decode_replica(request).expect("assigned on arrival").0 as usize;
            self.engines[prefill].advance_to(at, ctx)?;
            self.engines[prefill].release_parked(request, at);
            self.engines[decode].advance_to(at, ctx)?;
            self.engines[decode].on_kv_received(ctx.trace, request, at);
            ctx.recorder.on_kv_received(request, at);
            ctx.recorder.on_first_token(request, at);
        }
        ended.clear();
        self.disaggregation.as_mut().expect("checked").scratch_ended = ended;
        Ok(())
    }

    /// Advances every replica to `at` and takes the routers' snapshot of their load.
    ///
    /// # Errors
    ///
    /// Returns the first [`Halt`].
    pub fn refresh_signals(&mut self, at: SimTime, ctx: &mut StepContext<'_>) -> Result<(), Halt> {
        self.advance_all(at, ctx)?;
        for router in std::iter::once(&mut self.router).chain(self.decode_router.as_mut()) {
            if let Some(snapshot) = &mut router.snapshot {
                snapshot.clear();
                snapshot.extend(self.engines[router.replicas.clone()].iter().map(signals_of));
            }
        }
        Ok(())
    }

    /// Advances replica `replica` to `until`.
    ///
    /// # Errors
    ///
    /// Returns its [`Halt`].
    pub fn advance(&mut self, replica: ReplicaId, until: SimTime, ctx: &mut StepContext<'_>) -> Result<(), Halt> {
        self.engines[replica.index()].advance_to(until, ctx)
    }

    /// Advances every replica to `until`.
    ///
    /// # Errors
    ///
    /// Returns the first [`Halt`].
    pub fn advance_all(&mut self, until: SimTime, ctx: &mut StepContext<'_>) -> Result<(), Halt> {
        self.engines.iter_mut().try_for_each(|engine| engine.advance_to(until, ctx))
    }

    /// Makes sure the driver sees the step ends it must: for every replica (`every`) or only
    /// those whose next step may hand something off, starts a step where one is pending and
    /// lists each step in flight whose end is not in `scheduled` yet (updating it).
    ///
    /// # Errors
    ///
    /// Returns the first [`Halt`].
    pub fn start_pending_steps(
        &mut self,
        every: bool,
        ctx: &mut StepContext<'_>,
        scheduled: &mut [Option<SimTime>],
        started: &mut Vec<(ReplicaId, SimTime)>,
    ) -> Result<(), Halt> {
        for (index, engine) in self.engines.iter_mut().enumerate() {
            if !every && !engine.hands_off() {
                continue;
            }
            engine.start_pending_step(ctx)?;
            if let Some(ends_at) = engine.next_event_at() {
                if scheduled[index] != Some(ends_at) {
                    scheduled[index] = Some(ends_at);
                    started.push((engine.replica(), ends_at));
                }
            }
        }
        Ok(())
    }
}

/// What `request`, on its way to decode replica `engine`, adds to its load: one request and
/// its prompt's blocks.
fn incoming_load(engine: &Engine, ctx: &StepContext<'_>, request: RequestId) -> LoadSignals {
    let prompt = u64::from(ctx.trace.prompt_tokens[request.index()]);
    LoadSignals {
        outstanding: 1,
        waiting_blocks: prompt.div_ceil(u64::from(engine.block_size())),
        ..LoadSignals::default()
    }
}

/// What a router reads of `engine` now.
fn signals_of(engine: &Engine) -> LoadSignals {
    let block_size = u64::from(engine.block_size());
    LoadSignals {
        outstanding: engine.num_outstanding(),
        used_blocks: u64::from(engine.num_used_blocks()),
        total_blocks: u64::from(engine.kv_cache().num_total_blocks()),
        waiting_blocks: engine.num_waiting_tokens().div_ceil(block_size),
    }
}

impl Router {
    fn new(policy: Box<dyn RoutingPolicy>, replicas: Range<usize>, signal_delay: Option<SimDuration>) -> Router {
        let snapshot = signal_delay.map(|_| vec![LoadSignals::default(); replicas.len()]);
        Router { policy, replicas, snapshot }
    }

    /// Picks a replica id for `request` at `at`; `incoming` adds the requests on their way to
    /// each replica to its load.
    fn choose(
        &mut self,
        engines: &mut [Engine],
        request: RequestId,
        at: SimTime,
        ctx: &mut StepContext<'_>,
        incoming: Option<&[LoadSignals]>,
    ) -> Result<usize, Halt> {
        let pool = &mut engines[self.replicas.clone()];
        let block_size = u64::from(pool[0].block_size());
        let route = RouteRequest {
            session: ctx.trace.sessions.get(request.index()).copied(),
            prompt_blocks: u64::from(ctx.trace.prompt_tokens[request.index()]).div_ceil(block_size),
        };
        let mut view =
            LivePool { engines: pool, request, at, ctx, snapshot: self.snapshot.as_deref(), incoming, halted: None };
        let chosen = self.policy.choose(&route, &mut view);
        if let Some(halt) = view.halted {
            return Err(halt);
        }
        Ok(self.replicas.start + chosen)
    }
}

/// A pool as a policy sees it at a routing instant.
struct LivePool<'a, 'c> {
    engines: &'a mut [Engine],
    request: RequestId,
    at: SimTime,
    ctx: &'a mut StepContext<'c>,
    snapshot: Option<&'a [LoadSignals]>,
    incoming: Option<&'a [LoadSignals]>,
    halted: Option<Halt>,
}

impl LivePool<'_, '_> {
    /// Replica `index`, advanced to the routing instant.
    fn engine(&mut self, index: usize) -> &mut Engine {
        let engine = &mut self.engines[index];
        if let Err(halt) = engine.advance_to(self.at, self.ctx) {
            self.halted.get_or_insert(halt);
        }
        engine
    }
}

impl PoolView for LivePool<'_, '_> {
    fn num_replicas(&self) -> usize {
        self.engines.len()
    }

    fn load(&mut self, index: usize) -> LoadSignals {
        let mut signals = match self.snapshot {
            Some(snapshot) => snapshot[index],
            None => signals_of(self.engine(index)),
        };
        if let Some(incoming) = self.incoming {
            signals.add(&incoming[index]);
        }
        signals
    }

    fn cached_blocks(&mut self, index: usize) -> u64 {
        let (request, trace) = (self.request, self.ctx.trace);
        let engine = self.engine(index);
        let block_size = u64::from(engine.block_size());
        engine.cached_prefix_tokens(trace, request) / block_size
    }
}
