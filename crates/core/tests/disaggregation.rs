//! Prefill/decode disaggregation and routing, checked against values found independently: every
//! request's path through the pools, bytes from the KV layout, transfer times computed by hand,
//! back-pressure, prefix hit rates measured with NVIDIA's DynoSim, and the crossover between the
//! layouts that the literature reports.

use servesim_core::metrics::Outcome;
use servesim_core::scenario::{
    Deployment, Disaggregated, EngineSettings, ReplicaPool, RouterKind, RouterSettings, Scenario, Transfer,
};
use servesim_core::sim::{RunResult, Simulation};
use servesim_core::stats::SeriesId;
use servesim_core::time::SimTime;
use servesim_core::workload::{parse_trace, Trace};

const MOONCAKE: &str = include_str!("../../../web/samples/mooncake-conversation.jsonl");

fn trace(text: &str) -> Trace {
    parse_trace(text, &mut |_| {}).unwrap()
}

fn first_lines(text: &str, lines: usize) -> String {
    text.lines().take(lines).map(|line| format!("{line}\n")).collect()
}

fn run(scenario: &Scenario, trace: Trace) -> RunResult {
    let mut simulation = Simulation::new(scenario, trace).unwrap();
    simulation.run();
    for engine in simulation.engines() {
        engine.check_invariants();
        assert_eq!(
            engine.num_used_blocks(),
            0,
            "replica {}: every block is back once the run ends",
            engine.replica().0
        );
    }
    simulation.results()
}

/// `prefill` + `decode` replicas of Llama-3.1-8B on H100s (TP 1).
fn disaggregated(prefill: u32, decode: u32) -> Scenario {
    Scenario {
        deployment: Deployment::Disaggregated(Disaggregated {
            prefill: ReplicaPool { replicas: prefill, ..ReplicaPool::default() },
            decode: ReplicaPool { replicas: decode, ..ReplicaPool::default() },
            ..Disaggregated::default()
        }),
        ..Scenario::default()
    }
}

fn transfer_mut(scenario: &mut Scenario) -> &mut Disaggregated {
    match &mut scenario.deployment {
        Deployment::Disaggregated(disaggregated) => disaggregated,
        Deployment::Aggregated(_) => unreachable!("built disaggregated"),
    }
}

/// Llama-3.1-8B's KV per token in BF16: 2 (K and V) × 32 layers × 8 KV heads × 128 × 2 bytes.
const LLAMA_8B_KV_BYTES_PER_TOKEN: u64 = 2 * 32 * 8 * 128 * 2;

#[test]
fn every_request_passes_through_one_prefill_and_one_decode_or_prefills_on_its_decode_replica() {
    let mut scenario = disaggregated(2, 2);
    transfer_mut(&mut scenario).conditional_threshold = Some(2_048);
    let result = run(&scenario, trace(&first_lines(MOONCAKE, 3_000)));
    let requests = &result.requests;
    let transfers = requests.transfers.as_ref().expect("a disaggregated run records transfers");
    let (mut moved, mut local, mut finished_on_prefill) = (0, 0, 0);
    for i in 0..requests.len() {
        assert_eq!(requests.outcome[i], Outcome::Completed, "request {i}");
        let (prefill, decode) = (requests.replica[i], transfers.decode_replica[i]);
        assert!((2..4).contains(&decode), "request {i}: decode replica {decode} is in the decode pool");
        if prefill == decode {
            // Prefilled where it decodes: no transfer at all.
            local += 1;
            assert_eq!((transfers.prefill_done_at[i], transfers.kv_received_at[i]), (SimTime::MAX, SimTime::MAX));
            continue;
        }
        assert!(prefill < 2, "request {i}: prefill replica {prefill} is in the prefill pool");
        if requests.generated_tokens(i) == 1 {
            // Its only token came from the prefill replica: nothing to decode or move.
            finished_on_prefill += 1;
            assert_eq!(transfers.kv_received_at[i], SimTime::MAX);
            continue;
        }
        moved += 1;
        let path = [
            requests.arrived_at[i],
            requests.first_scheduled_at[i],
            transfers.prefill_done_at[i],
            transfers.kv_reserved_at[i],
            transfers.kv_received_at[i],
            requests.finished_at[i],
        ];
        assert!(path.windows(2).all(|pair| pair[0] <= pair[1]), "request {i}: {path:?} out of order");
        assert_eq!(requests.first_token_at[i], transfers.kv_received_at[i], "the first token comes with the KV");
    }
    assert!(moved > 1_000 && local > 100, "both paths are taken: {moved} moved, {local} local");
    let summary = &result.report.summary;
    let transfer = summary.kv_transfer.as_ref().unwrap();
    assert_eq!((transfer.num_transfers, transfer.num_local_prefills), (moved, local));
    assert_eq!(moved + local + finished_on_prefill, summary.requests.completed);
}

