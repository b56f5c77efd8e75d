//! Simulation behaviour: a hand-computed single request, KV pressure that preempts, the event
//! budget, the saturation verdict, and properties that must hold for any workload
//! (conservation, causality, determinism, lazy = eager stepping, KV accounting).

use servesim_core::metrics::{Outcome, RejectReason};
use servesim_core::perf::{BatchShape, PrefillChunk, StepModel};
use servesim_core::scenario::{
    Deployment, Disaggregated, ReplicaPool, RouterKind, RouterSettings, Scenario, Scheduling, Speculative,
    SpeculativeMethod, Transfer, Workload,
};
use servesim_core::sim::{RunResult, Simulation, Stepping};
use servesim_core::time::{SimDuration, SimTime};
use servesim_core::workload::{
    parse_trace, Arrivals, Generator, GeneratorClass, Lengths, Sessions, Trace, TraceFormat, WorkloadSource, NO_ROW,
};

fn trace(text: &str) -> Trace {
    parse_trace(text, &mut |_| {}).unwrap()
}

fn run(scenario: &Scenario, trace: Trace) -> RunResult {
    let mut simulation = Simulation::new(scenario, trace).unwrap();
    simulation.run();
    simulation.results()
}

#[test]
fn a_lone_request_takes_exactly_one_prefill_step_then_one_decode_step_per_token() {
    let scenario = Scenario::default();
    let (prompt, output) = (1_000u32, 20u32);
    let result =
        run(&scenario, trace(&format!("arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,{prompt},{output}\n")));

    let model = StepModel::from_scenario(&scenario).unwrap();
    let prefill = model.step_time(&BatchShape {
        num_decode: 0,
        decode_context_tokens: 0,
        prefills: &[PrefillChunk { new_tokens: prompt, cached_tokens: 0 }],
    });
    // Decode step k attends the prompt plus k tokens (the KV written this step included).
    let decode_total = (1..u64::from(output))
        .map(|k| {
            model.step_time(&BatchShape { num_decode: 1, decode_context_tokens: u64::from(prompt) + k, prefills: &[] })
        })
        .fold(SimDuration::ZERO, |sum, d| sum + d);

    let requests = &result.requests;
    // Arrival times are made relative to the first request.
    let arrived_at = SimTime::ZERO;
    assert_eq!(requests.arrived_at[0], arrived_at);
    assert_eq!(requests.outcome[0], Outcome::Completed);
    assert_eq!(requests.first_scheduled_at[0], arrived_at);
    assert_eq!(requests.first_token_at[0], arrived_at + prefill, "TTFT is the prefill step");
    assert_eq!(requests.finished_at[0], arrived_at + prefill + decode_total, "then one decode step per token");
    let summary = &result.report.summary;
    let tpot_ms = decode_total.as_millis_f64() / f64::from(output - 1);
    assert!((summary.tpot_ms.as_ref().unwrap().mean - tpot_ms).abs() < 1e-9);
    assert!((summary.ttft_ms.as_ref().unwrap().p50 - prefill.as_millis_f64()).abs() < 1e-9);
    // 1,000 prompt tokens of Llama-3.1-8B on an H100: about 20 ms (compute-light, weight-bound).
    assert!((10.0..40.0).contains(&prefill.as_millis_f64()), "{prefill}");
    // About 7.6 ms per token: weight streaming plus CPU and kernel latencies (perf::step tests).
    assert!((7.5..7.8).contains(&tpot_ms), "{tpot_ms}");
    assert_eq!(summary.preemptions, 0);
    assert_eq!(result.report.engine_steps, u64::from(output), "one prefill step and 19 decode steps");
}

/// 60 requests with 512-token prompts arrive within a second; their outputs (1,000 to 3,000
/// tokens) grow far past a KV cache of about 20,000 tokens: the engine, which admits on the
/// prompt alone as vLLM does, must preempt. Two prompts exceed `max_model_len`.
fn kv_pressure(gpu_memory_utilization: f64) -> (Scenario, Trace) {
    let mut scenario = Scenario::default();
    scenario.engine.gpu_memory_utilization = gpu_memory_utilization;
    scenario.engine.max_model_len = Some(8_192);
    let mut csv = "arrived_at,num_prefill_tokens,num_decode_tokens\n".to_owned();
    for i in 0..60u32 {
        let prompt = if i % 30 == 7 { 9_000 } else { 512 };
        csv.push_str(&format!("{},{prompt},{}\n", f64::from(i) / 60.0, 1_000 + (i * 37) % 2_000));
    }
    (scenario, trace(&csv))
}

