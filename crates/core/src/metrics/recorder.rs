//! What a run records: per-request records, per-token latencies and the timeline.

use serde::{Deserialize, Serialize};

use super::{Histogram, Timeline};
use crate::digest::Digest;
use crate::ids::RequestId;
use crate::time::{SimDuration, SimTime};
use crate::workload::Trace;

/// Why a request was refused without running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Prompt plus output exceed the model's context length.
    ExceedsContext,
    /// Prompt plus output need more KV blocks than a replica holds.
    ExceedsKvCapacity,
    /// Without chunked prefill, prompt plus output exceed the step token budget.
    ExceedsStepBudget,
}

impl RejectReason {
    /// A short explanation for tables.
    pub fn describe(self) -> &'static str {
        match self {
            RejectReason::ExceedsContext => "prompt + output exceed the model's context length",
            RejectReason::ExceedsKvCapacity => "prompt + output exceed a replica's KV cache",
            RejectReason::ExceedsStepBudget => "prompt + output exceed the step token budget (chunked prefill off)",
        }
    }
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still queued or running (only mid-run).
    Pending,
    /// Generated all its output tokens.
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
    /// How many times it was preempted.
    pub preemptions: Vec<u32>,
    /// The replica it was routed to.
    pub replica: Vec<u32>,
    /// How it ended.
    pub outcome: Vec<Outcome>,
}

impl RequestLog {
    /// Records for every request of `trace`, none of them started.
    pub fn for_trace(trace: &Trace) -> RequestLog {
        let n = trace.num_requests();
        RequestLog {
            arrived_at: trace.arrived_at.clone(),
            prompt_tokens: trace.prompt_tokens.clone(),
            output_tokens: trace.output_tokens.clone(),
            first_scheduled_at: vec![SimTime::MAX; n],
            first_token_at: vec![SimTime::MAX; n],
            finished_at: vec![SimTime::MAX; n],
            preemptions: vec![0; n],
            replica: vec![u32::MAX; n],
            outcome: vec![Outcome::Pending; n],
        }
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
        (self.output_tokens[i] > 1).then(|| {
            (self.finished_at[i] - self.first_token_at[i]).as_millis_f64() / f64::from(self.output_tokens[i] - 1)
        })
    }

    /// A digest of every record: equal runs have equal digests, on every target.
    pub fn digest(&self) -> u64 {
        let mut digest = Digest::new();
        for i in 0..self.len() {
            for at in [self.arrived_at[i], self.first_scheduled_at[i], self.first_token_at[i], self.finished_at[i]] {
                digest.write_u64(at.as_nanos());
            }
            digest.write_u64(u64::from(self.preemptions[i]));
            digest.write_u64(u64::from(self.replica[i]));
            let outcome = match self.outcome[i] {
                Outcome::Pending => 0,
                Outcome::Completed => 1,
                Outcome::Rejected(reason) => 2 + reason as u64,
            };
            digest.write_u64(outcome);
        }
        digest.finish()
    }
}

/// Everything a run records. Engines call the `on_*` methods as things happen.
#[derive(Clone, Debug)]
pub struct Recorder {
    /// Per-request records.
    pub requests: RequestLog,
    /// Inter-token latencies of decode tokens.
    pub itl: Histogram,
    /// Counts and samples over time.
    pub timeline: Timeline,
    /// Engine steps executed over all replicas.
    pub num_steps: u64,
}

impl Recorder {
    /// A recorder for `trace`, sampling the timeline every `interval`.
    pub fn new(trace: &Trace, interval: SimDuration) -> Recorder {
        Recorder {
            requests: RequestLog::for_trace(trace),
            itl: Histogram::new(),
            timeline: Timeline::new(interval),
            num_steps: 0,
        }
    }

    /// The request was refused on arrival.
    pub fn reject(&mut self, request: RequestId, reason: RejectReason) {
        self.requests.outcome[request.index()] = Outcome::Rejected(reason);
    }

    /// The request entered a batch (only the first time counts).
    pub fn on_scheduled(&mut self, request: RequestId, at: SimTime) {
        let first = &mut self.requests.first_scheduled_at[request.index()];
        *first = (*first).min(at);
    }

    /// A prefill finished and sampled a token: the first token unless the request is being
    /// recomputed after a preemption.
    pub fn on_token_after_prefill(&mut self, request: RequestId, at: SimTime) {
        let first = &mut self.requests.first_token_at[request.index()];
        *first = (*first).min(at);
    }

    /// The request was preempted.
    pub fn on_preempted(&mut self, request: RequestId) {
        self.requests.preemptions[request.index()] += 1;
    }

    /// The request emitted its last token.
    pub fn finish(&mut self, request: RequestId, at: SimTime) {
        self.requests.finished_at[request.index()] = at;
        self.requests.outcome[request.index()] = Outcome::Completed;
        self.timeline.add_completion(at);
    }

    /// A step of `duration` ended at `end`, emitting `decoded` decode tokens (each after
    /// `duration` since the request's previous token) and `tokens` output tokens in all.
    pub fn on_step(&mut self, end: SimTime, duration: SimDuration, decoded: u64, tokens: u64) {
        self.num_steps += 1;
        self.itl.record(duration, decoded);
        self.timeline.add_output_tokens(end, tokens);
    }
}