#[test]
fn the_bytes_moved_are_the_prompts_kv_cache() {
    // No prefix hashes, so nothing is cached on the decode side: every prompt moves whole.
    let prompts = [100u32, 517, 2_048, 4_000, 8_191, 1, 33];
    let text: String = std::iter::once("arrived_at,num_prefill_tokens,num_decode_tokens\n".to_owned())
        .chain(prompts.iter().enumerate().map(|(i, p)| format!("{},{p},16\n", i as f64 * 0.05)))
        .collect();
    let result = run(&disaggregated(1, 1), trace(&text));
    let transfers = result.requests.transfers.as_ref().unwrap();
    for (i, &prompt) in prompts.iter().enumerate() {
        assert_eq!(transfers.kv_bytes[i], u64::from(prompt) * LLAMA_8B_KV_BYTES_PER_TOKEN, "request {i}");
    }
    let total: u64 = prompts.iter().map(|&p| u64::from(p) * LLAMA_8B_KV_BYTES_PER_TOKEN).sum();
    assert_eq!(result.report.summary.kv_transfer.as_ref().unwrap().total_bytes, total);
}

#[test]
fn two_transfers_sharing_a_nic_each_take_twice_as_long_as_one_alone() {
    // One prefill and two decode replicas, each GPU its own NVLink domain: every transfer leaves
    // through the prefill GPU's NIC (50 GB/s × 0.7 = 35 GB/s) after 100 µs of latency.
    let mut scenario = disaggregated(1, 2);
    transfer_mut(&mut scenario).transfer = Transfer { nvlink_domain_gpus: Some(1), ..Transfer::default() };
    let bytes = 4_096.0 * LLAMA_8B_KV_BYTES_PER_TOKEN as f64;
    let alone_ms = 0.1 + bytes / 35e9 * 1e3; // 15.44 ms
    let shared_ms = 0.1 + 2.0 * bytes / 35e9 * 1e3; // 30.78 ms
    let header = "arrived_at,num_prefill_tokens,num_decode_tokens\n";
    // Alone: one request.
    let one = run(&scenario, trace(&format!("{header}0,4096,8\n")));
    // Together: two prompts computed in one step (8,192 tokens: the budget), handed to the two
    // decode replicas (round robin) at once, so both transfers share the prefill NIC throughout.
    let two = run(&scenario, trace(&format!("{header}0,4096,8\n0,4096,8\n")));
    let transfer_ms = |result: &RunResult, i: usize| {
        let t = result.requests.transfers.as_ref().unwrap();
        (t.kv_received_at[i] - t.kv_reserved_at[i]).as_millis_f64()
    };
    assert!((transfer_ms(&one, 0) - alone_ms).abs() < 1e-5, "{} vs {alone_ms}", transfer_ms(&one, 0));
    for i in 0..2 {
        assert!((transfer_ms(&two, i) - shared_ms).abs() < 1e-5, "{} vs {shared_ms}", transfer_ms(&two, i));
    }
    let decodes = &two.requests.transfers.as_ref().unwrap().decode_replica;
    assert_ne!(decodes[0], decodes[1], "different decode replicas: only the prefill NIC is shared");
}