#[test]
fn a_small_kv_cache_preempts_for_lack_of_blocks_and_a_large_one_does_not() {
    let (tight, workload) = kv_pressure(0.27);
    let tight_run = run(&tight, workload.clone());
    let summary = &tight_run.report.summary;
    assert!(
        tight_run.report.kv_capacity_tokens_per_replica < 25_000,
        "{}",
        tight_run.report.kv_capacity_tokens_per_replica
    );
    assert!(summary.preemptions > 0, "growing outputs exhaust the blocks");
    assert_eq!(summary.requests.rejected_by_reason.get(&RejectReason::PromptExceedsMaxModelLen), Some(&2));
    assert_eq!(summary.requests.rejected, 2);
    assert_eq!(summary.requests.completed, 58);
    let kv_used =
        tight_run.report.series.iter().find(|s| s.id == servesim_core::stats::SeriesId::KvCacheUsedPercent).unwrap();
    assert!(kv_used.y_range().unwrap().1 > 95.0, "the cache fills up");
    // The same requests with room for all of them: no preemption. The queue is the same (60
    // requests, far below max_num_seqs), so the blocks were the cause.
    let (roomy, workload) = kv_pressure(0.9);
    assert_eq!(run(&roomy, workload).report.summary.preemptions, 0);
}

#[test]
fn a_run_that_spends_its_event_budget_stops_and_counts_what_it_did_not_finish() {
    let (mut scenario, workload) = kv_pressure(0.9);
    scenario.limits.max_events = 500;
    let report = run(&scenario, workload).report;
    let counts = &report.summary.requests;
    assert!(report.stopped_early.as_deref().is_some_and(|why| why.contains("limits.max_events")), "{report:?}");
    assert!(counts.unfinished > 0);
    assert_eq!(counts.completed + counts.rejected + counts.unfinished, counts.total);
    // Arrivals (60) and steps together are the events.
    assert_eq!(report.engine_steps + 60, 500);
}

#[test]
fn overload_from_the_first_request_is_judged_saturated_and_a_light_load_is_not() {
    let constant_rate = |per_second: f64, requests: usize| {
        let mut csv = "arrived_at,num_prefill_tokens,num_decode_tokens\n".to_owned();
        for i in 0..requests {
            csv.push_str(&format!("{},1000,200\n", i as f64 / per_second));
        }
        trace(&csv)
    };
    // One H100 serves about 30 of these requests per second.
    let overloaded = run(&Scenario::default(), constant_rate(100.0, 3_000)).report.summary.saturation;
    assert!(overloaded.saturated, "{overloaded:?}");
    assert!(overloaded.queueing_growth > 0.3, "{overloaded:?}");
    let light = run(&Scenario::default(), constant_rate(5.0, 600)).report.summary.saturation;
    assert!(!light.saturated && light.final_queueing_s < 0.1, "{light:?}");
}

#[test]
fn a_generated_million_request_workload_is_accepted() {
    let scenario = Scenario {
        workload: Workload::from(WorkloadSource::Generator(Generator::single(GeneratorClass {
            arrivals: Arrivals::Poisson { rate_per_s: 1_000.0 },
            num_requests: 1_000_000,
            prompt_tokens: Lengths::Fixed { tokens: 10 },
            output_tokens: Lengths::Fixed { tokens: 1 },
            ..GeneratorClass::default()
        }))),
        ..Scenario::default()
    };
    assert_eq!(scenario.validate(), Ok(()));
}

fn generated(class: GeneratorClass, seed: u64) -> Trace {
    Generator::single(class).generate(seed)
}

#[test]
fn a_closed_loop_client_sends_each_request_its_think_time_after_the_previous_one_ends() {
    let closed = GeneratorClass {
        arrivals: Arrivals::ClosedLoop { concurrency: 1, think_time_s: 0.25 },
        num_requests: 40,
        ..GeneratorClass::default()
    };
    let result = run(&Scenario::default(), generated(closed, 3));
    let log = &result.requests;
    assert_eq!(result.report.summary.requests.completed, 40);
    assert_eq!(log.arrived_at[0], SimTime::ZERO);
    for i in 1..40 {
        assert_eq!(log.arrived_at[i], log.finished_at[i - 1] + SimDuration::from_millis(250), "request {i}");
    }
}

