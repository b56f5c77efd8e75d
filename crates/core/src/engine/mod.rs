//! One replica's engine: a continuous-batching scheduler modelled on vLLM V1, its KV cache
//! manager with prefix caching, and its clock.
//!
//! **Two phases per step.** When a step starts, the scheduler fixes its plan: which requests
//! run and how many tokens each computes, which are admitted or preempted, which KV blocks are
//! allocated; the [`StepModel`] gives its duration. When it ends, its effects apply: tokens are
//! emitted, prompts complete, finished requests free their blocks. Whatever looks at the engine
//! at an instant sees its state at that instant: a step in progress is planned but none of its
//! effects are visible. [`Engine::advance_to`] applies every step that ends by an instant and
//! starts the steps that begin before it, so a step starting at `t` sees every arrival at `t`
//! (the driver delivers all events of an instant before advancing past it).
//!
//! **The schedule follows vLLM V1** (`Scheduler.schedule`): the running requests in admission
//! order, each taking its new tokens from the step's budget (one per decode; the rest of the
//! prompt, capped by the budget, for a chunked prefill), allocating their KV blocks and, when
//! blocks run out, preempting the [`PreemptionPolicy`]'s victim (the newest request) until
//! they fit; then, unless something was preempted, waiting requests in [`WaitingQueue`] order
//! while the budget, `max_num_seqs` and the free blocks allow, each first looking up its
//! cached prefix. A preempted request frees its blocks (its prefix and private blocks stay
//! cached) and is recomputed later: its prompt plus the tokens it had generated.
//!
//! **Beyond vLLM V1's defaults**, the engine takes the scenario's policies: priority scheduling
//! ([`ByRank`], [`LowestRankFirst`]), queue timeouts, speculative decoding (each decode verifies
//! `k + 1` tokens and accepts a seeded random number of them), a host KV tier behind the cache
//! ([`HostTier`]: evicted blocks, loaded back over the host link) and swap preemption.
//!
//! **Disaggregated roles.** A prefill replica ([`PoolRole::Prefill`]) stops a request once its
//! prompt is computed and its first token sampled: the request leaves the running list, its
//! blocks stay *parked* until the cluster says its KV has been moved ([`Engine::release_parked`]),
//! and a [`Handoff::PrefillDone`] tells the cluster. A decode replica ([`PoolRole::Decode`])
//! takes such a request with [`Engine::enqueue_remote`]: the scheduler admits it in queue order
//! by reserving the blocks of its prompt (less what the replica has cached) without computing
//! anything, and a [`Handoff::KvReserved`] asks for the transfer; the request waits in
//! *receiving* until [`Engine::on_kv_received`], then runs its first decode step as a one-token
//! chunk on top of the received context and joins the decode pool. A request that cannot get
//! its blocks waits in the queue (holding the prefill replica's blocks: back-pressure). An
//! engine whose only requests wait on transfers idles until one completes.
//!
//! **Steady decoding costs O(1) per step** ([`DecodePool`]): in any reachable state the decoding
//! sequences are all older than any partial prefill (a prompt left unfinished took the last of
//! the budget, so nothing was admitted after it), so the running walk gives every decode its
//! token first and the pool advances them all at once. Only joins, leaves, block-boundary
//! crossings and preemptions are explicit work.

mod config;
mod decode_pool;
pub mod host_tier;
pub mod kv_cache;
pub mod policy;
mod request_kv;
#[cfg(test)]
mod tests;

pub use config::SchedulerConfig;
pub use decode_pool::{DecodePool, Departed, SlotRef, SpeculativeStep};
pub use host_tier::{HostCounts, HostTier};
pub use kv_cache::{BlockKey, CachedRun, KvCacheManager, OutOfBlocks, RunId};
pub use policy::{
    ByRank, Fcfs, LowestRankFirst, NewestFirst, PreemptionMode, PreemptionPolicy, Recompute, SwapToHost, Waiting,
    WaitingQueue,
};
pub use request_kv::{Hit, PrefixLayout, RequestKv};

use std::collections::BTreeMap;

use crate::ids::{ReplicaId, RequestId};
use crate::metrics::{generated_tokens, DecodeSteps, Recorder, RejectReason};
use crate::perf::{BatchShape, DecodeCost, PrefillChunk, StepModel};
use crate::rng::{RngStream, StreamId};
use crate::scenario::{PoolRole, Preemption, Scheduling};
use crate::time::{SimDuration, SimTime};
use crate::workload::Trace;

/// A running request as the preemption policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Running {
    /// The request.
    pub request: RequestId,
    /// Its rank under priority scheduling ([`Waiting::rank`]).
    pub rank: i64,
    place: Place,
}

impl Running {
    /// A running request of `rank` that is computing its prompt.
    pub fn prefilling(request: RequestId, rank: i64) -> Running {
        Running { request, rank, place: Place::Prefilling }
    }
}

/// Speculative decoding's draws and counts on one replica.
#[derive(Clone, Debug)]
struct Speculation {
    /// `thresholds[i]` = P(accepted ≤ i) × 2⁶⁴: a uniform draw's accepted count is the number
    /// of thresholds at or below it.
    thresholds: Vec<u64>,
    rng: RngStream,
}

impl Speculation {
    fn new(distribution: &[f64], seed: u64, replica: ReplicaId) -> Speculation {
        let mut cumulative = 0.0;
        let thresholds = distribution[..distribution.len() - 1]
            .iter()
            .map(|p| {
                cumulative += p;
                (cumulative.min(1.0) * 18_446_744_073_709_551_616.0) as u64
            })
            .collect();
        Speculation { thresholds, rng: RngStream::new(seed, StreamId::SPEC_DECODE.child(u64::from(replica.0))) }
    }

    #[inline]
    fn draw(&mut self) -> u64 {
        let u = self.rng.next_u64();
        self.thresholds.iter().take_while(|&&threshold| u >= threshold).count() as u64
    }
}

/// Where a running request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Prefilling,
    Decoding(SlotRef),
}

/// A request whose prompt (or recompute) is being computed, possibly over several steps.
#[derive(Clone, Debug)]
struct Prefilling {
    waiting: Waiting,
    /// Tokens with KV (cache hits included).
    computed: u64,
    kv: RequestKv,
    admitted: u64,
}

