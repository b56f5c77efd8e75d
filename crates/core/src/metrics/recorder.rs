//! What a run records: per-request records, per-token latencies and the timeline.

use serde::{Deserialize, Serialize};

use super::{Histogram, Timeline};
use crate::digest::Digest;
use crate::ids::{ReplicaId, RequestId};
use crate::time::{SimDuration, SimTime};
use crate::workload::Trace;

/// Why a request was refused without running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The prompt is longer than `engine.max_model_len` (vLLM rejects it on arrival).
    PromptExceedsMaxModelLen,
    /// It waited `engine.max_queue_time_s` without being admitted, and was dropped.
    QueueTimeout,
}

impl RejectReason {
    /// Every reason, in the order reports list them.
    pub const ALL: [RejectReason; 2] = [RejectReason::PromptExceedsMaxModelLen, RejectReason::QueueTimeout];

    /// A short explanation for tables.
    pub fn describe(self) -> &'static str {
        match self {
            RejectReason::PromptExceedsMaxModelLen => "the prompt exceeds max_model_len",
            RejectReason::QueueTimeout => "waited longer than max_queue_time_s",
        }
    }
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still queued or running: only mid-run, or when the run stopped early.
    Pending,
    /// Generated all its output tokens, or as many as `max_model_len` allows.
    Completed,
    /// Refused on arrival.
    Rejected(RejectReason),
}

/// Per-request records as columns, indexed by [`RequestId`]. Instants not reached are
/// [`SimTime::MAX`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLog {
    /// When the request arrived.
    pub arrived_at: Vec<SimTime>,
    /// Prompt tokens.
    pub prompt_tokens: Vec<u32>,
    /// Output tokens asked for.
    pub output_tokens: Vec<u32>,
    /// When it was first admitted into a batch.
    pub first_scheduled_at: Vec<SimTime>,
    /// When its first output token was emitted.
    pub first_token_at: Vec<SimTime>,
    /// When its last output token was emitted.
    pub finished_at: Vec<SimTime>,
    /// Prompt tokens served from the prefix cache at its first admission.
    pub cached_tokens: Vec<u32>,
    /// How many times it was preempted.
    pub preemptions: Vec<u32>,
    /// The replica it was routed to.
    pub replica: Vec<u32>,
    /// How it ended.
    pub outcome: Vec<Outcome>,
    /// The longest sequence a request may reach (outputs stop there).
    pub max_model_len: u64,
    /// A disaggregated run's transfer records.
    pub transfers: Option<TransferLog>,
}

/// Per-request records of a disaggregated run, indexed by [`RequestId`]; instants not reached
/// are [`SimTime::MAX`]. `RequestLog::replica` holds the prefill replica (the decode replica
/// for a request prefilled there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferLog {
    /// The decode replica (`u32::MAX` before it is assigned).
    pub decode_replica: Vec<u32>,
    /// When the prefill replica computed its prompt and sampled its first token (the client
    /// sees that token when the KV reaches the decode replica).
    pub prefill_done_at: Vec<SimTime>,
    /// When the decode replica reserved blocks for its KV (the transfer's start, before its
    /// latency).
    pub kv_reserved_at: Vec<SimTime>,
    /// When its KV arrived on the decode replica.
    pub kv_received_at: Vec<SimTime>,
    /// KV bytes moved.
    pub kv_bytes: Vec<u64>,
}

impl TransferLog {
    fn new(n: usize) -> TransferLog {
        TransferLog {
            decode_replica: vec![u32::MAX; n],
            prefill_done_at: vec![SimTime::MAX; n],
            kv_reserved_at: vec![SimTime::MAX; n],
            kv_received_at: vec![SimTime::MAX; n],
            kv_bytes: vec![0; n],
        }
    }

    /// Whether request `i` was prefilled on its decode replica (conditional disaggregation).
    pub fn prefilled_locally(&self, log: &RequestLog, i: usize) -> bool {
        self.decode_replica[i] == log.replica[i]
    }
}

impl RequestLog {
    /// Records for every request of `trace`, none of them started, on an engine whose
    /// sequences stop at `max_model_len` tokens.
    pub fn for_trace(trace: &Trace, max_model_len: u64) -> RequestLog {
        let n = trace.num_requests();
        RequestLog {
            arrived_at: trace.arrived_at.clone(),
            prompt_tokens: trace.prompt_tokens.clone(),
            output_tokens: trace.output_tokens.clone(),
            first_scheduled_at: vec![SimTime::MAX; n],
            first_token_at: vec![SimTime::MAX; n],
            finished_at: vec![SimTime::MAX; n],
            cached_tokens: vec![0; n],
            preemptions: vec![0; n],
            replica: vec![u32::MAX; n],
            outcome: vec![Outcome::Pending; n],
            max_model_len,
            transfers: None,
        }
    }

