//! Simulation behaviour: a hand-computed single request, golden summaries of fixed scenarios,
//! and properties that must hold for any workload (conservation, causality, determinism).

use servesim_core::metrics::Outcome;
use servesim_core::perf::{catalog, BatchShape, GpuSpec, PrefillChunk, ReplicaConfig, StepModel};
use servesim_core::scenario::{Deployment, ModelChoice, ReplicaPool, Router, RouterConfig, Scenario, Workload};
use servesim_core::sim::{RunResult, Simulation};
use servesim_core::time::{SimDuration, SimTime};
use servesim_core::workload::{parse_trace, Trace};

const MOONCAKE: &str = include_str!("../../../web/samples/mooncake-conversation.jsonl");
const VIDUR: &str = include_str!("../../../tests/e2e/fixtures/splitwise_code.csv");

fn trace(text: &str) -> Trace {
    parse_trace(text, &mut |_| {}).unwrap()
}

fn first_lines(text: &str, lines: usize) -> String {
    text.lines().take(lines).map(|line| format!("{line}\n")).collect()
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
    let arrived_s = 0.5;
    let result = run(
        &scenario,
        trace(&format!("arrived_at,num_prefill_tokens,num_decode_tokens\n{arrived_s},{prompt},{output}\n")),
    );

    let engine = &scenario.engine;
    let model = StepModel::new(
        &catalog::model_spec("llama-3.1-8b").unwrap(),
        GpuSpec::find("h100-sxm").unwrap(),
        ReplicaConfig {
            tp: 1,
            pp: 1,
            weights: scenario.model.weights,
            kv_cache: scenario.model.kv_cache,
            gpu_memory_utilization: engine.gpu_memory_utilization,
            max_num_batched_tokens: engine.max_num_batched_tokens,
            max_num_seqs: engine.max_num_seqs,
        },
    )
    .unwrap();
    let prefill = model.step_time(&BatchShape {
        num_decode: 0,
        decode_context_tokens: 0,
        prefills: &[PrefillChunk { new_tokens: prompt, cached_tokens: 0 }],
    });
    // Decode step k attends the prompt plus k tokens (the KV written this step included).
    let decode: Vec<SimDuration> = (1..u64::from(output))
        .map(|k| {
            model.step_time(&BatchShape { num_decode: 1, decode_context_tokens: u64::from(prompt) + k, prefills: &[] })
        })
        .collect();
    let decode_total = decode.iter().fold(SimDuration::ZERO, |sum, &d| sum + d);

    let requests = &result.requests;
    // Arrival times are made relative to the first request.
    let arrived_at = SimTime::ZERO;
    assert_eq!(result.requests.arrived_at[0], arrived_at);
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
    assert!((7.0..7.5).contains(&tpot_ms), "{tpot_ms}");
    assert_eq!(summary.preemptions, 0);
}

/// The three fixed scenarios whose summaries are pinned in `tests/golden/`.
fn golden_scenarios() -> Vec<(&'static str, Scenario, Trace)> {
    let reference = Scenario::reference();
    let mut code_on_a100 = Scenario {
        model: ModelChoice { kv_cache: servesim_core::perf::Dtype::Fp8, ..ModelChoice::default() },
        deployment: Deployment::Aggregated(ReplicaPool { replicas: 2, tp: 1, pp: 1 }),
        router: RouterConfig { kind: Router::LeastOutstanding },
        ..Scenario::default()
    };
    code_on_a100.hardware.gpu = "a100-80gb".into();
    let mut qwen_under_pressure = Scenario {
        seed: 7,
        model: ModelChoice { preset: "qwen3-32b".into(), ..ModelChoice::default() },
        deployment: Deployment::Aggregated(ReplicaPool { replicas: 2, tp: 2, pp: 1 }),
        router: RouterConfig { kind: Router::PowerOfTwo },
        ..Scenario::default()
    };
    qwen_under_pressure.hardware.gpu = "h200".into();
    qwen_under_pressure.engine.gpu_memory_utilization = 0.45;
    qwen_under_pressure.engine.chunked_prefill = false;
    qwen_under_pressure.engine.max_num_batched_tokens = 32_768;
    vec![
        ("reference-replay", reference, trace(MOONCAKE)),
        ("azure-code-a100-least-outstanding", code_on_a100, trace(VIDUR)),
        ("qwen3-32b-h200-tp2-kv-pressure", qwen_under_pressure, trace(&first_lines(MOONCAKE, 3_000))),
    ]
}