/// The step in progress: fixed when it started, applied when it ends. Kept in place (not
/// moved in and out of an `Option`): the steady decode loop touches only its scalars.
#[derive(Clone, Debug, Default)]
struct StepPlan {
    in_flight: bool,
    ends_at: SimTime,
    duration: SimDuration,
    /// Decoding sequences, one token each, or their verified tokens (the whole pool).
    num_decodes: u32,
    /// `(index in prefilling, new tokens)` of each prefill chunk.
    chunks: Vec<(usize, u64)>,
    /// KV tokens the step copies over the host link first: host-tier hits loaded, swaps in
    /// and out.
    host_copied_tokens: u64,
}

/// What an engine reads and writes while it advances: the requests' lengths and prefix hashes,
/// the run's records, how many more events the run may process, and the handoffs it leaves for
/// the cluster.
pub struct StepContext<'a> {
    /// The workload (prompt and output lengths, prefix hashes).
    pub trace: &'a Trace,
    /// The run's records.
    pub recorder: &'a mut Recorder,
    /// Events (steps) the run may still process.
    pub events_left: &'a mut u64,
    /// What disaggregated replicas tell the cluster, in the order it happened.
    pub handoffs: &'a mut Vec<Handoff>,
}

/// What a disaggregated replica tells the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// A prefill replica computed `request`'s prompt and sampled its first token at `at`; its
    /// KV stays parked there.
    PrefillDone {
        /// The request.
        request: RequestId,
        /// When its first token was sampled.
        at: SimTime,
    },
    /// A prefill replica ended `request` itself — refused it, dropped it from its queue, or
    /// finished it with its only token — so it will not reach its decode replica.
    EndedOnPrefill {
        /// The request.
        request: RequestId,
    },
    /// A decode replica reserved blocks for `request`'s prompt at `at`; `tokens` of its KV
    /// (the prompt less what the replica had cached) must be moved.
    KvReserved {
        /// The request.
        request: RequestId,
        /// The decode replica.
        replica: ReplicaId,
        /// When the blocks were reserved.
        at: SimTime,
        /// KV tokens to move.
        tokens: u64,
    },
}

/// A request whose KV a replica holds for a transfer: parked on a prefill replica until it has
/// been sent, or reserved on a decode replica until it has arrived.
#[derive(Clone, Debug)]
struct HeldForTransfer {
    waiting: Waiting,
    /// Tokens its blocks hold (the prompt).
    tokens: u64,
    kv: RequestKv,
}

/// Why an engine stopped advancing before the instant it was asked to reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Halt {
    /// The run's event budget is spent.
    EventBudget,
    /// The replica has requests but cannot schedule any (a bug: validation rules it out).
    Stuck(ReplicaId),
}

/// One replica's scheduler, KV cache and clock.
#[derive(Debug)]
pub struct Engine {
    replica: ReplicaId,
    role: PoolRole,
    config: SchedulerConfig,
    step_model: StepModel,
    kv: KvCacheManager,
    watermark_blocks: u32,
    waiting: Box<dyn WaitingQueue>,
    /// `waiting.len()`, kept here so that the steady decode loop makes no virtual call.
    num_waiting: usize,
    preemption: Box<dyn PreemptionPolicy>,
    preemption_mode: Box<dyn PreemptionMode>,
    prefilling: Vec<Prefilling>,
    decoding: DecodePool<RequestKv>,
    running: BTreeMap<u64, Running>,
    next_admission: u64,
    /// The instant the engine's state is current to: the end of the last step, or the last
    /// arrival while idle.
    now: SimTime,
    plan: StepPlan,
    num_outstanding: u64,
    /// Fixed step cost per decode batch size, seconds (filled lazily), for O(1) decode steps.
    decode_costs: Vec<DecodeCost>,
    num_steps: u64,
    /// Whether steady decode steps may run in one tight loop ([`Engine::run_decode_stretch`]).
    stretches: bool,
    scratch_departed: Vec<Departed<RequestKv>>,
    scratch_chunks: Vec<PrefillChunk>,
    scratch_hit: Hit,
    scratch_expired: Vec<Waiting>,
    /// Tokens each decode computes in a step (1, or the verified draft tokens plus one).
    tokens_per_decode: u32,
    speculation: Option<Speculation>,
    /// Priority of each request class of the trace (lower first).
    class_priorities: Vec<i32>,
    /// KV tokens the next step copies over the host link first: swapped out while the step
    /// being planned preempted, or loaded from the host tier for a reserved transfer.
    pending_host_copy_tokens: u64,
    /// With `reserve_kv_for_output`: the blocks the running requests reserved in all.
    reserved_blocks: u64,
    /// Prompt tokens of the requests waiting (a load signal routers read).
    num_waiting_tokens: u64,
    /// Decode role: waiting requests whose KV is not reserved yet.
    num_remote_waiting: usize,
    /// Prefill role: requests whose KV waits to be sent.
    parked: BTreeMap<RequestId, HeldForTransfer>,
    /// Decode role: requests whose KV is on its way.
    receiving: BTreeMap<RequestId, HeldForTransfer>,
    /// Whether nothing can be scheduled until a transfer completes (parked or receiving blocks
    /// are what is missing).
    idle_until_transfer: bool,
}

impl Engine {
    /// An idle engine whose KV cache holds `step_model.kv_capacity_tokens()` tokens, with the
    /// policies `config` names: FCFS admission and newest-first preemption (vLLM V1's
    /// defaults), or by rank for priority scheduling; speculative decoding when the step model
    /// verifies draft tokens.
    pub fn new(replica: ReplicaId, config: SchedulerConfig, step_model: StepModel) -> Engine {
        Engine::with_role(replica, PoolRole::Aggregated, config, step_model)
    }

