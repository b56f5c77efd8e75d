//! Golden scenarios: their summaries are pinned in `tests/golden/`, and every one is also
//! checked against laws that hold whatever the numbers: lazy and eager stepping agree, the
//! timeline's output tokens add up to the completed requests', no request gets its first token
//! before its prefill alone could finish, and Little's law relates the queue to the latencies.
//!
//! A golden that changes must say why in the commit that changes it; rerun with
//! `UPDATE_GOLDEN=1 cargo test -p servesim-core --test golden` and review the diff.

use servesim_core::metrics::Outcome;
use servesim_core::perf::{BatchShape, PrefillChunk, StepModel};
use servesim_core::scenario::{Deployment, ModelChoice, ReplicaPool, RouterKind, RouterSettings, Scenario};
use servesim_core::sim::{RunResult, Simulation, Stepping};
use servesim_core::stats::SeriesId;
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

fn run(scenario: &Scenario, trace: Trace, stepping: Stepping) -> RunResult {
    let mut simulation = Simulation::with_stepping(scenario, trace, stepping).unwrap();
    simulation.run();
    for engine in simulation.engines() {
        engine.check_invariants();
    }
    simulation.results()
}

/// The fixed scenarios whose summaries are pinned in `tests/golden/`.
fn golden_scenarios() -> Vec<(&'static str, Scenario, Trace)> {
    let reference = Scenario::reference();
    let mut code_on_a100 = Scenario {
        model: ModelChoice { kv_cache: servesim_core::perf::Dtype::Fp8, ..ModelChoice::default() },
        deployment: Deployment::Aggregated(ReplicaPool { replicas: 2, tp: 1, pp: 1, ..ReplicaPool::default() }),
        router: RouterSettings::of(RouterKind::LeastOutstanding),
        ..Scenario::default()
    };
    code_on_a100.hardware.gpu = "a100-80gb".into();
    let mut qwen_under_pressure = Scenario {
        seed: 7,
        model: ModelChoice::preset("qwen3-32b"),
        deployment: Deployment::Aggregated(ReplicaPool { replicas: 2, tp: 2, pp: 1, ..ReplicaPool::default() }),
        router: RouterSettings::of(RouterKind::PowerOfTwo),
        ..Scenario::default()
    };
    qwen_under_pressure.hardware.gpu = "h200".into();
    qwen_under_pressure.engine.gpu_memory_utilization = 0.45;
    qwen_under_pressure.engine.chunked_prefill = false;
    qwen_under_pressure.engine.max_num_batched_tokens = 32_768;
    qwen_under_pressure.engine.max_model_len = Some(32_768);
    let mut reference_without_caching = Scenario::reference();
    reference_without_caching.engine.prefix_caching = false;
    reference_without_caching.router.kind = RouterKind::LeastOutstanding;
    vec![
        ("reference-replay", reference, trace(MOONCAKE)),
        ("reference-replay-disaggregated-4p4d-kv-aware", Scenario::reference_disaggregated(), trace(MOONCAKE)),
        ("azure-code-a100-least-outstanding", code_on_a100, trace(VIDUR)),
        ("qwen3-32b-h200-tp2-kv-pressure", qwen_under_pressure, trace(&first_lines(MOONCAKE, 3_000))),
        (
            "mooncake-head-no-prefix-caching-least-outstanding",
            reference_without_caching,
            trace(&first_lines(MOONCAKE, 4_000)),
        ),
    ]
}