    /// Output tokens request `i` generates: all it asks for, unless its sequence reaches
    /// `max_model_len` first (vLLM stops it there).
    pub fn generated_tokens(&self, i: usize) -> u32 {
        generated_tokens(self.prompt_tokens[i], self.output_tokens[i], self.max_model_len)
    }

    /// Whether request `i` was stopped at `max_model_len` before its last output token.
    pub fn is_truncated(&self, i: usize) -> bool {
        self.generated_tokens(i) < self.output_tokens[i]
    }

    /// Whether request `i` was admitted at least once.
    pub fn was_admitted(&self, i: usize) -> bool {
        self.first_scheduled_at[i] != SimTime::MAX
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.arrived_at.len()
    }

    /// Whether there are no requests.
    pub fn is_empty(&self) -> bool {
        self.arrived_at.is_empty()
    }

    /// Indices of the completed requests.
    pub fn completed(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.outcome[i] == Outcome::Completed).collect()
    }

    /// Time to first token of request `i`, ms (meaningful once it emitted a token).
    pub fn ttft_ms(&self, i: usize) -> f64 {
        (self.first_token_at[i] - self.arrived_at[i]).as_millis_f64()
    }

    /// End-to-end latency of completed request `i`, ms.
    pub fn e2e_ms(&self, i: usize) -> f64 {
        (self.finished_at[i] - self.arrived_at[i]).as_millis_f64()
    }

    /// Queueing delay (arrival to first admission) of request `i`, ms.
    pub fn queueing_ms(&self, i: usize) -> f64 {
        (self.first_scheduled_at[i] - self.arrived_at[i]).as_millis_f64()
    }

    /// Time per output token after the first of completed request `i`, ms; `None` for a
    /// single-token output.
    pub fn tpot_ms(&self, i: usize) -> Option<f64> {
        let generated = self.generated_tokens(i);
        (generated > 1)
            .then(|| (self.finished_at[i] - self.first_token_at[i]).as_millis_f64() / f64::from(generated - 1))
    }

    /// A digest of every record: equal runs have equal digests, on every target.
    pub fn digest(&self) -> u64 {
        let mut digest = Digest::new();
        for i in 0..self.len() {
            for at in [self.arrived_at[i], self.first_scheduled_at[i], self.first_token_at[i], self.finished_at[i]] {
                digest.write_u64(at.as_nanos());
            }
            digest.write_u64(u64::from(self.cached_tokens[i]));
            digest.write_u64(u64::from(self.preemptions[i]));
            digest.write_u64(u64::from(self.replica[i]));
            let outcome = match self.outcome[i] {
                Outcome::Pending => 0,
                Outcome::Completed => 1,
                Outcome::Rejected(reason) => 2 + reason as u64,
            };
            digest.write_u64(outcome);
            if let Some(transfers) = &self.transfers {
                digest.write_u64(u64::from(transfers.decode_replica[i]));
                digest.write_u64(transfers.prefill_done_at[i].as_nanos());
                digest.write_u64(transfers.kv_reserved_at[i].as_nanos());
                digest.write_u64(transfers.kv_received_at[i].as_nanos());
                digest.write_u64(transfers.kv_bytes[i]);
            }
        }
        digest.finish()
    }
}

/// Output tokens a request with `prompt` tokens that asks for `output` generates: all of them,
/// unless its sequence reaches `max_model_len` first (vLLM stops it there:
/// `FINISHED_LENGTH_CAPPED`). At least one: a prompt of `max_model_len` tokens still samples one.
pub fn generated_tokens(prompt: u32, output: u32, max_model_len: u64) -> u32 {
    let room = max_model_len.saturating_sub(u64::from(prompt)).max(1);
    output.min(u32::try_from(room).unwrap_or(u32::MAX))
}

/// Everything a run records. Engines call the `on_*` methods as things happen.
#[derive(Clone, Debug)]
pub struct Recorder {
    /// Per-request records.
    pub requests: RequestLog,
    /// Inter-token latencies: the gap before every output token after a request's first.
    pub itl: Histogram,
    /// Counts and samples over time.
    pub timeline: Timeline,
    /// Engine steps executed over all replicas.
    pub num_steps: u64,
    /// Prompt tokens loaded from the host tier at first admissions (part of the cached tokens).
    pub host_cached_tokens: u64,
    /// Speculative decoding: sequence verifications, and draft tokens they accepted.
    pub num_verified: u64,
    /// See `num_verified`.
    pub num_accepted: u64,
    /// Requests that ended (completed, or refused on arrival) and when, kept only while
    /// someone waits for ends ([`Recorder::watch_ends`]).
    ended: Option<Vec<(RequestId, SimTime)>>,
}