#[test]
fn a_full_decode_pool_holds_transfers_back_and_the_prefill_pool_shows_it() {
    // 60 requests at once; the decode replica has room for about a dozen of them.
    let text: String = std::iter::once("arrived_at,num_prefill_tokens,num_decode_tokens\n".to_owned())
        .chain((0..60).map(|_| "0,2000,400\n".to_owned()))
        .collect();
    let scenario_with_decode_memory = |utilization: f64| {
        let mut scenario = disaggregated(1, 1);
        scenario.engine.max_model_len = Some(4_096);
        transfer_mut(&mut scenario).decode.engine =
            Some(EngineSettings { gpu_memory_utilization: utilization, ..scenario.engine.clone() });
        scenario
    };
    let tight = run(&scenario_with_decode_memory(0.28), trace(&text));
    let roomy = run(&scenario_with_decode_memory(0.9), trace(&text));
    let decode_capacity = tight.report.pools[1].kv_capacity_tokens_per_replica;
    assert!((20_000..40_000).contains(&decode_capacity), "{decode_capacity} tokens: room for 8-16 requests");
    let wait_p95 =
        |result: &RunResult| result.report.summary.kv_transfer.as_ref().unwrap().wait_ms.as_ref().unwrap().p95;
    assert!(wait_p95(&tight) > 10_000.0, "requests wait for decode blocks: p95 {} ms", wait_p95(&tight));
    assert!(wait_p95(&roomy) < 100.0, "with room they do not: p95 {} ms", wait_p95(&roomy));
    // Meanwhile their KV stays on the prefill replica.
    let held_peak = |result: &RunResult| {
        let series = result.report.series.iter().find(|s| s.id == SeriesId::PrefillKvHeldPercent).unwrap();
        series.points.iter().map(|p| p.1).fold(0.0, f64::max)
    };
    assert!(held_peak(&tight) > 5.0, "held {} %", held_peak(&tight));
    assert!(held_peak(&tight) > 5.0 * held_peak(&roomy), "{} vs {}", held_peak(&tight), held_peak(&roomy));
    assert_eq!(tight.report.summary.requests.completed, 60);
}

#[test]
fn kv_aware_routing_lifts_the_prefix_hit_rate_as_much_as_dynosims() {
    // DynoSim 1.6.1 (ai-dynamo-runtime) on the same trace, 8 workers, measured with
    // shared/tools/dynosim_replay.py: round robin 8.17 %, kv_router 19.95-20.04 %
    // (docs/performance.md).
    let hit_rate =
        |router| run(&Scenario::reference_like_dynosim(router), trace(MOONCAKE)).report.summary.prefix_cache.hit_rate;
    let (round_robin, kv_aware) = (hit_rate(RouterKind::RoundRobin), hit_rate(RouterKind::KvAware));
    assert!((0.07..0.095).contains(&round_robin), "round robin {round_robin}");
    assert!((0.17..0.27).contains(&kv_aware), "kv_aware {kv_aware}");
    assert!(kv_aware > 2.0 * round_robin, "{kv_aware} vs {round_robin}");
}

#[test]
fn stale_load_signals_make_least_outstanding_routing_herd() {
    let ttft_p95 = |delay_ms: f64| {
        let scenario = Scenario {
            router: RouterSettings { signal_delay_ms: delay_ms, ..RouterSettings::of(RouterKind::LeastOutstanding) },
            ..Scenario::reference()
        };
        run(&scenario, trace(MOONCAKE)).report.summary.ttft_ms.unwrap().p95
    };
    let (live, stale) = (ttft_p95(0.0), ttft_p95(1_000.0));
    // Every request of a second goes to the replica that was least loaded at its start.
    assert!(stale > 1.5 * live, "p95 TTFT {stale} ms with 1 s stale signals vs {live} ms live");
}

fn example(text: &str) -> RunResult {
    let scenario = Scenario::from_json(text).unwrap();
    let trace = servesim_core::workload::resolve(&scenario.workload, scenario.seed, None, &mut |_| {}).unwrap().trace;
    run(&scenario, trace)
}