#[test]
fn golden_summaries_are_unchanged() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, scenario, trace) in golden_scenarios() {
        let report = run(&scenario, trace, Stepping::Lazy).report;
        let actual = serde_json::to_string_pretty(&serde_json::json!({
            "summary": report.summary,
            "kv_capacity_tokens_per_replica": report.kv_capacity_tokens_per_replica,
            "engine_steps": report.engine_steps,
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
fn stepping_every_replica_at_every_event_gives_the_same_run_as_lazy_advancing() {
    for (name, scenario, trace) in golden_scenarios() {
        let lazy = run(&scenario, trace.clone(), Stepping::Lazy);
        let eager = run(&scenario, trace, Stepping::Eager);
        assert_eq!(lazy.report.digest, eager.report.digest, "{name}: per-request records differ");
        assert_eq!(lazy.report, eager.report, "{name}: summaries or series differ");
    }
}

#[test]
fn the_timeline_emits_exactly_the_output_tokens_of_the_completed_requests() {
    for (name, scenario, trace) in golden_scenarios() {
        let result = run(&scenario, trace, Stepping::Lazy);
        let requests = &result.requests;
        assert_eq!(result.report.summary.requests.unfinished, 0, "{name}");
        let generated: u64 = (0..requests.len())
            .filter(|&i| requests.outcome[i] == Outcome::Completed)
            .map(|i| u64::from(requests.generated_tokens(i)))
            .sum();
        let series = result.report.series.iter().find(|s| s.id == SeriesId::OutputTokensPerS).unwrap();
        let width = series.points[1].0 - series.points[0].0;
        let emitted: f64 = series.points.iter().map(|&(_, per_s)| per_s * width).sum();
        assert!((emitted - generated as f64).abs() < 1e-6 * generated as f64, "{name}: {emitted} vs {generated}");
    }
}

/// The time `prompt` tokens take to prefill alone on an idle replica, `cached` of them already in
/// KV, in chunks of the step budget: no schedule gives a request its first token sooner.
fn isolated_prefill(model: &StepModel, budget: u64, prompt: u64, cached: u64) -> SimDuration {
    let mut done = cached;
    let mut total = SimDuration::ZERO;
    while done < prompt {
        let chunk = (prompt - done).min(budget);
        let chunks = [PrefillChunk { new_tokens: chunk as u32, cached_tokens: done as u32 }];
        total = total + model.step_time(&BatchShape { num_decode: 0, decode_context_tokens: 0, prefills: &chunks });
        done += chunk;
    }
    total
}

#[test]
fn no_request_gets_its_first_token_before_its_prefill_alone_could_finish() {
    for (name, scenario, trace) in golden_scenarios() {
        let model = StepModel::from_scenario(&scenario).unwrap();
        let budget = u64::from(scenario.engine.max_num_batched_tokens);
        let result = run(&scenario, trace, Stepping::Lazy);
        let requests = &result.requests;
        for i in (0..requests.len()).filter(|&i| requests.outcome[i] == Outcome::Completed) {
            let bound = isolated_prefill(
                &model,
                budget,
                u64::from(requests.prompt_tokens[i]),
                u64::from(requests.cached_tokens[i]),
            );
            let ttft = requests.first_token_at[i] - requests.arrived_at[i];
            assert!(
                ttft >= bound,
                "{name}: request {i} got its first token after {ttft}, its prefill alone takes {bound}"
            );
        }
    }
}

#[test]
fn the_queue_over_time_is_the_requests_in_the_system_and_obeys_littles_law() {
    let mut checked_littles_law = 0;
    for (name, scenario, trace) in golden_scenarios() {
        let result = run(&scenario, trace, Stepping::Lazy);
        let requests = &result.requests;
        let completed: Vec<usize> =
            (0..requests.len()).filter(|&i| requests.outcome[i] == Outcome::Completed).collect();
        let series = |id| result.report.series.iter().find(|s| s.id == id).unwrap();
        let (running, waiting) = (series(SeriesId::Running), series(SeriesId::Waiting));
        let width = running.points[1].0 - running.points[0].0;
        // At every sample instant, running + waiting is exactly the requests that have arrived
        // and not finished, counted from their records.
        for (&(x, r), &(_, w)) in running.points.iter().zip(&waiting.points) {
            let at = SimTime::from_nanos((x * 1e9).round() as u64);
            let in_system =
                completed.iter().filter(|&&i| requests.arrived_at[i] <= at && at < requests.finished_at[i]).count();
            assert_eq!((r + w) as usize, in_system, "{name}: at {x} s");
        }
        // Little's law: the time integral of requests in the system equals the sum of their
        // times in it (rejected ones spend none). The samples, 5 s apart, estimate the integral
        // well unless the arrivals themselves sit on the sample grid: Mooncake's come in bursts
        // at whole multiples of 3 s, so every third sample lands on a burst. Those traces are
        // covered by the exact count above.
        let on_grid = requests.arrived_at.iter().filter(|at| at.as_nanos() % 5_000_000_000 == 0).count();
        if on_grid * 100 > requests.len() {
            continue;
        }
        checked_littles_law += 1;
        let in_system_s: f64 =
            completed.iter().map(|&i| (requests.finished_at[i] - requests.arrived_at[i]).as_secs_f64()).sum();
        let integral: f64 = running.points.iter().zip(&waiting.points).map(|(&(_, r), &(_, w))| (r + w) * width).sum();
        let error = (integral - in_system_s).abs() / in_system_s;
        assert!(error < 0.03, "{name}: ∫N dt = {integral:.0} request·s, Σ sojourn = {in_system_s:.0} request·s");
    }
    assert!(checked_littles_law >= 1, "Little's law was checked on at least one golden");
}