impl Recorder {
    /// A recorder for `trace` on engines that stop sequences at `max_model_len`, sampling the
    /// timeline every `interval`.
    pub fn new(trace: &Trace, max_model_len: u64, interval: SimDuration) -> Recorder {
        Recorder {
            requests: RequestLog::for_trace(trace, max_model_len),
            itl: Histogram::new(),
            timeline: Timeline::new(interval),
            num_steps: 0,
            host_cached_tokens: 0,
            num_verified: 0,
            num_accepted: 0,
            ended: None,
        }
    }

    /// From now on, keep the requests that end, for [`Recorder::take_ended`] (the driver does
    /// when requests wait for others to end).
    pub fn watch_ends(&mut self) {
        self.ended = Some(Vec::new());
    }

    /// The requests that ended since the last call, with when; empty unless watched.
    pub fn take_ended(&mut self) -> Vec<(RequestId, SimTime)> {
        self.ended.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn on_ended(&mut self, request: RequestId, at: SimTime) {
        if let Some(ended) = &mut self.ended {
            ended.push((request, at));
        }
    }

    /// Keeps transfer records (a disaggregated run).
    pub fn record_transfers(&mut self) {
        self.requests.transfers = Some(TransferLog::new(self.requests.len()));
    }

    /// The decode replica the request was assigned, once it was.
    pub fn decode_replica(&self, request: RequestId) -> Option<ReplicaId> {
        let replica = self.requests.transfers.as_ref()?.decode_replica[request.index()];
        (replica != u32::MAX).then_some(ReplicaId(replica))
    }

    /// The request was assigned decode replica `replica`.
    pub fn on_decode_assigned(&mut self, request: RequestId, replica: ReplicaId) {
        self.transfers_mut().decode_replica[request.index()] = replica.0;
    }

    /// A prefill replica computed its prompt and sampled its first token at `at`.
    pub fn on_prefill_done(&mut self, request: RequestId, at: SimTime) {
        self.transfers_mut().prefill_done_at[request.index()] = at;
    }

    /// Its decode replica reserved blocks for `bytes` of its KV at `at`.
    pub fn on_kv_reserved(&mut self, request: RequestId, at: SimTime, bytes: u64) {
        let transfers = self.transfers_mut();
        transfers.kv_reserved_at[request.index()] = at;
        transfers.kv_bytes[request.index()] = bytes;
    }

    /// Its KV arrived on its decode replica at `at`.
    pub fn on_kv_received(&mut self, request: RequestId, at: SimTime) {
        self.transfers_mut().kv_received_at[request.index()] = at;
    }

    fn transfers_mut(&mut self) -> &mut TransferLog {
        self.requests.transfers.as_mut().expect("a disaggregated run records transfers")
    }

    /// The request arrived at `at` (counted in the arrivals timeline).
    pub fn on_arrived(&mut self, at: SimTime) {
        self.timeline.add_arrival(at);
    }

    /// The router sent the request to `replica`.
    pub fn on_routed(&mut self, request: RequestId, replica: ReplicaId) {
        self.requests.replica[request.index()] = replica.0;
    }

    /// The request was refused on arrival.
    pub fn reject(&mut self, request: RequestId, reason: RejectReason) {
        self.reject_at(request, reason, self.requests.arrived_at[request.index()]);
    }

    /// The request was refused at `at` (dropped from a queue): a request that follows it is
    /// released from then.
    pub fn reject_at(&mut self, request: RequestId, reason: RejectReason, at: SimTime) {
        self.requests.outcome[request.index()] = Outcome::Rejected(reason);
        self.on_ended(request, at);
    }

    /// The request entered a batch at `at` with `cached_tokens` of its prompt served from the
    /// prefix cache, `host_tokens` of them loaded from the host tier. Only its first admission is recorded (a recompute after a preemption is
    /// not a new request).
    pub fn on_admitted(&mut self, request: RequestId, at: SimTime, cached_tokens: u64, host_tokens: u64) {
        let i = request.index();
        if self.requests.first_scheduled_at[i] != SimTime::MAX {
            return;
        }
        self.host_cached_tokens += host_tokens;
        self.timeline.add_host_hits(at, host_tokens);
        self.requests.first_scheduled_at[i] = at;
        let cached = u32::try_from(cached_tokens).unwrap_or(u32::MAX);
        self.requests.cached_tokens[i] = cached;
        self.timeline.add_admission(at, u64::from(self.requests.prompt_tokens[i]), u64::from(cached));
    }

    /// The request's prefill finished and sampled its first token.
    pub fn on_first_token(&mut self, request: RequestId, at: SimTime) {
        self.requests.first_token_at[request.index()] = at;
    }

    /// A preempted request's recompute finished and sampled its next token, `gap` after its
    /// previous one: the stall a client measures.
    pub fn on_token_after_preemption(&mut self, gap: SimDuration) {
        self.itl.record(gap, 1);
    }

    /// The request was preempted.
    pub fn on_preempted(&mut self, request: RequestId) {
        self.requests.preemptions[request.index()] += 1;
    }

    /// The request emitted its last token at `at`.
    pub fn on_finished(&mut self, request: RequestId, at: SimTime) {
        self.requests.finished_at[request.index()] = at;
        self.requests.outcome[request.index()] = Outcome::Completed;
        self.timeline.add_completion(at);
        self.on_ended(request, at);
    }

    /// A speculative step ending at `end` verified the drafts of `sequences` sequences, which
    /// accepted `accepted` draft tokens in all.
    pub fn on_verified(&mut self, end: SimTime, sequences: u64, accepted: u64) {
        self.num_verified += sequences;
        self.num_accepted += accepted;
        self.timeline.add_verified(end, sequences, accepted);
    }

    /// A step of `duration` ended at `end`, emitting `decoded` decode tokens (each `duration`
    /// after the request's previous token) and `tokens` output tokens in all.
    #[inline]
    pub fn on_step(&mut self, end: SimTime, duration: SimDuration, decoded: u64, tokens: u64) {
        self.num_steps += 1;
        self.itl.record(duration, decoded);
        self.timeline.add_output_tokens(end, tokens);
    }
}

/// Records a stretch of decode-only steps of one batch size exactly as many
/// [`Recorder::on_step`] calls would, adding to the histogram and the timeline once per bucket
/// the steps fall in rather than once per step.
#[derive(Debug)]
pub struct DecodeSteps {
    batch: u64,
    steps: u64,
    /// Steps in the current histogram bucket `itl_low..itl_high`: how many, one of their
    /// durations, and the sum of their durations.
    itl_low: u64,
    itl_high: u64,
    itl_any: u64,
    itl_steps: u64,
    itl_nanos: u128,
    /// Tokens emitted in the current timeline bucket (ending at `tokens_until`), and one instant
    /// in it.
    tokens_at: SimTime,
    tokens_until: SimTime,
    tokens: u64,
}

impl DecodeSteps {
    /// A stretch of steps decoding `batch` sequences each.
    pub fn new(batch: u32) -> DecodeSteps {
        DecodeSteps {
            batch: u64::from(batch),
            steps: 0,
            itl_low: 0,
            itl_high: 0,
            itl_any: 0,
            itl_steps: 0,
            itl_nanos: 0,
            tokens_at: SimTime::ZERO,
            tokens_until: SimTime::ZERO,
            tokens: 0,
        }
    }