#[test]
fn a_client_whose_request_times_out_in_the_queue_sends_its_next_one_think_time_after_the_drop() {
    // Eight clients on a replica that runs one request at a time: most wait, and time out.
    let closed = GeneratorClass {
        arrivals: Arrivals::ClosedLoop { concurrency: 8, think_time_s: 0.1 },
        num_requests: 60,
        ..GeneratorClass::default()
    };
    let trace = generated(closed, 9);
    let follows = trace.follows.clone();
    let mut scenario = Scenario::default();
    scenario.engine.max_num_seqs = 1;
    scenario.engine.max_queue_time_s = Some(0.5);
    let result = run(&scenario, trace);
    let log = &result.requests;
    let dropped = |row: usize| log.outcome[row] == Outcome::Rejected(RejectReason::QueueTimeout);
    assert!((0..log.len()).any(dropped), "some requests time out");
    for (row, &previous) in follows.iter().enumerate() {
        if previous == NO_ROW || !dropped(previous as usize) {
            continue;
        }
        // Dropped at the first step start after its deadline: at least 0.5 s after it arrived,
        // and its client thinks 0.1 s before the next request.
        let earliest = log.arrived_at[previous as usize] + SimDuration::from_millis(600);
        assert!(log.arrived_at[row] >= earliest, "row {row} arrived before its predecessor was dropped");
    }
    assert_eq!(result.report.summary.requests.completed + result.report.summary.requests.rejected, 60);
}

#[test]
fn a_closed_loop_never_has_more_requests_in_flight_than_clients_and_keeps_them_busy() {
    let concurrency = 8;
    let closed = GeneratorClass {
        arrivals: Arrivals::ClosedLoop { concurrency, think_time_s: 0.0 },
        num_requests: 400,
        ..GeneratorClass::default()
    };
    let trace = generated(closed, 5);
    let follows = trace.follows.clone();
    let result = run(&Scenario::default(), trace);
    let log = &result.requests;
    // Sweep arrivals and ends: in flight never exceeds the clients.
    let mut events: Vec<(SimTime, i32)> =
        (0..log.len()).flat_map(|i| [(log.arrived_at[i], 1), (log.finished_at[i], -1)]).collect();
    events.sort();
    let (mut in_flight, mut most) = (0i32, 0i32);
    for (_, change) in events {
        in_flight += change;
        most = most.max(in_flight);
    }
    assert_eq!(most, concurrency as i32, "all clients busy at the start, never more");
    for (row, &previous) in follows.iter().enumerate() {
        if previous != NO_ROW {
            assert_eq!(log.arrived_at[row], log.finished_at[previous as usize], "zero think time");
        }
    }
}

#[test]
fn session_turns_wait_for_their_previous_turn_and_reuse_its_prefix() {
    let sessions = Sessions { turns: Lengths::Fixed { tokens: 4 }, think_time_s: 1.0, system_prompt_tokens: 512 };
    let class = GeneratorClass {
        arrivals: Arrivals::Poisson { rate_per_s: 2.0 },
        num_requests: 200,
        prompt_tokens: Lengths::Fixed { tokens: 200 },
        output_tokens: Lengths::Fixed { tokens: 50 },
        sessions: Some(sessions),
        ..GeneratorClass::default()
    };
    let trace = generated(class, 7);
    let follows = trace.follows.clone();
    let think = trace.think_time.clone();
    let mut scenario = Scenario::default();
    scenario.engine.prefix_caching = true;
    let result = run(&scenario, trace);
    let log = &result.requests;
    assert_eq!(result.report.summary.requests.completed, 200);
    for (row, &previous) in follows.iter().enumerate() {
        if previous != NO_ROW {
            assert_eq!(log.arrived_at[row], log.finished_at[previous as usize] + think[row]);
            // A later turn finds at least its previous turn's full blocks of 16 tokens cached
            // (one replica, a cache far larger than the workload).
            let earlier = u64::from(log.prompt_tokens[previous as usize]) / 64 * 64;
            assert!(u64::from(log.cached_tokens[row]) >= earlier, "row {row}: {} < {earlier}", log.cached_tokens[row]);
        }
    }
}

#[test]
fn an_imported_session_trace_replays_each_later_turn_after_the_previous_one_ends() {
    let imported = trace(
        "{\"session_id\": \"s\", \"timestamp\": 0, \"input_length\": 3000, \"output_length\": 40, \"hash_ids\": [1, 2, 3, 4, 5, 6]}\n\
         {\"session_id\": \"s\", \"timestamp\": 900, \"input_length\": 3600, \"output_length\": 40, \"hash_ids\": [1, 2, 3, 4, 5, 16, 17, 18]}\n\
         {\"session_id\": \"s\", \"delay\": 2000, \"input_length\": 4200, \"output_length\": 40, \"hash_ids\": [1, 2, 3, 4, 5, 16, 17, 28, 29]}\n",
    );
    let result = run(&Scenario::default(), imported);
    let log = &result.requests;
    assert_eq!(log.arrived_at[1], log.finished_at[0] + SimDuration::from_millis(900));
    assert_eq!(log.arrived_at[2], log.finished_at[1] + SimDuration::from_millis(2_000));
    // Each turn finds the blocks it shares with the earlier turn cached: the 512-token hash
    // blocks that were full in it (a partial last block has an id of its own, as in Mooncake).
    assert_eq!(log.cached_tokens[1], 5 * 512, "the 6th block of turn 1 was partial");
    assert_eq!(log.cached_tokens[2], 7 * 512, "the 8th block of turn 2 was partial");
}

