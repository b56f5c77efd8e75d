//! One replica's engine: a continuous-batching scheduler modelled on vLLM V1.
//!
//! Each step the scheduler fills a token budget (`max_num_batched_tokens`): every decoding
//! sequence takes one token, partial prefills continue (chunked), then waiting requests are
//! admitted first-come-first-served while `max_num_seqs` and the KV cache allow (new admissions
//! keep a watermark of free blocks). KV is paged in blocks of `block_size` tokens; when a
//! running sequence needs a block and none is free, the most recently admitted request is
//! preempted: its blocks are freed and it goes back to the front of the queue to be recomputed
//! (prompt plus the tokens it had generated). The step's duration comes from the
//! [`StepModel`]; the step that completes a prompt emits its first token.
//!
//! Steady decoding costs O(1) per step ([`DecodePool`]); only joins, leaves, block-boundary
//! crossings near exhaustion and preemptions are explicit work. The engine advances lazily: the
//! cluster calls [`Engine::advance_until`] before it looks at the replica or hands it a request.

mod decode_pool;

pub use decode_pool::{DecodePool, Departed, SlotRef};

use std::collections::{BTreeMap, VecDeque};

use crate::ids::{ReplicaId, RequestId};
use crate::metrics::{Recorder, RejectReason};
use crate::perf::{BatchShape, PrefillChunk, StepModel};
use crate::time::{SimDuration, SimTime};

/// The engine knobs (see `Scenario::engine`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineConfig {
    /// Most sequences in a step.
    pub max_num_seqs: u32,
    /// Token budget of a step.
    pub max_num_batched_tokens: u32,
    /// Whether prompts may be split across steps.
    pub chunked_prefill: bool,
    /// Tokens per KV block.
    pub block_size: u32,
    /// The model's longest context (prompt + output), tokens.
    pub max_model_len: u64,
}

/// A request waiting to be (re)admitted.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    request: RequestId,
    /// Tokens to compute before the next token is sampled (prompt, plus generated tokens after
    /// a preemption).
    prefill_len: u64,
    /// Tokens still to generate.
    remaining: u64,
}

/// A request whose prompt is being computed, possibly over several steps.
#[derive(Clone, Copy, Debug)]
struct Prefilling {
    waiting: Waiting,
    computed: u64,
    blocks: u64,
    admitted: u64,
}

/// Where a running request is; keyed by admission order (the newest is preempted first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Running {
    Prefilling(RequestId),
    Decoding(SlotRef),
}

/// One replica's scheduler, KV manager and clock.
#[derive(Clone, Debug)]
pub struct Engine {
    replica: ReplicaId,
    config: EngineConfig,
    step_model: StepModel,
    /// When the next step can start: the end of the last step, or the last idle arrival.
    now: SimTime,
    total_blocks: u64,
    used_blocks: u64,
    watermark_blocks: u64,
    waiting: VecDeque<Waiting>,
    prefilling: Vec<Prefilling>,
    decoding: DecodePool,
    running_order: BTreeMap<u64, Running>,
    next_admission: u64,
    /// Per decode-batch-size fixed step cost in seconds (filled lazily), for O(1) decode steps.
    decode_fixed_seconds: Vec<f64>,
    seconds_per_context_token: f64,
    outstanding: u64,
    last_step_end: SimTime,
    finished_in_last_step: u64,
    next_sample_at: SimTime,
    scratch_departed: Vec<Departed>,
    /// This step's prefill chunks, and the index in `prefilling` of each one's request.
    scratch_chunks: Vec<PrefillChunk>,
    scratch_chunk_owners: Vec<usize>,
    scratch_prefilling: Vec<Prefilling>,
}

/// vLLM's default free-block watermark for new admissions (1 % of the blocks).
const WATERMARK_FRACTION: f64 = 0.01;

impl Engine {
    /// An idle engine holding `step_model.kv_capacity_tokens()` tokens of KV.
    pub fn new(replica: ReplicaId, config: EngineConfig, step_model: StepModel) -> Engine {
        let total_blocks = step_model.kv_capacity_tokens() / u64::from(config.block_size);
        Engine {
            replica,
            config,
            seconds_per_context_token: step_model.seconds_per_context_token(),
            step_model,
            now: SimTime::ZERO,
            total_blocks,
            used_blocks: 0,
            watermark_blocks: (total_blocks as f64 * WATERMARK_FRACTION) as u64,
            waiting: VecDeque::new(),
            prefilling: Vec::new(),
            decoding: DecodePool::new(config.block_size),
            running_order: BTreeMap::new(),
            next_admission: 0,
            decode_fixed_seconds: Vec::new(),
            outstanding: 0,
            last_step_end: SimTime::ZERO,
            finished_in_last_step: 0,
            next_sample_at: SimTime::ZERO,
            scratch_departed: Vec::new(),
            scratch_chunks: Vec::new(),
            scratch_chunk_owners: Vec::new(),
            scratch_prefilling: Vec::new(),
        }
    }