#[test]
fn disaggregation_wins_p99_tpot_under_load_and_loses_a_long_single_stream() {
    // The same 8 H100s: 2 aggregated TP4 replicas, or 1 prefill + 1 decode TP4 replica.
    let chat = |text| example(text).report.summary.tpot_ms.unwrap().p99;
    let (aggregated, disaggregated) = (
        chat(include_str!("../../../examples/pd-chat-aggregated.json")),
        chat(include_str!("../../../examples/pd-chat-disaggregated.json")),
    );
    // Decode steps free of prefill chunks keep the tail of TPOT down (DistServe, Splitwise).
    assert!(disaggregated < 0.7 * aggregated, "p99 TPOT: disaggregated {disaggregated} ms vs {aggregated} ms");
    // One 100k-token prompt at a time: TP8 prefills faster than TP4, and nothing is moved.
    let stream = |text| example(text).report.summary;
    let aggregated = stream(include_str!("../../../examples/pd-long-prompt-aggregated.json"));
    let disaggregated = stream(include_str!("../../../examples/pd-long-prompt-disaggregated.json"));
    let (ttft, e2e) = (
        |s: &servesim_core::metrics::Summary| s.ttft_ms.clone().unwrap().mean,
        |s: &servesim_core::metrics::Summary| s.e2e_ms.clone().unwrap().mean,
    );
    assert!(ttft(&aggregated) < ttft(&disaggregated), "TTFT {} vs {}", ttft(&aggregated), ttft(&disaggregated));
    assert!(e2e(&aggregated) < e2e(&disaggregated), "E2E {} vs {}", e2e(&aggregated), e2e(&disaggregated));
}

#[test]
fn pool_problems_are_reported_at_the_pools_paths() {
    let scenario = Scenario::from_json(
        r#"{"version":1,"engine":{"max_num_seqs":64},
            "deployment":{"disaggregated":{
              "prefill":{"replicas":2,"tp":3,"engine":{"block_size":24}},
              "decode":{"replicas":0,"gpu":"tpu"},
              "transfer":{"latency_us":-1,"nic_efficiency":0}}},
            "router":{"kind":"kv_aware","temperature":-2}}"#,
    )
    .unwrap();
    let problems: Vec<String> = scenario.validate().unwrap_err().iter().map(ToString::to_string).collect();
    for expected in [
        "deployment.disaggregated.prefill.tp: must be a power of two from 1 to 256, got 3",
        "deployment.disaggregated.prefill.engine.block_size: must be a power of two from 1 to 1024, got 24",
        "deployment.disaggregated.decode.replicas: must be ≥ 1, got 0",
        "deployment.disaggregated.transfer.latency_us: must be from 0 to 10,000,000 µs, got -1",
        "deployment.disaggregated.transfer.nic_efficiency: must be from 0.01 to 1, got 0",
        "router.temperature: must be from 0 to 100, got -2",
    ] {
        assert!(problems.iter().any(|p| p == expected), "missing {expected:?} in {problems:#?}");
    }
    assert!(
        problems.iter().any(|p| p.starts_with("deployment.disaggregated.decode.gpu: unknown GPU \"tpu\"")),
        "{problems:#?}"
    );
    // Nothing is reported twice, though both pools share the model, workload and SLO.
    let mut unique = problems.clone();
    unique.dedup();
    assert_eq!(unique.len(), problems.len());
    // An aggregated deployment has no decode router and no per-pool GPU.
    let aggregated = Scenario::from_json(
        r#"{"version":1,"deployment":{"aggregated":{"gpu":"h200"}},"router":{"decode_kind":"random"}}"#,
    )
    .unwrap();
    let problems: Vec<String> = aggregated.validate().unwrap_err().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "deployment.aggregated.gpu: only a disaggregated pool has its own gpu; set hardware.gpu instead",
            "router.decode_kind: applies to a disaggregated deployment only; use kind",
        ]
    );
}