#[test]
fn golden_summaries_are_unchanged() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, scenario, trace) in golden_scenarios() {
        let report = run(&scenario, trace).report;
        let actual = serde_json::to_string_pretty(&serde_json::json!({
            "summary": report.summary,
            "kv_capacity_tokens_per_replica": report.kv_capacity_tokens_per_replica,
            "digest": format!("{:016x}", report.digest),
        }))
        .unwrap()
            + "\n";
        let path = format!("{}/tests/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
        if update {
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "golden summary {name} changed; if intended, rerun with UPDATE_GOLDEN=1 and review the diff.\nnow:\n{actual}"
        );
    }
}

#[test]
fn the_kv_pressure_golden_scenario_preempts_and_rejects() {
    let scenarios = golden_scenarios();
    let (_, pressure, trace) = &scenarios[2];
    let summary = run(pressure, trace.clone()).report.summary;
    assert!(summary.preemptions > 0, "KV pressure preempts");
    assert!(summary.requests.rejected > 0, "prompts beyond Qwen3-32B's 40,960-token context are rejected");
    assert_eq!(summary.requests.completed + summary.requests.rejected, summary.requests.total);
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

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A small random workload and deployment, sized to stress batching limits and the KV cache.
    fn case() -> impl Strategy<Value = (Scenario, String)> {
        let requests = prop::collection::vec((0u32..4_000, 1u32..20_000, 1u32..600), 1..60);
        let knobs = (
            1u32..4,
            0usize..4,
            1u32..64,
            prop::sample::select(vec![256u32, 512, 2048, 8192]),
            prop::sample::select(vec![8u32, 16, 32]),
            any::<bool>(),
            0.3f64..0.9,
            any::<u64>(),
        );
        (requests, knobs).prop_map(
            |(requests, (replicas, router, max_num_seqs, budget, block_size, chunked, memory, seed))| {
                let mut scenario = Scenario {
                    seed,
                    deployment: Deployment::Aggregated(ReplicaPool { replicas, tp: 1, pp: 1 }),
                    router: RouterConfig { kind: Router::ALL[router] },
                    workload: Workload::default(),
                    ..Scenario::default()
                };
                scenario.engine.max_num_seqs = max_num_seqs;
                scenario.engine.max_num_batched_tokens = budget.max(max_num_seqs);
                scenario.engine.block_size = block_size;
                scenario.engine.chunked_prefill = chunked;
                scenario.engine.gpu_memory_utilization = memory;
                let mut arrived_ms = 0u64;
                let mut csv = "arrived_at,num_prefill_tokens,num_decode_tokens\n".to_owned();
                for (gap_ms, prompt, output) in requests {
                    arrived_ms += u64::from(gap_ms);
                    csv.push_str(&format!("{},{prompt},{output}\n", arrived_ms as f64 / 1e3));
                }
                (scenario, csv)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn every_request_ends_once_causally_and_runs_are_reproducible((scenario, csv) in case()) {
            // Debug builds also check KV used + free = total and request counts after every step.
            let first = run(&scenario, trace(&csv));
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
                        if requests.output_tokens[i] > 1 {
                            prop_assert!(requests.first_token_at[i] < requests.finished_at[i]);
                        }
                    }
                    Outcome::Rejected(_) => {
                        prop_assert_eq!(requests.first_scheduled_at[i], SimTime::MAX);
                        prop_assert_eq!(requests.finished_at[i], SimTime::MAX);
                    }
                    Outcome::Pending => prop_assert!(false, "request {} never ended", i),
                }
            }
            let summary = &first.report.summary;
            prop_assert_eq!(summary.requests.completed, completions);
            prop_assert_eq!(summary.requests.completed + summary.requests.rejected, summary.requests.total);
            let timeline_completions: f64 = first.report.series.iter().find(|s| s.name == "completions/s").unwrap()
                .points.iter().map(|&(_, per_s)| per_s).sum();
            let width = first.report.series[0].points.get(1).map_or(1.0, |p| p.0);
            prop_assert!((timeline_completions * width - completions as f64).abs() < 1e-6 * completions.max(1) as f64);

            let second = run(&scenario, trace(&csv));
            prop_assert_eq!(first.report.digest, second.report.digest);
            prop_assert_eq!(&first.report.summary, &second.report.summary);
        }
    }
}