    /// KV blocks in the cache.
    pub fn total_blocks(&self) -> u64 {
        self.total_blocks
    }

    /// KV blocks in use.
    pub fn used_blocks(&self) -> u64 {
        self.used_blocks
    }

    /// Requests waiting for admission.
    pub fn num_waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Requests admitted and not finished (prefilling or decoding).
    pub fn num_running(&self) -> usize {
        self.prefilling.len() + self.decoding.len() as usize
    }

    fn has_work(&self) -> bool {
        !self.waiting.is_empty() || self.num_running() > 0
    }

    /// Requests routed here and not finished by `at` (`at` ≥ the start of the last step).
    pub fn outstanding_at(&self, at: SimTime) -> u64 {
        if self.last_step_end > at {
            self.outstanding + self.finished_in_last_step
        } else {
            self.outstanding
        }
    }

    fn blocks_for(&self, tokens: u64) -> u64 {
        tokens.div_ceil(u64::from(self.config.block_size))
    }

    /// Hands the engine a request that arrives at `at`. It is rejected at once (and recorded
    /// so) when it can never run here: longer than the model's context, needing more KV blocks
    /// than the replica has, or (without chunked prefill) longer than a step's token budget.
    pub fn enqueue(&mut self, request: RequestId, at: SimTime, prompt: u64, output: u64, recorder: &mut Recorder) {
        recorder.requests.replica[request.index()] = self.replica.0;
        if prompt + output > self.config.max_model_len {
            return recorder.reject(request, RejectReason::ExceedsContext);
        }
        // The most KV a request holds, and the longest recompute after a preemption, is every
        // token but the last sampled one.
        let most_tokens = prompt + output - 1;
        if self.blocks_for(most_tokens) + self.watermark_blocks > self.total_blocks {
            return recorder.reject(request, RejectReason::ExceedsKvCapacity);
        }
        // Without chunking, a prompt (and a recompute after a preemption) must fit one step.
        if !self.config.chunked_prefill && most_tokens > u64::from(self.config.max_num_batched_tokens) {
            return recorder.reject(request, RejectReason::ExceedsStepBudget);
        }
        if !self.has_work() {
            // Idle until now: skip the sample ticks of the idle stretch (idle counts as zero).
            self.now = self.now.max(at);
            let interval = recorder.timeline.interval().as_nanos();
            let first_tick = self.now.as_nanos().div_ceil(interval) * interval;
            self.next_sample_at = self.next_sample_at.max(SimTime::from_nanos(first_tick));
        }
        self.outstanding += 1;
        self.waiting.push_back(Waiting { request, prefill_len: prompt, remaining: output });
    }

    /// Runs every step that starts before `until`.
    pub fn advance_until(&mut self, until: SimTime, recorder: &mut Recorder) {
        while self.has_work() && self.now < until {
            if !self.step(recorder) {
                debug_assert!(false, "replica {} cannot make progress", self.replica.0);
                break;
            }
        }
    }

    /// Whether the next step is decode-only: nothing is prefilling and nothing can be admitted.
    fn decode_only(&self) -> bool {
        if !self.prefilling.is_empty() {
            return false;
        }
        if self.waiting.is_empty() || self.decoding.len() >= self.config.max_num_seqs {
            return true;
        }
        let budget = u64::from(self.config.max_num_batched_tokens) - u64::from(self.decoding.len());
        self.admissible_head(budget).is_none()
    }

    /// The head of the queue with its first chunk and the blocks that chunk needs, if the
    /// admission rules let it in now: the chunk fits `budget` (whole, without chunked prefill)
    /// and its blocks, this step's decode blocks and the watermark fit the free blocks. FCFS:
    /// nothing behind the head is considered.
    #[inline]
    fn admissible_head(&self, budget: u64) -> Option<(Waiting, u64, u64)> {
        let head = *self.waiting.front()?;
        let chunk = if self.config.chunked_prefill { head.prefill_len.min(budget) } else { head.prefill_len };
        if chunk == 0 || chunk > budget {
            return None;
        }
        let needed = self.blocks_for(chunk);
        let free = self.total_blocks - self.used_blocks;
        (free >= needed + self.decoding.blocks_needed_next_step() + self.watermark_blocks)
            .then_some((head, chunk, needed))
    }