    /// An idle engine of a pool with `role` ([`Engine::new`] for an aggregated one).
    pub fn with_role(replica: ReplicaId, role: PoolRole, config: SchedulerConfig, step_model: StepModel) -> Engine {
        let num_blocks =
            u32::try_from(step_model.kv_capacity_tokens() / u64::from(config.block_size)).unwrap_or(u32::MAX);
        let (waiting, preemption): (Box<dyn WaitingQueue>, Box<dyn PreemptionPolicy>) = match config.scheduling {
            Scheduling::Fcfs => (Box::new(Fcfs::default()), Box::new(NewestFirst)),
            Scheduling::Priority => (Box::new(ByRank::default()), Box::new(LowestRankFirst)),
        };
        let preemption_mode: Box<dyn PreemptionMode> = match config.preemption {
            Preemption::Recompute => Box::new(Recompute),
            Preemption::Swap => Box::new(SwapToHost),
        };
        let tokens_per_decode = step_model.tokens_per_decode();
        let speculation = config
            .accepted_distribution
            .as_deref()
            .filter(|_| tokens_per_decode > 1)
            .map(|distribution| Speculation::new(distribution, config.seed, replica));
        let decoding = if speculation.is_some() {
            DecodePool::speculative(config.block_size, tokens_per_decode)
        } else {
            DecodePool::new(config.block_size)
        };
        let host_blocks = step_model.host_kv_blocks(config.host_kv_cache_gb, config.block_size);
        let kv = if host_blocks > 0 {
            KvCacheManager::with_host_tier(num_blocks, host_blocks)
        } else {
            KvCacheManager::new(num_blocks)
        };
        Engine {
            replica,
            role,
            watermark_blocks: (f64::from(num_blocks) * config.watermark) as u32,
            config,
            step_model,
            kv,
            waiting,
            num_waiting: 0,
            preemption,
            preemption_mode,
            prefilling: Vec::new(),
            decoding,
            running: BTreeMap::new(),
            next_admission: 0,
            now: SimTime::ZERO,
            plan: StepPlan::default(),
            num_outstanding: 0,
            decode_costs: Vec::new(),
            num_steps: 0,
            stretches: speculation.is_none(),
            scratch_departed: Vec::new(),
            scratch_chunks: Vec::new(),
            scratch_hit: Hit::default(),
            scratch_expired: Vec::new(),
            tokens_per_decode,
            speculation,
            class_priorities: Vec::new(),
            pending_host_copy_tokens: 0,
            reserved_blocks: 0,
            num_waiting_tokens: 0,
            num_remote_waiting: 0,
            parked: BTreeMap::new(),
            receiving: BTreeMap::new(),
            idle_until_transfer: false,
        }
    }

    /// The blocks `request` reserves under `reserve_kv_for_output`: its prompt, its whole
    /// output and the tokens a step verifies beyond it.
    fn reservation(&self, trace: &Trace, request: RequestId) -> u64 {
        let prompt = u64::from(trace.prompt_tokens[request.index()]);
        let tokens = prompt + self.output_target(trace, request) + u64::from(self.tokens_per_decode);
        // A request alone may always run.
        tokens.div_ceil(u64::from(self.config.block_size)).min(u64::from(self.kv.num_total_blocks()))
    }

    /// A request stops running (finished or preempted): its reservation is released.
    fn on_left_running(&mut self, trace: &Trace, request: RequestId) {
        if self.config.reserve_kv_for_output {
            self.reserved_blocks -= self.reservation(trace, request);
        }
    }

    /// Sets the priority of each request class of the trace (index = class id); classes
    /// beyond the list have priority 0.
    pub fn set_class_priorities(&mut self, priorities: Vec<i32>) {
        self.class_priorities = priorities;
    }

    /// The rank of `request` under priority scheduling: its arrival plus its class priority
    /// times the ageing interval, nanoseconds.
    fn rank_of(&self, trace: &Trace, request: RequestId, arrived_at: SimTime) -> i64 {
        let class = trace.classes.get(request.index()).map_or(0, |&class| usize::from(class));
        let priority = self.class_priorities.get(class).copied().unwrap_or(0);
        let ageing = i64::try_from(self.config.priority_ageing.as_nanos()).unwrap_or(i64::MAX);
        let arrived = i64::try_from(arrived_at.as_nanos()).unwrap_or(i64::MAX);
        arrived.saturating_add(i64::from(priority).saturating_mul(ageing))
    }

    /// Makes the engine plan and apply every step on its own, never several steady decode steps
    /// in one loop. The results are the same; eager stepping uses it to stay the plain
    /// reference the optimised path is compared with.
    pub fn step_one_at_a_time(&mut self) {
        self.stretches = false;
    }

    /// The replica this engine runs.
    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// The KV cache.
    pub fn kv_cache(&self) -> &KvCacheManager {
        &self.kv
    }

    /// Requests waiting for admission.
    pub fn num_waiting(&self) -> usize {
        self.num_waiting
    }

    /// Requests admitted and not finished: prefilling, decoding, or (on a decode replica)
    /// receiving their KV.
    pub fn num_running(&self) -> usize {
        self.running.len() + self.receiving.len()
    }

    /// Requests routed here and not finished.
    pub fn num_outstanding(&self) -> u64 {
        self.num_outstanding
    }

    /// When the step in progress ends, if one is.
    pub fn next_event_at(&self) -> Option<SimTime> {
        self.plan.in_flight.then_some(self.plan.ends_at)
    }

    /// Whether the engine has requests and no step in progress: it starts one as soon as it is
    /// advanced past the instant its state is current to.
    pub fn is_ready_to_step(&self) -> bool {
        !self.plan.in_flight && self.has_work()
    }

    fn has_work(&self) -> bool {
        (self.num_waiting != 0 || !self.running.is_empty()) && !self.idle_until_transfer
    }

    /// Tokens per KV block.
    pub fn block_size(&self) -> u32 {
        self.config.block_size
    }

    /// The replica's pool role.
    pub fn role(&self) -> PoolRole {
        self.role
    }

    /// Prompt tokens of the requests waiting for admission.
    pub fn num_waiting_tokens(&self) -> u64 {
        self.num_waiting_tokens
    }

    /// Requests whose KV this replica holds for a transfer (parked or receiving).
    pub fn num_held_for_transfer(&self) -> usize {
        self.parked.len() + self.receiving.len()
    }

    /// KV blocks held by requests parked for a transfer (a prefill replica's back-pressure).
    pub fn num_parked_blocks(&self) -> u64 {
        self.parked.values().map(|held| u64::from(held.kv.held_blocks())).sum()
    }

    /// Whether the replica's next step may hand something to the cluster, so that its step
    /// ends must be events: a prefill replica with requests, a decode replica with requests
    /// whose KV it has not reserved yet.
    pub fn hands_off(&self) -> bool {
        match self.role {
            PoolRole::Aggregated => false,
            PoolRole::Prefill => self.num_outstanding > 0,
            PoolRole::Decode => self.num_remote_waiting > 0,
        }
    }

    /// Tokens of `request`'s prompt this replica's prefix cache holds (what a KV-aware router
    /// and conditional disaggregation read).
    pub fn cached_prefix_tokens(&mut self, trace: &Trace, request: RequestId) -> u64 {
        if !self.config.prefix_caching {
            return 0;
        }
        let prompt = u64::from(trace.prompt_tokens[request.index()]);
        let block_size = u64::from(self.config.block_size);
        let layout = layout_of(trace, request, self.config.block_size);
        let max_cached_blocks = (prompt.saturating_sub(1) / block_size) as u32;
        self.scratch_hit.look_up(&self.kv, &layout, None, max_cached_blocks);
        u64::from(self.scratch_hit.num_cached_blocks - self.scratch_hit.num_host_blocks) * block_size
    }