#[test]
fn a_pools_engine_is_merged_over_the_top_level_one_and_round_trips() {
    let text = r#"{"version":1,"engine":{"max_num_seqs":64,"block_size":32},
        "deployment":{"disaggregated":{"prefill":{"engine":{"max_num_batched_tokens":16384}},"decode":{}}}}"#;
    let scenario = Scenario::from_json(text).unwrap();
    let Deployment::Disaggregated(d) = &scenario.deployment else { unreachable!() };
    let prefill = d.prefill.engine.as_ref().expect("the prefill pool sets its own");
    assert_eq!((prefill.max_num_seqs, prefill.block_size, prefill.max_num_batched_tokens), (64, 32, 16_384));
    assert_eq!(d.decode.engine, None, "the decode pool takes the top-level engine as it is");
    assert_eq!(scenario.pool_view(servesim_core::scenario::PoolRole::Decode).engine.max_num_batched_tokens, 8_192);
    assert_eq!(Scenario::from_json(&scenario.to_canonical_json()).unwrap(), scenario);
    assert_eq!(scenario.validate(), Ok(()));
    // Under a preset each pool gets the preset's values for its own GPU: SGLang's chunk size
    // grows with GPU memory (B200 over H100).
    let preset = Scenario::from_json(
        r#"{"version":1,"engine":{"preset":"sglang"},
            "deployment":{"disaggregated":{"prefill":{"gpu":"b200"},"decode":{}}}}"#,
    )
    .unwrap();
    let view = |role| preset.pool_view(role).engine.max_num_batched_tokens;
    use servesim_core::scenario::PoolRole;
    assert!(
        view(PoolRole::Prefill) > view(PoolRole::Decode),
        "{} vs {}",
        view(PoolRole::Prefill),
        view(PoolRole::Decode)
    );
    assert_eq!(Scenario::from_json(&preset.to_canonical_json()).unwrap(), preset);
}

#[test]
fn the_link_series_add_up_to_the_bytes_moved_and_the_time_transfers_flowed() {
    let result = run(&Scenario::reference_disaggregated(), trace(&first_lines(MOONCAKE, 2_000)));
    let series = |id| result.report.series.iter().find(|s| s.id == id).unwrap();
    let (traffic, in_flight) = (series(SeriesId::KvLinkGbPerS), series(SeriesId::TransfersInFlight));
    let width = traffic.points[1].0 - traffic.points[0].0;
    let carried: f64 = traffic.points.iter().map(|p| p.1 * 1e9 * width).sum();
    let transfer = result.report.summary.kv_transfer.as_ref().unwrap();
    assert!((carried - transfer.total_bytes as f64).abs() < 1e-6 * transfer.total_bytes as f64, "{carried}");
    // Each transfer flows from its latency's end to its arrival.
    let t = result.requests.transfers.as_ref().unwrap();
    let latency_s = Transfer::default().latency_us / 1e6;
    let flowing_s: f64 = (0..result.requests.len())
        .filter(|&i| t.kv_received_at[i] != SimTime::MAX)
        .map(|i| (t.kv_received_at[i] - t.kv_reserved_at[i]).as_secs_f64() - latency_s)
        .sum();
    let integral: f64 = in_flight.points.iter().map(|p| p.1 * width).sum();
    assert!((integral - flowing_s).abs() < 1e-6 * flowing_s, "{integral} vs {flowing_s}");
}