    /// Executes one step; `false` if nothing could be scheduled (which admission checks in
    /// [`Engine::enqueue`] rule out).
    fn step(&mut self, recorder: &mut Recorder) -> bool {
        let fits = self.decoding.blocks_needed_next_step() <= self.total_blocks - self.used_blocks;
        let progressed = if self.decode_only() && fits && !self.decoding.is_empty() {
            self.decode_step(recorder);
            true
        } else {
            self.mixed_step(recorder)
        };
        self.sample(recorder);
        #[cfg(debug_assertions)]
        self.check_invariants();
        progressed
    }

    /// The O(1) path: every decoding sequence takes one token.
    fn decode_step(&mut self, recorder: &mut Recorder) {
        let batch = self.decoding.len();
        let attended = self.decoding.context_sum() + u64::from(batch);
        let duration =
            SimDuration::from_secs_f64(self.decode_fixed(batch) + attended as f64 * self.seconds_per_context_token)
                .max(SimDuration::from_nanos(1));
        self.used_blocks += self.decoding.blocks_needed_next_step();
        let end = self.now + duration;
        self.finish_decode_step(end, recorder);
        recorder.on_step(end, duration, u64::from(batch), u64::from(batch));
        self.now = end;
    }

    fn decode_fixed(&mut self, batch: u32) -> f64 {
        let index = batch as usize;
        if self.decode_fixed_seconds.len() <= index {
            let model = &self.step_model;
            let start = self.decode_fixed_seconds.len() as u32;
            self.decode_fixed_seconds.extend(
                (start..=batch).map(|n| {
                    model.fixed_seconds(&BatchShape { num_decode: n, decode_context_tokens: 0, prefills: &[] })
                }),
            );
        }
        self.decode_fixed_seconds[index]
    }

    /// Advances the decode pool one token and retires the sequences that finished at `end`.
    fn finish_decode_step(&mut self, end: SimTime, recorder: &mut Recorder) {
        let mut departed = std::mem::take(&mut self.scratch_departed);
        departed.clear();
        self.decoding.step(&mut departed);
        self.finished_in_last_step = 0;
        for done in &departed {
            self.running_order.remove(&done.admitted);
            self.retire(done.request, self.blocks_for(done.context), end, recorder);
        }
        self.scratch_departed = departed;
        self.last_step_end = end;
    }

    fn retire(&mut self, request: RequestId, blocks: u64, end: SimTime, recorder: &mut Recorder) {
        self.used_blocks -= blocks;
        self.outstanding -= 1;
        self.finished_in_last_step += 1;
        recorder.finish(request, end);
    }

