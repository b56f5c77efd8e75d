//! Every scheduling rule against a case computed by hand: small KV caches of a few 16-token
//! blocks, prompts of a few blocks, and the plan of each step read back.

use super::*;
use crate::metrics::Outcome;
use crate::scenario::Scenario;
use crate::workload::TraceFormat;

/// One request of a test trace: prompt and output lengths, and prefix hashes (one per 32
/// tokens).
struct Ask<'a>(u32, u32, &'a [u64]);

/// An engine on a tiny KV cache with the requests of a trace, all arriving at 0.
struct Harness {
    engine: Engine,
    trace: Trace,
    recorder: Recorder,
    events_left: u64,
    handoffs: Vec<crate::engine::Handoff>,
}

impl Harness {
    fn new(asks: &[Ask<'_>], num_blocks: u32, tweak: impl FnOnce(&mut SchedulerConfig)) -> Harness {
        let scenario = Scenario::default();
        let mut config = SchedulerConfig::from_scenario(&scenario);
        tweak(&mut config);
        let mut engine = Engine::new(ReplicaId(0), config.clone(), StepModel::from_scenario(&scenario).unwrap());
        engine.kv = KvCacheManager::new(num_blocks);
        engine.watermark_blocks = (f64::from(num_blocks) * config.watermark) as u32;
        engine.step_one_at_a_time();
        let mut block_starts = vec![0];
        let mut block_hashes = Vec::new();
        for ask in asks {
            block_hashes.extend_from_slice(ask.2);
            block_starts.push(block_hashes.len() as u32);
        }
        let trace = Trace {
            hash_block_tokens: 32,
            arrived_at: vec![SimTime::ZERO; asks.len()],
            prompt_tokens: asks.iter().map(|ask| ask.0).collect(),
            output_tokens: asks.iter().map(|ask| ask.1).collect(),
            block_starts,
            block_hashes,
            ..Trace::empty(TraceFormat::MooncakeJsonl)
        };
        let recorder = Recorder::new(&trace, config.max_model_len, SimDuration::from_millis(1_000));
        Harness { engine, trace, recorder, events_left: u64::MAX, handoffs: Vec::new() }
    }

    fn ctx(&mut self) -> (&mut Engine, StepContext<'_>) {
        let ctx = StepContext {
            trace: &self.trace,
            recorder: &mut self.recorder,
            events_left: &mut self.events_left,
            handoffs: &mut self.handoffs,
        };
        (&mut self.engine, ctx)
    }

    /// Hands request `index` to the engine at its current instant.
    fn arrive(&mut self, index: u32) {
        let (engine, mut ctx) = self.ctx();
        let now = engine.now;
        engine.enqueue(RequestId(index), now, &mut ctx);
    }

    /// Starts the next step and returns its plan: `(request, new tokens, cached tokens)` per
    /// prefill chunk, and the number of decodes.
    fn start(&mut self) -> (Vec<(u32, u64, u64)>, u32) {
        let (engine, mut ctx) = self.ctx();
        assert!(!engine.plan.in_flight);
        engine.start_step(&mut ctx).unwrap();
        let chunks = engine
            .plan
            .chunks
            .iter()
            .map(|&(index, tokens)| {
                let entry = &engine.prefilling[index];
                (entry.waiting.request.0, tokens, entry.computed)
            })
            .collect();
        (chunks, engine.plan.num_decodes)
    }

    /// Ends the step in flight.
    fn finish(&mut self) {
        let (engine, mut ctx) = self.ctx();
        let end = engine.plan.ends_at;
        engine.advance_to(end, &mut ctx).unwrap();
        engine.check_invariants();
    }

    /// Runs one whole step and returns its plan.
    fn step(&mut self) -> (Vec<(u32, u64, u64)>, u32) {
        let plan = self.start();
        self.finish();
        plan
    }
}

#[test]
fn max_num_seqs_caps_the_running_requests() {
    let mut h = Harness::new(&[Ask(10, 5, &[]), Ask(10, 5, &[]), Ask(10, 5, &[])], 100, |c| c.max_num_seqs = 2);
    (0..3).for_each(|i| h.arrive(i));
    let (chunks, _) = h.step();
    assert_eq!(chunks, vec![(0, 10, 0), (1, 10, 0)]);
    assert_eq!((h.engine.num_running(), h.engine.num_waiting()), (2, 1));
}

#[test]
fn fcfs_blocks_the_line_behind_a_head_that_does_not_fit() {
    // Chunked prefill off, budget 100: after the 60-token prompt, the 50-token one does not fit
    // the 40 tokens left, and the 10-token one behind it waits too (vLLM V1 breaks there).
    let mut h = Harness::new(&[Ask(60, 5, &[]), Ask(50, 5, &[]), Ask(10, 5, &[])], 100, |c| {
        c.chunked_prefill = false;
        c.max_num_batched_tokens = 100;
        c.max_model_len = 100;
        c.decode_max_model_len = 100;
    });
    (0..3).for_each(|i| h.arrive(i));
    assert_eq!(h.step().0, vec![(0, 60, 0)]);
    // Out of KV blocks: 10 blocks; 7 for a 100-token prompt, the next needs 5 of the 3 left,
    // and the 1-block prompt behind it is not considered.
    let mut h = Harness::new(&[Ask(100, 5, &[]), Ask(80, 5, &[]), Ask(16, 5, &[])], 10, |_| {});
    (0..3).for_each(|i| h.arrive(i));
    assert_eq!(h.step().0, vec![(0, 100, 0)]);
    assert_eq!(h.engine.num_waiting(), 2);
}

#[test]
fn the_watermark_holds_blocks_back_only_when_others_are_scheduled() {
    // 10 blocks, watermark 0.2 = 2 blocks. A lone 10-block prompt is admitted regardless.
    let mut h = Harness::new(&[Ask(160, 5, &[])], 10, |c| c.watermark = 0.2);
    h.arrive(0);
    assert_eq!(h.step().0, vec![(0, 160, 0)]);
    // A 1-block prompt first; then 8 blocks + 2 of watermark > the 9 free: refused...
    let mut h = Harness::new(&[Ask(16, 5, &[]), Ask(128, 5, &[])], 10, |c| c.watermark = 0.2);
    (0..2).for_each(|i| h.arrive(i));
    assert_eq!(h.step().0, vec![(0, 16, 0)]);
    // ...while without a watermark 8 ≤ 9 fits.
    let mut h = Harness::new(&[Ask(16, 5, &[]), Ask(128, 5, &[])], 10, |_| {});
    (0..2).for_each(|i| h.arrive(i));
    assert_eq!(h.step().0, vec![(0, 16, 0), (1, 128, 0)]);
}

#[test]
fn out_of_blocks_the_newest_request_is_preempted_nothing_is_admitted_and_it_recomputes_what_it_had() {
    // 4 blocks of 16. Two 31-token prompts take 2 blocks each; their first decode step writes
    // token 32 into the second block; the next needs a third block each, and none is free.
    let mut h = Harness::new(&[Ask(31, 100, &[]), Ask(31, 100, &[]), Ask(1, 5, &[])], 4, |c| {
        c.prefix_caching = false;
    });
    (0..2).for_each(|i| h.arrive(i));
    assert_eq!(h.step().0, vec![(0, 31, 0), (1, 31, 0)]); // prefill; each samples token 1
    assert_eq!(h.step(), (vec![], 2)); // token 2; contexts 32
    h.arrive(2);
    let (chunks, decodes) = h.start();
    // Request 1 (admitted last) is preempted; request 2 is not admitted in this step.
    assert_eq!((chunks, decodes), (vec![], 1));
    assert_eq!(h.recorder.requests.preemptions, vec![0, 1, 0]);
    let head = *h.engine.waiting.peek().unwrap();
    assert_eq!(head.request, RequestId(1), "a preempted request goes back to the front");
    assert_eq!((head.num_tokens, head.generated), (33, 2), "recompute: 31 prompt + 2 generated tokens");
    h.finish();
    // Next step: request 1 does not fit yet (3 blocks for 33 tokens, 1 free), and FCFS keeps
    // request 2 behind it.
    assert_eq!(h.step(), (vec![], 1));
}

#[test]
fn a_preempted_request_recomputes_only_what_the_cache_lost() {
    // As above with prefix caching on and a fifth block: request 1's two full private blocks
    // stay cached when it is preempted (request 0's new block comes from the empty fifth one,
    // first in the free queue), so its 33-token recompute hits 32 tokens and computes 1.
    let mut h = Harness::new(&[Ask(31, 3, &[]), Ask(31, 100, &[])], 5, |_| {});
    (0..2).for_each(|i| h.arrive(i));
    h.step();
    h.step();
    h.step(); // request 1 preempted; request 0 writes token 33 into its third block, finishes
    assert_eq!(h.recorder.requests.preemptions, vec![0, 1]);
    let (chunks, _) = h.step();
    assert_eq!(chunks, vec![(1, 1, 32)]);
}

#[test]
fn a_token_after_a_recompute_is_measured_from_the_token_before_the_preemption() {
    let mut h = Harness::new(&[Ask(31, 3, &[]), Ask(31, 100, &[])], 5, |_| {});
    (0..2).for_each(|i| h.arrive(i));
    h.step();
    h.step();
    let last_token_at = h.engine.now;
    h.step(); // preempts request 1
    let before = h.recorder.itl.count();
    h.step(); // request 1's recompute samples its third token
    let stall = h.engine.now - last_token_at;
    assert_eq!(h.recorder.itl.count(), before + 1, "one gap: the recompute's token (request 0 has finished)");
    let recorded = SimDuration::from_nanos(h.recorder.itl.quantile_nanos(1.0).unwrap() as u64);
    // The histogram keeps values within 1/32 of their bucket.
    assert!(recorded.as_nanos().abs_diff(stall.as_nanos()) * 32 <= stall.as_nanos(), "{recorded} vs {stall}");
}

#[test]
fn a_prefix_hit_skips_computing_the_cached_tokens() {
    // Hashes cover 32 tokens (2 blocks). Request 1 shares request 0's first two hashes.
    let mut h = Harness::new(&[Ask(96, 2, &[7, 8, 9]), Ask(100, 2, &[7, 8, 10, 11])], 100, |_| {});
    h.arrive(0);
    let first = h.step();
    let first_duration = h.engine.plan.duration;
    assert_eq!(first.0, vec![(0, 96, 0)]);
    h.step(); // request 0 finishes; its blocks stay cached
    h.arrive(1);
    let (chunks, _) = h.step();
    assert_eq!(chunks, vec![(1, 36, 64)], "64 tokens (hashes 7, 8) hit; 36 computed");
    assert!(h.engine.plan.duration < first_duration);
    assert_eq!(h.recorder.requests.cached_tokens, vec![0, 64]);
}

#[test]
fn a_fully_cached_prompt_still_recomputes_its_last_block() {
    let mut h = Harness::new(&[Ask(64, 1, &[1, 2]), Ask(64, 1, &[1, 2])], 100, |_| {});
    h.arrive(0);
    h.step();
    h.arrive(1);
    // vLLM caps hits at 63 tokens, whole blocks only: 3 blocks (48 tokens).
    assert_eq!(h.step().0, vec![(1, 16, 48)]);
}

#[test]
fn without_prefix_caching_nothing_hits() {
    let mut h = Harness::new(&[Ask(96, 1, &[7, 8, 9]), Ask(96, 1, &[7, 8, 9])], 100, |c| c.prefix_caching = false);
    h.arrive(0);
    h.step();
    h.arrive(1);
    assert_eq!(h.step().0, vec![(1, 96, 0)]);
}

#[test]
fn decodes_take_their_tokens_before_the_partial_prefill_that_was_admitted_after_them() {
    // Budget 64: request 0 (16 tokens) is admitted with 48 tokens of request 1's 200; next step
    // request 0 decodes first (1 token) and request 1 continues with the 63 left.
    let mut h = Harness::new(&[Ask(16, 10, &[]), Ask(200, 10, &[])], 100, |c| c.max_num_batched_tokens = 64);
    (0..2).for_each(|i| h.arrive(i));
    assert_eq!(h.step(), (vec![(0, 16, 0), (1, 48, 0)], 0));
    assert_eq!(h.step(), (vec![(1, 63, 48)], 1));
}

#[test]
fn outputs_stop_at_max_model_len_and_longer_prompts_are_rejected() {
    let mut h = Harness::new(&[Ask(90, 50, &[]), Ask(101, 5, &[])], 100, |c| {
        c.max_model_len = 100;
        c.decode_max_model_len = 100;
    });
    (0..2).for_each(|i| h.arrive(i));
    assert_eq!(h.recorder.requests.outcome[1], Outcome::Rejected(RejectReason::PromptExceedsMaxModelLen));
    let mut steps = 0;
    while h.engine.num_running() + h.engine.num_waiting() > 0 {
        h.step();
        steps += 1;
    }
    // 1 prefill step and 9 decode steps: 10 tokens, the sequence reaching 100.
    assert_eq!(steps, 10);
    assert_eq!(h.recorder.requests.generated_tokens(0), 10);
    assert!(h.recorder.requests.is_truncated(0));
}

#[test]
fn a_step_in_progress_shows_its_plan_not_its_effects() {
    let mut h = Harness::new(&[Ask(100, 1, &[])], 100, |_| {});
    h.arrive(0);
    h.start();
    // Mid-step: admitted and holding its blocks, but not finished.
    assert_eq!((h.engine.num_running(), h.engine.num_outstanding()), (1, 1));
    assert_eq!(h.engine.kv.num_used_blocks(), 7);
    h.finish();
    assert_eq!((h.engine.num_running(), h.engine.num_outstanding()), (0, 0));
    assert_eq!(h.engine.kv.num_used_blocks(), 0);
}