    fn blocks_for(&self, tokens: u64) -> u32 {
        tokens.div_ceil(u64::from(self.config.block_size)) as u32
    }

    /// Hands the engine a request arriving at `at` (the engine must have been advanced to
    /// `at`). A prompt longer than `max_model_len` is rejected at once, as vLLM rejects it;
    /// nothing else about the request (least of all its output length) is judged here.
    pub fn enqueue(&mut self, request: RequestId, at: SimTime, ctx: &mut StepContext<'_>) {
        ctx.recorder.on_routed(request, self.replica);
        let prompt = u64::from(ctx.trace.prompt_tokens[request.index()]);
        if prompt > self.config.max_model_len {
            ctx.recorder.reject(request, RejectReason::PromptExceedsMaxModelLen);
            return on_ended_here(self.role, request, ctx);
        }
        let rank = self.rank_of(ctx.trace, request, at);
        self.push_waiting(
            Waiting {
                request,
                num_tokens: prompt,
                generated: 0,
                last_token_at: SimTime::MAX,
                private_start: 0,
                arrived_at: at,
                rank,
                admitted_before: false,
                kv_remote: false,
            },
            at,
        );
    }

    /// Hands a decode replica a request whose prompt and first token a prefill replica computed
    /// (the engine must have been advanced to `at`). It waits for admission, which reserves its
    /// blocks and asks for its KV.
    pub fn enqueue_remote(&mut self, request: RequestId, at: SimTime, ctx: &mut StepContext<'_>) {
        debug_assert_eq!(self.role, PoolRole::Decode, "only a decode replica takes remote requests");
        let prompt = u64::from(ctx.trace.prompt_tokens[request.index()]);
        let rank = self.rank_of(ctx.trace, request, ctx.recorder.requests.arrived_at[request.index()]);
        self.num_remote_waiting += 1;
        self.push_waiting(
            Waiting {
                request,
                num_tokens: prompt + 1,
                generated: 1,
                last_token_at: SimTime::MAX,
                private_start: 0,
                arrived_at: at,
                rank,
                admitted_before: true,
                kv_remote: true,
            },
            at,
        );
    }

    /// Queues a new request arriving at `at`.
    fn push_waiting(&mut self, waiting: Waiting, at: SimTime) {
        if !self.has_work() {
            self.now = self.now.max(at);
        }
        self.idle_until_transfer = false;
        self.num_outstanding += 1;
        self.num_waiting += 1;
        self.num_waiting_tokens += waiting.num_tokens;
        self.waiting.push(waiting);
    }

    /// The KV of `request`, reserved here, arrived at `at` (the engine must have been advanced
    /// to `at`) with its first token, which the replica streams then: it runs its first decode
    /// step at the next step.
    pub fn on_kv_received(&mut self, trace: &Trace, request: RequestId, at: SimTime) {
        let mut held = self.receiving.remove(&request).expect("a transfer to this replica");
        // Its blocks hold the prompt now: they join the prefix cache.
        let layout = layout_of(trace, request, self.config.block_size);
        held.kv.grow(&mut self.kv, &layout, 0, held.tokens, self.config.block_size);
        if !self.has_work() {
            self.now = self.now.max(at);
        }
        self.idle_until_transfer = false;
        let admitted = self.next_admission;
        self.next_admission += 1;
        self.running.insert(admitted, Running::prefilling(request, held.waiting.rank));
        let waiting = Waiting { kv_remote: false, last_token_at: at, ..held.waiting };
        self.prefilling.push(Prefilling { waiting, computed: held.tokens, kv: held.kv, admitted });
    }

    /// The KV of `request`, parked here, has been sent (the engine must have been advanced to
    /// `at`): its blocks go back to the cache, its prefix staying cached.
    pub fn release_parked(&mut self, request: RequestId, at: SimTime) {
        let held = self.parked.remove(&request).expect("a transfer from this replica");
        held.kv.release(&mut self.kv, held.tokens, self.config.block_size, None);
        if !self.has_work() {
            self.now = self.now.max(at);
        }
        self.idle_until_transfer = false;
    }

    /// Drops the requests that waited longer than `max_queue_time` without ever being
    /// admitted.
    fn drop_expired(&mut self, ctx: &mut StepContext<'_>) {
        let Some(limit) = self.config.max_queue_time else { return };
        if self.num_waiting == 0 || self.now.as_nanos() < limit.as_nanos() {
            return;
        }
        let arrived_by = SimTime::from_nanos(self.now.as_nanos() - limit.as_nanos());
        self.waiting.remove_expired(arrived_by, &mut self.scratch_expired);
        for expired in self.scratch_expired.drain(..) {
            self.num_waiting -= 1;
            self.num_waiting_tokens -= expired.num_tokens;
            self.num_outstanding -= 1;
            ctx.recorder.reject_at(expired.request, RejectReason::QueueTimeout, self.now);
            on_ended_here(self.role, expired.request, ctx);
        }
    }

    /// Applies every step that ends at or before `until`, and starts each next step whose start
    /// is before `until`.
    ///
    /// # Errors
    ///
    /// Returns [`Halt`] when the run's event budget is spent, or the engine cannot schedule
    /// any of its requests.
    pub fn advance_to(&mut self, until: SimTime, ctx: &mut StepContext<'_>) -> Result<(), Halt> {
        loop {
            if self.plan.in_flight {
                if self.plan.ends_at > until {
                    return Ok(());
                }
                if self.plan.chunks.is_empty() {
                    self.finish_decodes(ctx);
                } else {
                    self.finish_step(ctx);
                }
            } else if self.now < until && self.has_work() {
                self.run_decode_stretch(until, ctx);
                if self.now < until && !self.start_decode_step(ctx) {
                    self.start_step(ctx)?;
                }
            } else {
                return Ok(());
            }
        }
    }

    /// Starts a step at the instant the engine's state is current to, if the engine has requests
    /// and none is in progress (what [`Engine::advance_to`] does once it is advanced past that
    /// instant).
    ///
    /// # Errors
    ///
    /// As [`Engine::advance_to`].
    pub fn start_pending_step(&mut self, ctx: &mut StepContext<'_>) -> Result<(), Halt> {
        if self.is_ready_to_step() {
            self.start_step(ctx)?;
        }
        Ok(())
    }