    /// The general path: decodes, chunked prefills, admissions and preemptions.
    fn mixed_step(&mut self, recorder: &mut Recorder) -> bool {
        let mut preempted_any = false;
        // Decoding sequences need blocks first; preempt the newest requests until they fit.
        while self.decoding.blocks_needed_next_step() > self.total_blocks - self.used_blocks {
            preempted_any = true;
            if !self.preempt_newest(recorder) {
                break;
            }
        }
        let mut budget = u64::from(self.config.max_num_batched_tokens) - u64::from(self.decoding.len());
        let mut chunks = std::mem::take(&mut self.scratch_chunks);
        let mut owners = std::mem::take(&mut self.scratch_chunk_owners);
        chunks.clear();
        owners.clear();
        let mut index = 0;
        while index < self.prefilling.len() && budget > 0 {
            let entry = self.prefilling[index];
            let chunk = (entry.waiting.prefill_len - entry.computed).min(budget);
            let needed = self.blocks_for(entry.computed + chunk) - entry.blocks;
            if needed + self.decoding.blocks_needed_next_step() > self.total_blocks - self.used_blocks {
                preempted_any = true;
                let preempted_self = self.newest_is_prefill(entry.waiting.request);
                self.preempt_newest(recorder);
                if preempted_self {
                    break;
                }
                continue;
            }
            self.used_blocks += needed;
            self.prefilling[index].blocks += needed;
            chunks.push(PrefillChunk { new_tokens: chunk as u32, cached_tokens: entry.computed as u32 });
            owners.push(index);
            budget -= chunk;
            index += 1;
        }
        while !preempted_any && (self.num_running() as u32) < self.config.max_num_seqs {
            let Some((head, chunk, needed)) = self.admissible_head(budget) else { break };
            self.waiting.pop_front();
            self.used_blocks += needed;
            let admitted = self.next_admission;
            self.next_admission += 1;
            self.running_order.insert(admitted, Running::Prefilling(head.request));
            recorder.on_scheduled(head.request, self.now);
            self.prefilling.push(Prefilling { waiting: head, computed: 0, blocks: needed, admitted });
            chunks.push(PrefillChunk { new_tokens: chunk as u32, cached_tokens: 0 });
            owners.push(self.prefilling.len() - 1);
            budget -= chunk;
        }

        let batch = self.decoding.len();
        let shape = BatchShape {
            num_decode: batch,
            decode_context_tokens: self.decoding.context_sum() + u64::from(batch),
            prefills: &chunks,
        };
        if batch == 0 && chunks.is_empty() {
            self.scratch_chunks = chunks;
            self.scratch_chunk_owners = owners;
            return false;
        }
        let duration = self.step_model.step_time(&shape);
        let end = self.now + duration;
        self.used_blocks += self.decoding.blocks_needed_next_step();
        self.finish_decode_step(end, recorder);

        // Prefill chunks advance; completed prompts emit a token and start decoding.
        let mut emitted = u64::from(batch);
        for (&index, chunk) in owners.iter().zip(&chunks) {
            self.prefilling[index].computed += u64::from(chunk.new_tokens);
        }
        let mut kept = std::mem::take(&mut self.scratch_prefilling);
        kept.clear();
        let mut all = std::mem::take(&mut self.prefilling);
        for entry in all.drain(..) {
            if entry.computed < entry.waiting.prefill_len {
                kept.push(entry);
                continue;
            }
            emitted += 1;
            let request = entry.waiting.request;
            recorder.on_token_after_prefill(request, end);
            self.running_order.remove(&entry.admitted);
            let remaining = entry.waiting.remaining - 1;
            if remaining == 0 {
                self.retire(request, entry.blocks, end, recorder);
                continue;
            }
            debug_assert_eq!(entry.blocks, self.blocks_for(entry.computed));
            let slot = self.decoding.join(request, entry.admitted, entry.computed, remaining);
            self.running_order.insert(entry.admitted, Running::Decoding(slot));
        }
        self.prefilling = kept;
        self.scratch_prefilling = all;
        self.scratch_chunks = chunks;
        self.scratch_chunk_owners = owners;
        recorder.on_step(end, duration, u64::from(batch), emitted);
        self.now = end;
        true
    }

    fn newest_is_prefill(&self, request: RequestId) -> bool {
        matches!(self.running_order.last_key_value(), Some((_, Running::Prefilling(r))) if *r == request)
    }

    /// Preempts the most recently admitted running request; `false` if none runs.
    fn preempt_newest(&mut self, recorder: &mut Recorder) -> bool {
        let Some((admitted, running)) = self.running_order.pop_last() else { return false };
        let waiting = match running {
            Running::Prefilling(request) => {
                let position = self.prefilling.iter().position(|p| p.waiting.request == request).expect("listed");
                let entry = self.prefilling.remove(position);
                self.used_blocks -= entry.blocks;
                entry.waiting
            }
            Running::Decoding(slot) => {
                let departed = self.decoding.remove(slot);
                debug_assert_eq!(departed.admitted, admitted);
                self.used_blocks -= self.blocks_for(departed.context);
                // Recompute the prompt and every generated token: the KV held plus the last
                // sampled token, whose KV was not written yet.
                Waiting { request: departed.request, prefill_len: departed.context + 1, remaining: departed.remaining }
            }
        };
        recorder.on_preempted(waiting.request);
        self.waiting.push_front(waiting);
        true
    }

    /// Records the replica's state into every sample tick that passed during the last step.
    fn sample(&mut self, recorder: &mut Recorder) {
        while self.next_sample_at <= self.now {
            recorder.timeline.sample(
                self.next_sample_at,
                self.num_running() as u64,
                self.waiting.len() as u64,
                self.used_blocks,
            );
            self.next_sample_at += recorder.timeline.interval();
        }
    }

    /// Checks the engine's invariants, O(running); used by debug builds and tests.
    ///
    /// # Panics
    ///
    /// Panics with the numbers when KV accounting or request counts disagree.
    pub fn check_invariants(&self) {
        let prefill_blocks: u64 = self.prefilling.iter().map(|p| p.blocks).sum();
        let held = prefill_blocks + self.decoding.blocks_held();
        assert_eq!(
            held, self.used_blocks,
            "replica {}: blocks held by requests ({held}) != used blocks ({})",
            self.replica.0, self.used_blocks
        );
        assert!(
            self.used_blocks <= self.total_blocks,
            "replica {}: used {} > total {}",
            self.replica.0,
            self.used_blocks,
            self.total_blocks
        );
        assert_eq!(
            self.outstanding as usize,
            self.waiting.len() + self.num_running(),
            "replica {}: outstanding count disagrees with queues",
            self.replica.0
        );
    }
}