    /// A step of `duration` ended at `end`.
    #[inline]
    pub fn add(&mut self, recorder: &mut Recorder, end: SimTime, duration: SimDuration) {
        let nanos = duration.as_nanos();
        if !(self.itl_low..self.itl_high).contains(&nanos) {
            self.flush_itl(recorder);
            (self.itl_low, self.itl_high) = Histogram::bucket_range(nanos);
            self.itl_any = nanos;
        }
        self.itl_steps += 1;
        self.itl_nanos += u128::from(nanos);
        if end >= self.tokens_until {
            self.flush_tokens(recorder);
            self.tokens_until = recorder.timeline.bucket_end(end);
            self.tokens_at = end;
        }
        self.tokens += self.batch;
        self.steps += 1;
    }

    /// Adds what is left to `recorder`.
    pub fn finish(mut self, recorder: &mut Recorder) {
        self.flush_itl(recorder);
        self.flush_tokens(recorder);
        recorder.num_steps += self.steps;
    }

    fn flush_itl(&mut self, recorder: &mut Recorder) {
        if self.itl_steps > 0 {
            let batch = u128::from(self.batch);
            recorder.itl.record_in_bucket(self.itl_any, self.itl_steps * self.batch, self.itl_nanos * batch);
            self.itl_steps = 0;
            self.itl_nanos = 0;
        }
    }

    fn flush_tokens(&mut self, recorder: &mut Recorder) {
        if self.tokens > 0 {
            recorder.timeline.add_output_tokens(self.tokens_at, self.tokens);
            self.tokens = 0;
        }
    }
}