    /// Plans the step starting at `now` (vLLM V1's schedule) and puts it in flight.
    fn start_step(&mut self, ctx: &mut StepContext<'_>) -> Result<(), Halt> {
        if *ctx.events_left == 0 {
            return Err(Halt::EventBudget);
        }
        self.drop_expired(ctx);
        if !self.has_work() {
            return Ok(());
        }
        let mut plan = std::mem::take(&mut self.plan);
        plan.chunks.clear();
        plan.host_copied_tokens = 0;
        let mut budget = u64::from(self.config.max_num_batched_tokens);
        let mut preempted_any = false;

        // Running requests in admission order. Every decode is older than any prefill in
        // progress, so the decodes come first: each needs a block when its context fills one.
        loop {
            let needed = self.decoding.blocks_needed_next_step() as u32;
            if needed <= self.kv.num_free_blocks() {
                self.kv.allocate(needed).expect("checked");
                break;
            }
            if self.preempt_victim(0, ctx).is_none() {
                return Err(Halt::Stuck(self.replica));
            }
            preempted_any = true;
        }
        budget -= u64::from(self.decoding.len()) * u64::from(self.tokens_per_decode);
        let mut index = 0;
        'running: while index < self.prefilling.len() && budget > 0 {
            let entry = &self.prefilling[index];
            let current = entry.admitted;
            let chunk = (entry.waiting.num_tokens - entry.computed).min(budget);
            let needed = self.blocks_for(entry.computed + chunk).saturating_sub(entry.kv.held_blocks());
            while needed > self.kv.num_free_blocks() {
                let victim = self.preempt_victim(current, ctx);
                preempted_any = true;
                debug_assert!(
                    !matches!(victim, Some(v) if v < current && self.prefilling.iter().all(|p| p.admitted != v)),
                    "a decode older than a prefill in progress was preempted after taking its block"
                );
                if victim.is_none_or(|victim| victim == current) {
                    break 'running;
                }
            }
            let entry = &mut self.prefilling[index];
            let layout = layout_of(ctx.trace, entry.waiting.request, self.config.block_size);
            entry.kv.grow(&mut self.kv, &layout, needed, entry.computed + chunk, self.config.block_size);
            plan.chunks.push((index, chunk));
            budget -= chunk;
            index += 1;
        }

        // Waiting requests, unless something was preempted.
        while !preempted_any && budget > 0 && self.num_seqs() < self.config.max_num_seqs {
            let Some(&head) = self.waiting.peek() else { break };
            if head.kv_remote {
                let others_scheduled = !self.decoding.is_empty() || !plan.chunks.is_empty();
                if !self.reserve_for_transfer(head, others_scheduled, ctx) {
                    break;
                }
                continue;
            }
            let layout = layout_of(ctx.trace, head.request, self.config.block_size);
            let kept = head.admitted_before && self.preemption_mode.keeps_private_blocks();
            if self.config.prefix_caching || kept {
                // Without prefix caching a swapped request still finds its own blocks.
                let lookup =
                    if self.config.prefix_caching { layout } else { PrefixLayout::empty(self.config.block_size) };
                let private = Some((head.private_start, head.request));
                let max_cached_blocks = ((head.num_tokens - 1) / u64::from(self.config.block_size)) as u32;
                self.scratch_hit.look_up(&self.kv, &lookup, private, max_cached_blocks);
            } else {
                self.scratch_hit = Hit::default();
            }
            let hit = &self.scratch_hit;
            let cached_tokens = u64::from(hit.num_cached_blocks) * u64::from(self.config.block_size);
            let remaining = head.num_tokens - cached_tokens;
            let chunk = if self.config.chunked_prefill {
                remaining.min(budget)
            } else if remaining <= budget {
                remaining
            } else {
                break; // vLLM V1 stops here: no request behind the head is considered.
            };
            let needed = self.blocks_for(cached_tokens + chunk).saturating_sub(hit.num_held_blocks);
            let others_scheduled = !self.decoding.is_empty() || !plan.chunks.is_empty();
            let watermark = if others_scheduled { self.watermark_blocks } else { 0 };
            let available = self.kv.num_free_blocks() - hit.num_evictable_blocks;
            if u64::from(needed) + u64::from(watermark) > u64::from(available) {
                break;
            }
            let reservation = if self.config.reserve_kv_for_output {
                let reservation = self.reservation(ctx.trace, head.request);
                if self.reserved_blocks + reservation > u64::from(self.kv.num_total_blocks()) {
                    break; // its whole output would not fit beside the running requests'
                }
                reservation
            } else {
                0
            };
            self.reserved_blocks += reservation;
            self.waiting.pop();
            self.num_waiting -= 1;
            self.num_waiting_tokens -= head.num_tokens;
            let mut kv = RequestKv::admit(&mut self.kv, hit, &layout, self.config.prefix_caching);
            let host_tokens = u64::from(hit.num_host_blocks) * u64::from(self.config.block_size);
            if let Some(host) = self.kv.host_mut() {
                for &(key, blocks) in hit.host_loads() {
                    host.on_loaded(key, blocks);
                }
            }
            if head.admitted_before {
                let key = BlockKey::Private { request: head.request, start: head.private_start };
                let loaded = hit.host_loads().iter().filter(|load| load.0 == key).map(|load| load.1).sum();
                self.preemption_mode.on_readmitted(&mut self.kv, key, loaded);
            }
            plan.host_copied_tokens += host_tokens;
            kv.grow(&mut self.kv, &layout, needed, cached_tokens + chunk, self.config.block_size);
            let admitted = self.next_admission;
            self.next_admission += 1;
            self.running.insert(admitted, Running::prefilling(head.request, head.rank));
            ctx.recorder.on_admitted(head.request, self.now, cached_tokens, host_tokens);
            self.prefilling.push(Prefilling { waiting: head, computed: cached_tokens, kv, admitted });
            plan.chunks.push((self.prefilling.len() - 1, chunk));
            budget -= chunk;
        }