#[test]
fn a_trace_whose_rows_all_wait_is_refused_as_empty() {
    let mut trace = trace(
        "arrived_at,num_prefill_tokens,num_decode_tokens
0,10,10
",
    );
    trace.follows = vec![0];
    trace.think_time = vec![SimDuration::ZERO];
    assert!(Simulation::new(&Scenario::default(), trace).is_err());
    assert_eq!(Trace::empty(TraceFormat::Generated).num_chained(), 0);
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A small random workload (Mooncake JSONL with prefix hashes shared within a few groups)
    /// and deployment, sized to stress batching limits and the KV cache.
    fn case() -> impl Strategy<Value = (Scenario, String)> {
        let requests = prop::collection::vec((0u32..4_000, 1u32..20_000, 1u32..600, 0u64..4, 0u32..40), 1..50);
        let knobs = (
            1u32..4,
            0usize..RouterKind::ALL.len(),
            1u32..64,
            prop::sample::select(vec![256u32, 512, 2048, 8192]),
            prop::sample::select(vec![8u32, 16, 32, 1024]),
            (any::<bool>(), any::<bool>()),
            0.3f64..0.9,
            any::<u64>(),
        );
        // Speculative draft tokens (0: off), priority scheduling, a queue timeout in ms (0: none),
        // a host tier in MB (0: none) and swap preemption.
        let policies = (
            prop::sample::select(vec![0u32, 0, 1, 3]),
            any::<bool>(),
            prop::sample::select(vec![0u32, 0, 200, 5_000]),
            prop::sample::select(vec![0u32, 0, 200, 2_000]),
            any::<bool>(),
            any::<bool>(),
        );
        // Disaggregation (decode replicas, 0: aggregated), conditional disaggregation's
        // threshold (0: off), stale signals in ms, and NVLink domains of one GPU (NICs only).
        let layout = (
            prop::sample::select(vec![0u32, 0, 1, 2]),
            prop::sample::select(vec![0u32, 0, 512, 4_096]),
            prop::sample::select(vec![0u32, 0, 100, 2_000]),
            any::<bool>(),
        );
        (requests, knobs, policies, layout).prop_map(
            |(requests, (replicas, router, max_num_seqs, budget, block_size, (chunked, caching), memory, seed), (drafts, priority, queue_ms, host_mb, swap, reserve), (decode, threshold, delay_ms, nics_only))| {
                let pool = |replicas| ReplicaPool { replicas, ..ReplicaPool::default() };
                let deployment = if decode == 0 {
                    Deployment::Aggregated(pool(replicas))
                } else {
                    Deployment::Disaggregated(Disaggregated {
                        prefill: pool(replicas),
                        decode: pool(decode),
                        transfer: Transfer { nvlink_domain_gpus: nics_only.then_some(1), ..Transfer::default() },
                        conditional_threshold: (threshold > 0).then_some(threshold),
                    })
                };
                let mut scenario = Scenario {
                    seed,
                    deployment,
                    router: RouterSettings { signal_delay_ms: f64::from(delay_ms), ..RouterSettings::of(RouterKind::ALL[router]) },
                    ..Scenario::default()
                };
                let engine = &mut scenario.engine;
                engine.max_num_seqs = max_num_seqs;
                engine.max_num_batched_tokens = budget.max(max_num_seqs * (drafts + 1));
                if drafts > 0 {
                    engine.speculative = Some(Speculative {
                        method: SpeculativeMethod::Eagle,
                        num_draft_tokens: drafts,
                        acceptance: Some(vec![0.7; drafts as usize]),
                        acceptance_lengths: None,
                        draft: None,
                    });
                }
                if priority {
                    engine.scheduling = Scheduling::Priority;
                }
                engine.max_queue_time_s = (queue_ms > 0).then(|| f64::from(queue_ms) / 1e3);
                engine.host_kv_cache_gb = f64::from(host_mb) / 1e3;
                engine.reserve_kv_for_output = reserve;
                if swap && host_mb > 0 {
                    engine.preemption = servesim_core::scenario::Preemption::Swap;
                }
                engine.block_size = block_size;
                engine.chunked_prefill = chunked;
                engine.prefix_caching = caching;
                engine.gpu_memory_utilization = memory;
                engine.max_model_len =
                    Some(if chunked { 32_768 } else { engine.max_num_batched_tokens });
                let mut arrived_ms = 0u64;
                let mut jsonl = String::new();
                for (index, (gap_ms, prompt, output, group, shared)) in requests.into_iter().enumerate() {
                    arrived_ms += u64::from(gap_ms);
                    // Hashes chain the prefix: the first `shared` of a group's are common.
                    let hashes: Vec<String> = (0..prompt.div_ceil(512))
                        .map(|k| if k < shared { group * 1_000 + u64::from(k) } else { 1_000_000 + index as u64 * 1_000 + u64::from(k) })
                        .map(|hash| hash.to_string())
                        .collect();
                    jsonl.push_str(&format!(
                        "{{\"timestamp\": {arrived_ms}, \"input_length\": {prompt}, \"output_length\": {output}, \"hash_ids\": [{}]}}\n",
                        hashes.join(", ")
                    ));
                }
                (scenario, jsonl)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn every_request_ends_once_causally_reproducibly_and_alike_under_both_steppings((scenario, jsonl) in case()) {
            // Debug builds also check the request counts after every step and audit every KV
            // block every 256 steps; here every engine is audited at the end.
            let mut simulation = Simulation::new(&scenario, trace(&jsonl)).unwrap();
            simulation.run();
            for engine in simulation.engines() {
                engine.check_invariants();
                prop_assert_eq!(engine.kv_cache().num_used_blocks(), 0, "every block is returned");
            }
            let first = simulation.results();
            let requests = &first.requests;
            let mut completions = 0;
            for i in 0..requests.len() {
                match requests.outcome[i] {
                    Outcome::Completed => {
                        completions += 1;
                        prop_assert!(requests.arrived_at[i] <= requests.first_scheduled_at[i]);
                        prop_assert!(requests.first_scheduled_at[i] < requests.first_token_at[i]);
                        prop_assert!(requests.first_token_at[i] <= requests.finished_at[i]);
                        prop_assert!(requests.finished_at[i] < SimTime::MAX);
                        prop_assert!(requests.cached_tokens[i] < requests.prompt_tokens[i]);
                        if requests.generated_tokens(i) > 1 {
                            prop_assert!(requests.first_token_at[i] < requests.finished_at[i]);
                        }
                        if !scenario.engine.prefix_caching {
                            prop_assert_eq!(requests.cached_tokens[i], 0);
                        }
                    }
                    Outcome::Rejected(RejectReason::PromptExceedsMaxModelLen) => {
                        prop_assert!(u64::from(requests.prompt_tokens[i]) > u64::from(scenario.max_model_len().unwrap()));
                        prop_assert_eq!(requests.first_scheduled_at[i], SimTime::MAX);
                        prop_assert_eq!(requests.finished_at[i], SimTime::MAX);
                    }
                    Outcome::Rejected(RejectReason::QueueTimeout) => {
                        prop_assert!(scenario.engine.max_queue_time_s.is_some(), "timeouts only with a limit");
                        prop_assert_eq!(requests.first_scheduled_at[i], SimTime::MAX, "dropped before admission");
                    }
                    Outcome::Pending => prop_assert!(false, "request {} never ended", i),
                }
            }
            let summary = &first.report.summary;
            prop_assert_eq!(summary.requests.completed, completions);
            prop_assert_eq!(summary.requests.completed + summary.requests.rejected, summary.requests.total);
            let timeline_completions: f64 = first.report.series.iter()
                .find(|s| s.id == servesim_core::stats::SeriesId::CompletionsPerS).unwrap()
                .points.iter().map(|&(_, per_s)| per_s).sum();
            let width = first.report.series[0].points.get(1).map_or(1.0, |p| p.0);
            prop_assert!((timeline_completions * width - completions as f64).abs() < 1e-6 * completions.max(1) as f64);

            let second = run(&scenario, trace(&jsonl));
            prop_assert_eq!(first.report.digest, second.report.digest);
            prop_assert_eq!(&first.report.summary, &second.report.summary);
            let mut eager = Simulation::with_stepping(&scenario, trace(&jsonl), Stepping::Eager).unwrap();
            eager.run();
            prop_assert_eq!(&eager.report(), &first.report, "eager stepping gives the same run");
        }
    }
}