#[test]
fn a_decode_replica_reuses_a_received_prefix_only_once_it_has_arrived() {
    // Sessions sharing a 4,000-token system prompt over a slow NIC (1.4 GB/s): a whole prompt's
    // 537 MB take 0.4 s alone, about the gap between arrivals, so some requests arrive while a
    // prefix is on its way and others after it has arrived.
    let mut scenario = Scenario::from_json(
        r#"{"version":1,"hardware":{"gpus_per_node":1},
            "deployment":{"disaggregated":{"prefill":{"replicas":2},"decode":{"replicas":1},
              "transfer":{"nic_gb_s":2}}},
            "workload":{"generator":{"arrivals":{"poisson":{"rate_per_s":2}},"num_requests":20,
              "prompt_tokens":{"fixed":{"tokens":100}},"output_tokens":{"fixed":{"tokens":20}},
              "sessions":{"turns":{"fixed":{"tokens":1}},"system_prompt_tokens":4000}}}}"#,
    )
    .unwrap();
    scenario.seed = 3;
    let trace = servesim_core::workload::resolve(&scenario.workload, scenario.seed, None, &mut |_| {}).unwrap().trace;
    let result = run(&scenario, trace);
    let (requests, t) = (&result.requests, result.requests.transfers.as_ref().unwrap());
    let whole = |i: usize| u64::from(requests.prompt_tokens[i]) * LLAMA_8B_KV_BYTES_PER_TOKEN;
    let moved: Vec<usize> = (0..requests.len()).filter(|&i| t.kv_received_at[i] != SimTime::MAX).collect();
    let first_whole_arrival = moved.iter().filter(|&&i| t.kv_bytes[i] == whole(i)).map(|&i| t.kv_received_at[i]).min();
    let partial: Vec<usize> = moved.iter().copied().filter(|&i| t.kv_bytes[i] < whole(i)).collect();
    assert!(partial.len() > 5, "later requests reuse the received system prompt: {}", partial.len());
    for i in partial {
        assert!(
            t.kv_reserved_at[i] >= first_whole_arrival.unwrap(),
            "request {i} reused blocks at {:?}, before any whole prompt had arrived ({first_whole_arrival:?})",
            t.kv_reserved_at[i]
        );
    }
}

#[test]
fn an_edit_of_the_top_level_engine_reaches_every_pools_own_engine() {
    let mut scenario = Scenario::from_json(
        r#"{"version":1,"engine":{"preset":"vllm"},
            "deployment":{"disaggregated":{"prefill":{"engine":{"max_num_batched_tokens":16384}},"decode":{}}}}"#,
    )
    .unwrap();
    let before = scenario.engine.clone();
    scenario.engine.max_num_seqs = 7;
    scenario.engine.prefix_caching = false;
    scenario.propagate_engine_edit(&before);
    use servesim_core::scenario::PoolRole;
    for role in [PoolRole::Prefill, PoolRole::Decode] {
        let engine = scenario.pool_view(role).engine;
        assert_eq!((engine.max_num_seqs, engine.prefix_caching), (7, false), "{role:?}");
    }
    // The prefill pool keeps what it set itself.
    assert_eq!(scenario.pool_view(PoolRole::Prefill).engine.max_num_batched_tokens, 16_384);
}

#[test]
fn the_cost_is_every_gpu_hour_at_the_price_and_the_energy_at_each_pools_board_power() {
    // An H100 prefill replica (700 W) and a B200 decode replica (1,000 W), $3 per GPU-hour.
    let mut scenario = disaggregated(1, 1);
    transfer_mut(&mut scenario).decode.gpu = Some("b200".into());
    scenario.cost.usd_per_gpu_hour = Some(3.0);
    let result = run(&scenario, trace("arrived_at,num_prefill_tokens,num_decode_tokens\n0,1000,200\n10,2000,300\n"));
    let summary = &result.report.summary;
    let hours = summary.sim_time_s / 3600.0; // the first arrival is at 0
    assert!((summary.gpu_hours - 2.0 * hours).abs() < 1e-12);
    let cost = &summary.cost;
    assert!((cost.usd.unwrap() - 3.0 * 2.0 * hours).abs() < 1e-12);
    assert!((cost.usd_per_million_output_tokens.unwrap() - cost.usd.unwrap() / 500.0 * 1e6).abs() < 1e-9);
    assert!((cost.energy_kwh - 1.7 * hours).abs() < 1e-12, "{}", cost.energy_kwh);
    assert!((cost.output_tokens_per_joule - 500.0 / (1_700.0 * summary.sim_time_s)).abs() < 1e-12);
    // Without a price there is no cost in money.
    scenario.cost.usd_per_gpu_hour = None;
    let free = run(&scenario, trace("arrived_at,num_prefill_tokens,num_decode_tokens\n0,1000,200\n"));
    assert_eq!((free.report.summary.cost.usd, free.report.summary.cost.usd_per_million_output_tokens), (None, None));
}