        let num_decodes = self.decoding.len();
        if num_decodes == 0 && plan.chunks.is_empty() {
            self.plan = plan;
            if self.num_held_for_transfer() > 0 {
                // The blocks it lacks come back when a transfer completes.
                self.idle_until_transfer = true;
                return Ok(());
            }
            return Err(Halt::Stuck(self.replica));
        }
        plan.host_copied_tokens += std::mem::take(&mut self.pending_host_copy_tokens);
        let mut duration =
            if plan.chunks.is_empty() { self.decode_step_time(num_decodes) } else { self.mixed_step_time(&plan) };
        if plan.host_copied_tokens > 0 {
            // Loads and swaps over the host link precede the step's compute.
            duration =
                duration + SimDuration::from_secs_f64(self.step_model.host_copy_seconds(plan.host_copied_tokens));
        }
        self.plan = plan;
        self.put_in_flight(duration, num_decodes, ctx);
        Ok(())
    }

    /// Sequences counted against `max_num_seqs`: running, and receiving their KV.
    fn num_seqs(&self) -> u32 {
        (self.running.len() + self.receiving.len()) as u32
    }

    /// Admits the head of the queue, a request whose prompt a prefill replica computed, by
    /// reserving blocks for its prompt (a prefix this replica has cached is not moved again)
    /// and asking for the transfer. Returns false, reserving nothing, when the blocks are not
    /// free (with the watermark kept when `others_scheduled`) or its reservation does not fit.
    fn reserve_for_transfer(&mut self, head: Waiting, others_scheduled: bool, ctx: &mut StepContext<'_>) -> bool {
        let block_size = u64::from(self.config.block_size);
        let prompt = head.num_tokens - 1;
        let layout = layout_of(ctx.trace, head.request, self.config.block_size);
        if self.config.prefix_caching {
            self.scratch_hit.look_up(&self.kv, &layout, None, (prompt / block_size) as u32);
        } else {
            self.scratch_hit = Hit::default();
        }
        let hit = &self.scratch_hit;
        let cached_tokens = u64::from(hit.num_cached_blocks) * block_size;
        let needed = self.blocks_for(prompt).saturating_sub(hit.num_held_blocks);
        let watermark = if others_scheduled { self.watermark_blocks } else { 0 };
        let available = self.kv.num_free_blocks() - hit.num_evictable_blocks;
        if u64::from(needed) + u64::from(watermark) > u64::from(available) {
            return false;
        }
        if self.config.reserve_kv_for_output {
            let reservation = self.reservation(ctx.trace, head.request);
            if self.reserved_blocks + reservation > u64::from(self.kv.num_total_blocks()) {
                return false;
            }
            self.reserved_blocks += reservation;
        }
        self.waiting.pop();
        self.num_waiting -= 1;
        self.num_waiting_tokens -= head.num_tokens;
        self.num_remote_waiting -= 1;
        let mut kv = RequestKv::admit(&mut self.kv, hit, &layout, self.config.prefix_caching);
        if let Some(host) = self.kv.host_mut() {
            for &(key, blocks) in self.scratch_hit.host_loads() {
                host.on_loaded(key, blocks);
            }
        }
        // A prefix found on the host tier is loaded instead of moved, before the next step.
        self.pending_host_copy_tokens += u64::from(self.scratch_hit.num_host_blocks) * block_size;
        // Nothing may hit these blocks before the KV arrives (`on_kv_received` places them).
        kv.take_unplaced(&mut self.kv, needed);
        ctx.handoffs.push(Handoff::KvReserved {
            request: head.request,
            replica: self.replica,
            at: self.now,
            tokens: prompt - cached_tokens,
        });
        self.receiving.insert(head.request, HeldForTransfer { waiting: head, tokens: prompt, kv });
        true
    }

    /// Runs, in one tight loop, the steady decode steps that end by `until`, before any
    /// sequence finishes, while their blocks are free and the event budget lasts: the same steps,
    /// durations, allocations and records as one [`Engine::start_decode_step`] and
    /// [`Engine::advance_to`] at a time, with the pool advanced once at the end. What is left
    /// (the step running at `until`, or a step where a sequence finishes) takes the usual path.
    fn run_decode_stretch(&mut self, until: SimTime, ctx: &mut StepContext<'_>) {
        if !self.stretches || self.num_waiting != 0 || !self.prefilling.is_empty() || self.decoding.is_empty() {
            return;
        }
        let Some(to_departure) = self.decoding.steps_to_next_departure() else { return };
        let limit = (to_departure - 1).min(*ctx.events_left);
        let batch = self.decoding.len();
        let cost = self.decode_cost(batch);
        let free = u64::from(self.kv.num_free_blocks());
        let mut context_sum = self.decoding.context_sum();
        let mut allocated = 0u64;
        let mut now = self.now;
        let mut steps = 0u64;
        let mut records = DecodeSteps::new(batch);
        while steps < limit {
            let needed = self.decoding.blocks_needed_ahead(steps);
            if allocated + needed > free {
                break;
            }
            let duration = cost.duration(context_sum + u64::from(batch));
            let end = now + duration;
            if end > until {
                break;
            }
            allocated += needed;
            records.add(ctx.recorder, end, duration);
            context_sum += u64::from(batch);
            now = end;
            steps += 1;
        }
        records.finish(ctx.recorder);
        if steps == 0 {
            return;
        }
        self.kv.allocate(allocated as u32).expect("checked against the free blocks");
        self.decoding.advance_without_departures(steps);
        *ctx.events_left -= steps;
        self.num_steps += steps;
        self.now = now;
    }

    /// Steady decoding: when nothing waits and nothing is prefilling, the step is the decode
    /// pool's alone and costs O(1). Returns whether it started one (else the full schedule
    /// runs).
    #[inline]
    fn start_decode_step(&mut self, ctx: &mut StepContext<'_>) -> bool {
        if self.num_waiting != 0 || !self.prefilling.is_empty() || *ctx.events_left == 0 || self.decoding.is_empty() {
            return false;
        }
        let needed = self.decoding.blocks_needed_next_step() as u32;
        if needed > self.kv.num_free_blocks() {
            return false;
        }
        if needed > 0 {
            self.kv.allocate(needed).expect("checked");
        }
        let batch = self.decoding.len();
        let duration = self.decode_step_time(batch);
        self.put_in_flight(duration, batch, ctx);
        true
    }

    /// Puts the planned step in flight: it lasts `duration` and advances `num_decodes`
    /// decoding sequences (plus the prefill chunks already in the plan).
    fn put_in_flight(&mut self, duration: SimDuration, num_decodes: u32, ctx: &mut StepContext<'_>) {
        *ctx.events_left -= 1;
        self.num_steps += 1;
        let ends_at = self.now + duration;
        let plan = &mut self.plan;
        plan.in_flight = true;
        plan.ends_at = ends_at;
        plan.duration = duration;
        plan.num_decodes = num_decodes;
        #[cfg(debug_assertions)]
        self.check_invariants_in_debug_builds();
    }

    /// A decode-only step's duration in O(1): a cached fixed part plus attention over the
    /// contexts (each sequence attends its context and the tokens it writes).
    fn decode_step_time(&mut self, batch: u32) -> SimDuration {
        self.decode_cost(batch).duration(self.decode_context_tokens())
    }

    /// KV tokens the decodes' attention reads in a step: each context and its new tokens.
    fn decode_context_tokens(&self) -> u64 {
        self.decoding.context_sum() + u64::from(self.decoding.len()) * u64::from(self.tokens_per_decode)
    }

    fn mixed_step_time(&mut self, plan: &StepPlan) -> SimDuration {
        let mut chunks = std::mem::take(&mut self.scratch_chunks);
        chunks.clear();
        chunks.extend(plan.chunks.iter().map(|&(index, new_tokens)| PrefillChunk {
            new_tokens: new_tokens as u32,
            cached_tokens: self.prefilling[index].computed as u32,
        }));
        let shape = BatchShape {
            num_decode: self.decoding.len(),
            decode_context_tokens: self.decode_context_tokens(),
            prefills: &chunks,
        };
        let duration = self.step_model.step_time(&shape);
        self.scratch_chunks = chunks;
        duration
    }

    /// The cost of a decode-only step of `batch` sequences, computed once per batch size.
    fn decode_cost(&mut self, batch: u32) -> DecodeCost {
        let index = batch as usize;
        if self.decode_costs.len() <= index {
            let start = self.decode_costs.len() as u32;
            let model = &self.step_model;
            self.decode_costs.extend((start..=batch).map(|n| model.decode_cost(n)));
        }
        self.decode_costs[index]
    }

    /// Applies the step in flight at its end: decodes emit their tokens, prefill chunks
    /// advance, completed prompts emit a token, finished requests free their blocks.
    fn finish_step(&mut self, ctx: &mut StepContext<'_>) {
        let end = self.plan.ends_at;
        let mut emitted = self.finish_decodes_without_recording(ctx);
        for &(index, chunk) in &self.plan.chunks {
            self.prefilling[index].computed += chunk;
        }
        self.plan.chunks.clear();
        let mut index = 0;
        while index < self.prefilling.len() {
            let entry = &self.prefilling[index];
            if entry.computed < entry.waiting.num_tokens {
                index += 1;
                continue;
            }
            // The prompt (or recompute) is complete: the step sampled a token.
            let entry = self.prefilling.remove(index);
            emitted += 1;
            let request = entry.waiting.request;
            let generated = entry.waiting.generated + 1;
            let target = self.output_target(ctx.trace, request);
            let hands_off = self.role == PoolRole::Prefill && u64::from(generated) < target;
            if hands_off {
                // The client gets the first token from the decode replica, with the KV.
                ctx.recorder.on_prefill_done(request, end);
            } else if entry.waiting.generated == 0 {
                ctx.recorder.on_first_token(request, end);
            } else {
                ctx.recorder.on_token_after_preemption(end - entry.waiting.last_token_at);
            }
            if u64::from(generated) >= target {
                self.running.remove(&entry.admitted);
                entry.kv.release(&mut self.kv, entry.computed, self.config.block_size, None);
                self.num_outstanding -= 1;
                self.on_left_running(ctx.trace, request);
                ctx.recorder.on_finished(request, end);
                on_ended_here(self.role, request, ctx);
                continue;
            }
            if hands_off {
                // The decode pool generates the rest; the KV stays here until it is sent.
                self.running.remove(&entry.admitted);
                self.num_outstanding -= 1;
                self.on_left_running(ctx.trace, request);
                ctx.handoffs.push(Handoff::PrefillDone { request, at: end });
                let held = HeldForTransfer { tokens: entry.computed, kv: entry.kv, waiting: entry.waiting };
                self.parked.insert(request, held);
                continue;
            }
            let remaining = target - u64::from(generated);
            let slot = self.decoding.join(request, entry.admitted, entry.computed, remaining, entry.kv);
            let rank = entry.waiting.rank;
            self.running.insert(entry.admitted, Running { request, rank, place: Place::Decoding(slot) });
        }
        ctx.recorder.on_step(end, self.plan.duration, u64::from(self.plan.num_decodes), emitted);
        #[cfg(debug_assertions)]
        self.check_invariants_in_debug_builds();
    }

    /// Debug builds check the counts after every step, and audit every block after every step
    /// while the cache holds few runs (small tests), else every 256 steps.
    #[cfg(debug_assertions)]
    fn check_invariants_in_debug_builds(&self) {
        self.check_counts();
        if self.kv.num_runs() <= 256 || self.num_steps.is_multiple_of(256) {
            self.check_invariants();
        }
    }

    /// Applies a decode-only step at its end.
    #[inline]
    fn finish_decodes(&mut self, ctx: &mut StepContext<'_>) {
        let emitted = self.finish_decodes_without_recording(ctx);
        let decoded = u64::from(self.plan.num_decodes);
        ctx.recorder.on_step(self.plan.ends_at, self.plan.duration, decoded, emitted);
        #[cfg(debug_assertions)]
        self.check_invariants_in_debug_builds();
    }

    /// Ends the step in flight and advances its decodes: each emits a token (under
    /// speculative decoding, its accepted draft tokens plus one, and frees the blocks of the
    /// rejected ones); the ones that emitted their last free their blocks. Returns the tokens
    /// emitted.
    #[inline]
    fn finish_decodes_without_recording(&mut self, ctx: &mut StepContext<'_>) -> u64 {
        debug_assert!(self.plan.in_flight, "a step in flight");
        self.plan.in_flight = false;
        let end = self.plan.ends_at;
        self.now = end;
        let emitted = match &mut self.speculation {
            None => {
                self.decoding.step(&mut self.scratch_departed);
                u64::from(self.plan.num_decodes)
            }
            Some(speculation) => {
                let outcome = self.decoding.step_speculative(|| speculation.draw(), &mut self.scratch_departed);
                self.kv.free(outcome.unused_blocks as u32);
                ctx.recorder.on_verified(end, u64::from(self.plan.num_decodes), outcome.accepted);
                outcome.emitted
            }
        };
        if self.scratch_departed.is_empty() {
            return emitted;
        }
        let mut departed = std::mem::take(&mut self.scratch_departed);
        for done in departed.drain(..) {
            self.running.remove(&done.admitted);
            done.payload.release(&mut self.kv, done.context, self.config.block_size, None);
            self.num_outstanding -= 1;
            self.on_left_running(ctx.trace, done.request);
            ctx.recorder.on_finished(done.request, end);
        }
        self.scratch_departed = departed;
        emitted
    }

    /// How many output tokens `request` generates ([`generated_tokens`]).
    fn output_target(&self, trace: &Trace, request: RequestId) -> u64 {
        let (prompt, output) = (trace.prompt_tokens[request.index()], trace.output_tokens[request.index()]);
        u64::from(generated_tokens(prompt, output, self.config.decode_max_model_len))
    }

    /// Preempts the preemption policy's victim among the requests admitted at or after
    /// `eligible_from` (those the step has not scheduled yet): its blocks go back to the cache
    /// (its prefix and private blocks stay cached) and it returns to the queue, to recompute
    /// its prompt and the tokens it generated. Returns the victim's admission number.
    fn preempt_victim(&mut self, eligible_from: u64, ctx: &mut StepContext<'_>) -> Option<u64> {
        let admitted = self.preemption.victim(&self.running, eligible_from)?;
        let running = self.running.remove(&admitted).expect("the victim runs");
        self.on_left_running(ctx.trace, running.request);
        let keep = self.config.prefix_caching || self.preemption_mode.keeps_private_blocks();
        let caching = keep.then_some(running.request);
        let waiting = match running.place {
            Place::Prefilling => {
                let position = self.prefilling.iter().position(|p| p.admitted == admitted).expect("listed");
                let entry = self.prefilling.remove(position);
                let private_start = entry.kv.release(&mut self.kv, entry.computed, self.config.block_size, caching);
                Waiting { private_start, admitted_before: true, ..entry.waiting }
            }
            Place::Decoding(slot) => {
                let departed = self.decoding.remove(slot);
                let generated = departed.context + 1 - u64::from(ctx.trace.prompt_tokens[running.request.index()]);
                let private_start =
                    departed.payload.release(&mut self.kv, departed.context, self.config.block_size, caching);
                // Recompute the prompt and every generated token: the KV held plus the last
                // sampled token, whose KV was not written yet.
                Waiting {
                    request: departed.request,
                    num_tokens: departed.context + 1,
                    generated: generated as u32,
                    last_token_at: self.now,
                    private_start,
                    arrived_at: SimTime::ZERO,
                    rank: running.rank,
                    admitted_before: true,
                    kv_remote: false,
                }
            }
        };
        let key = BlockKey::Private { request: waiting.request, start: waiting.private_start };
        let copied = self.preemption_mode.on_preempted(&mut self.kv, key);
        self.pending_host_copy_tokens += u64::from(copied) * u64::from(self.config.block_size);
        ctx.recorder.on_preempted(waiting.request);
        self.num_waiting += 1;
        self.num_waiting_tokens += waiting.num_tokens;
        self.waiting.push_preempted(waiting);
        Some(admitted)
    }

    /// KV blocks in use (referenced by requests), including those of the step in progress.
    pub fn num_used_blocks(&self) -> u32 {
        self.kv.num_used_blocks()
    }

    /// Checks the engine's invariants, O(running); debug builds run it after every step.
    ///
    /// # Panics
    ///
    /// Panics with the numbers when KV accounting or request counts disagree.
    pub fn check_invariants(&self) {
        self.check_counts();
        self.kv.check_invariants();
        let bs = u64::from(self.config.block_size);
        let crossing = u64::from(self.plan.in_flight);
        let prefill_blocks: u64 = self.prefilling.iter().map(|p| u64::from(p.kv.held_blocks())).sum::<u64>()
            + self.parked.values().chain(self.receiving.values()).map(|h| u64::from(h.kv.held_blocks())).sum::<u64>();
        // A decode holds its context's blocks, plus the blocks its in-flight tokens need.
        let in_flight = crossing * u64::from(self.tokens_per_decode);
        let decode_blocks: u64 = self.decoding.live().map(|(context, _)| (context + in_flight).div_ceil(bs)).sum();
        let referenced_twice = self.shared_blocks();
        assert_eq!(
            prefill_blocks + decode_blocks - referenced_twice,
            u64::from(self.kv.num_used_blocks()),
            "replica {}: blocks held by requests ({prefill_blocks} prefilling or held for transfer + {decode_blocks} decoding − \
             {referenced_twice} shared) != used blocks ({} of {})",
            self.replica.0,
            self.kv.num_used_blocks(),
            self.kv.num_total_blocks()
        );
    }

    /// The O(1) checks: request counts agree, and no more blocks are used than exist.
    fn check_counts(&self) {
        assert_eq!(
            self.num_outstanding as usize,
            self.num_waiting + self.running.len() + self.receiving.len(),
            "replica {}: outstanding count disagrees with the queues",
            self.replica.0
        );
        assert_eq!(
            self.running.len(),
            self.prefilling.len() + self.decoding.len() as usize,
            "replica {}: running list disagrees with prefilling + decoding",
            self.replica.0
        );
        assert!(
            self.kv.num_used_blocks() <= self.kv.num_total_blocks(),
            "replica {}: {} blocks used of {}",
            self.replica.0,
            self.kv.num_used_blocks(),
            self.kv.num_total_blocks()
        );
    }

    /// Blocks counted by more than one request (shared prefix runs), counted once per extra
    /// holder.
    fn shared_blocks(&self) -> u64 {
        let mut holders: BTreeMap<RunId, u64> = BTreeMap::new();
        let held = self.parked.values().chain(self.receiving.values()).map(|h| &h.kv);
        let all = self.prefilling.iter().map(|p| &p.kv).chain(self.decoding.live().map(|(_, kv)| kv)).chain(held);
        for kv in all {
            for run in kv.runs() {
                *holders.entry(run).or_insert(0) += 1;
            }
        }
        holders.iter().map(|(&run, &count)| (count - 1) * u64::from(self.kv.num_blocks_of(run))).sum()
    }
}

/// A request a replica of `role` ended itself (refused, dropped or finished): a prefill replica
/// tells the cluster, which had assigned it a decode replica.
fn on_ended_here(role: PoolRole, request: RequestId, ctx: &mut StepContext<'_>) {
    if role == PoolRole::Prefill {
        ctx.handoffs.push(Handoff::EndedOnPrefill { request });
    }
}

/// The prefix layout of `request`'s prompt in blocks of `block_size`.
fn layout_of(trace: &Trace, request: RequestId, block_size: u32) -> PrefixLayout<'_> {
    PrefixLayout::new(
        trace.block_hashes_of(request.index()),
        trace.hash_block_tokens,
        block_size,
        u64::from(trace.prompt_tokens[request.index()]),
    )
}
