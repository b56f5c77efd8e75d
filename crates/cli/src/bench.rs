//! `servesim bench`: times the reference replay (aggregated, with speculative decoding, and
//! disaggregated) and a million generated requests, and reports speed and memory. Both runs must reproduce their pinned digests, so a speed-up cannot hide a
//! change of behaviour.

use std::time::Instant;

use peak_alloc::PeakAlloc;
use servesim_core::scenario::{
    Deployment, ReplicaPool, RouterKind, Scenario, Speculative, SpeculativeMethod, Workload, WorkloadSource,
};
use servesim_core::sim::{RunReport, Simulation};
use servesim_core::workload::{import_bytes, samples, Arrivals, Generator, GeneratorClass, ImportOptions, Trace};

use crate::run::sample_bytes;

/// Counts heap bytes, so that the bench can report the core's memory per request.
#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// The golden summary of the reference replay (the same file the core's tests pin).
const REFERENCE_GOLDEN: &str = include_str!("../../core/tests/golden/reference-replay.json");
/// The golden summary of the disaggregated reference replay.
const DISAGGREGATED_GOLDEN: &str =
    include_str!("../../core/tests/golden/reference-replay-disaggregated-4p4d-kv-aware.json");
/// The speed floor of the disaggregated reference replay (issue 11).
const DISAGGREGATED_FLOOR: f64 = 20_000.0;
/// The pinned result of the million-request run (rewritten by `servesim bench --update-golden`).
const MILLION_GOLDEN_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/golden/million-requests.json");

fn golden_digest(text: &str) -> Option<String> {
    let golden: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(golden["digest"].as_str()?.to_owned())
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The million-request scenario: Poisson arrivals at 1,000 req/s with the generator's default
/// lengths (log-normal prompts around 1,000 tokens, outputs around 200) on 64 Llama-3.1-8B
/// replicas on H100s behind round-robin: about half of what they can serve.
pub fn million_requests_scenario() -> Scenario {
    Scenario {
        deployment: Deployment::Aggregated(ReplicaPool { replicas: 64, tp: 1, pp: 1, ..ReplicaPool::default() }),
        workload: Workload::from(WorkloadSource::Generator(Generator::single(GeneratorClass {
            arrivals: Arrivals::Poisson { rate_per_s: 1_000.0 },
            num_requests: 1_000_000,
            ..GeneratorClass::default()
        }))),
        ..Scenario::default()
    }
}

/// The median of `walls` (sorted in place).
fn median(walls: &mut [f64]) -> f64 {
    walls.sort_by(f64::total_cmp);
    walls[walls.len() / 2]
}

/// Replays the reference scenario `repeat` times and the million-request scenario
/// `repeat_million` times (none when 0), and prints a JSON line with the medians for each: the
/// reference replay's, then the million requests'.
///
/// # Errors
///
/// Fails when a run's digest differs from its pinned one (the speed would not be comparable).
pub fn bench(repeat: usize, repeat_million: usize, update_golden: bool) -> Result<(), String> {
    let bytes = sample_bytes(samples::DEFAULT_SAMPLE_ID).expect("bundled");
    let parse_started = Instant::now();
    let trace = import_bytes(bytes, ImportOptions::default(), &mut |_| {}).map_err(|e| e.to_string())?.trace;
    let parse_s = parse_started.elapsed().as_secs_f64();
    let expected = golden_digest(REFERENCE_GOLDEN).expect("the reference golden has a digest");
    let (mut walls, report) = timed_runs("reference replay", &Scenario::reference(), &trace, repeat, &expected)?;
    let wall_s = median(&mut walls);
    let events = report.summary.requests.total + report.engine_steps;
    let speculative = bench_speculative(&trace, repeat, update_golden)?;
    let disaggregated = bench_disaggregated(&trace, repeat)?;
    let routers = router_hit_rates(&trace)?;
    let million = if repeat_million == 0 { None } else { Some(bench_million(repeat_million, update_golden)?) };
    let output = serde_json::json!({
        "scenario": "reference replay: mooncake-conversation, 8 x llama-3.1-8b on h100-sxm, tp 1, round_robin, prefix caching on",
        "requests": report.summary.requests.total,
        "completed": report.summary.requests.completed,
        "sim_s": report.summary.sim_time_s,
        "wall_s_median": wall_s,
        "wall_s_min": walls[0],
        "wall_s_all": walls,
        "runs": walls.len(),
        "sim_s_per_wall_s": report.summary.sim_time_s / wall_s,
        "engine_steps": report.engine_steps,
        "events_per_s": events as f64 / wall_s,
        "prefix_cache_hit_rate": report.summary.prefix_cache.hit_rate,
        "ttft_ms": { "p50": report.summary.ttft_ms.as_ref().map(|q| q.p50), "p95": report.summary.ttft_ms.as_ref().map(|q| q.p95) },
        "tpot_ms": { "p50": report.summary.tpot_ms.as_ref().map(|q| q.p50), "p95": report.summary.tpot_ms.as_ref().map(|q| q.p95) },
        "output_tokens_per_s": report.summary.throughput.output_tokens_per_s,
        "parse_s": parse_s,
        "digest": expected,
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{output}");
    println!("{speculative}");
    println!("{disaggregated}");
    println!("{routers}");
    if let Some(million) = million {
        println!("{million}");
    }
    Ok(())
}

/// Runs `scenario` on `trace` `repeat` times (at least once), each run's digest checked
/// against `expected`: the wall times and the last report.
///
/// # Errors
///
/// Fails when a digest differs (behaviour changed, so the speed would not be comparable).
fn timed_runs(
    label: &str,
    scenario: &Scenario,
    trace: &Trace,
    repeat: usize,
    expected: &str,
) -> Result<(Vec<f64>, RunReport), String> {
    let mut walls = Vec::new();
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        let mut simulation = Simulation::new(scenario, trace.clone()).map_err(|e| e.to_string())?;
        simulation.run();
        let report = simulation.report();
        walls.push(started.elapsed().as_secs_f64());
        let digest = format!("{:016x}", report.digest);
        if digest != expected {
            return Err(format!("the {label}'s digest is {digest}, the golden one {expected}: behaviour changed"));
        }
        last = Some(report);
    }
    Ok((walls, last.expect("at least one run")))
}

/// Replays the disaggregated reference scenario `repeat` times.
///
/// # Errors
///
/// Fails when the digest differs from the golden one, or the replay is slower than 20,000× real
/// time.
fn bench_disaggregated(trace: &Trace, repeat: usize) -> Result<serde_json::Value, String> {
    let expected = golden_digest(DISAGGREGATED_GOLDEN).expect("the disaggregated golden has a digest");
    let scenario = Scenario::reference_disaggregated();
    let (mut walls, report) = timed_runs("disaggregated reference replay", &scenario, trace, repeat, &expected)?;
    let wall_s = median(&mut walls);
    let speed = report.summary.sim_time_s / wall_s;
    if speed < DISAGGREGATED_FLOOR {
        return Err(format!(
            "the disaggregated replay ran at {speed:.0}× real time, below the {DISAGGREGATED_FLOOR}× floor"
        ));
    }
    let transfer = report.summary.kv_transfer.as_ref();
    Ok(serde_json::json!({
        "scenario": "disaggregated reference replay: 4 prefill + 4 decode x llama-3.1-8b on h100-sxm, kv_aware (50 ms stale) / least_kv, local prefill under 512 tokens",
        "sim_s": report.summary.sim_time_s,
        "wall_s_median": wall_s,
        "wall_s_all": walls,
        "sim_s_per_wall_s": speed,
        "engine_steps": report.engine_steps,
        "kv_transfers": transfer.map(|t| t.num_transfers),
        "local_prefills": transfer.map(|t| t.num_local_prefills),
        "kv_transfer_ms_p95": transfer.and_then(|t| t.time_ms.as_ref()).map(|q| q.p95),
        "prefix_cache_hit_rate": report.summary.prefix_cache.hit_rate,
        "ttft_ms_p95": report.summary.ttft_ms.as_ref().map(|q| q.p95),
        "tpot_ms_p95": report.summary.tpot_ms.as_ref().map(|q| q.p95),
        "digest": expected,
    }))
}

/// The prefix hit rates of round-robin and KV-aware routing on the reference trace, sized like
/// DynoSim's mocker so that its `kv_router` run compares (deterministic: not timed).
fn router_hit_rates(trace: &Trace) -> Result<serde_json::Value, String> {
    let hit_rate = |router: RouterKind| -> Result<f64, String> {
        let mut simulation =
            Simulation::new(&Scenario::reference_like_dynosim(router), trace.clone()).map_err(|e| e.to_string())?;
        simulation.run();
        Ok(simulation.report().summary.prefix_cache.hit_rate)
    };
    Ok(serde_json::json!({
        "scenario": "reference trace, 8 replicas sized like DynoSim's mocker (64-token blocks, ~1.05 M KV tokens each)",
        "round_robin_hit_rate": hit_rate(RouterKind::RoundRobin)?,
        "kv_aware_hit_rate": hit_rate(RouterKind::KvAware)?,
    }))
}

/// The pinned result of the speculative reference replay (rewritten by `--update-golden`).
const SPECULATIVE_GOLDEN_PATH: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/golden/reference-replay-speculative.json");

/// The speed floor of the reference replay with speculative decoding on (issue 10).
const SPECULATIVE_FLOOR: f64 = 10_000.0;

/// The reference replay with EAGLE speculative decoding (k = 3, α = 0.8, 0.6, 0.4).
pub fn speculative_reference_scenario() -> Scenario {
    let mut scenario = Scenario::reference();
    scenario.engine.speculative = Some(Speculative {
        method: SpeculativeMethod::Eagle,
        num_draft_tokens: 3,
        acceptance: Some(vec![0.8, 0.6, 0.4]),
        acceptance_lengths: None,
        draft: None,
    });
    scenario
}

/// Replays the reference trace with speculative decoding `repeat` times. Each run includes
/// the run without speculation that its speed-up is measured against, so the wall time is of
/// both; the floor is checked on the speculative run alone.
///
/// # Errors
///
/// Fails when the digest differs from the pinned one, or the speculative run is slower than
/// 10,000× real time.
fn bench_speculative(trace: &Trace, repeat: usize, update_golden: bool) -> Result<serde_json::Value, String> {
    let scenario = speculative_reference_scenario();
    let mut walls = Vec::new();
    let mut last = None;
    for _ in 0..repeat.max(1) {
        // Timed without the baseline: the floor is the speculative replay's.
        let mut alone = Simulation::new(&scenario, trace.clone()).map_err(|e| e.to_string())?;
        let started = Instant::now();
        alone.run_without_baseline();
        walls.push(started.elapsed().as_secs_f64());
        let mut simulation = Simulation::new(&scenario, trace.clone()).map_err(|e| e.to_string())?;
        simulation.run();
        last = Some(simulation.report());
    }
    let report = last.expect("at least one run");
    let digest = format!("{:016x}", report.digest);
    if update_golden {
        let pinned = serde_json::json!({ "digest": digest, "speculative": report.summary.speculative });
        std::fs::write(SPECULATIVE_GOLDEN_PATH, serde_json::to_string_pretty(&pinned).expect("serialises") + "\n")
            .map_err(|e| format!("{SPECULATIVE_GOLDEN_PATH}: {e}"))?;
    } else {
        let pinned =
            std::fs::read_to_string(SPECULATIVE_GOLDEN_PATH).map_err(|e| format!("{SPECULATIVE_GOLDEN_PATH}: {e}"))?;
        let expected = golden_digest(&pinned).ok_or_else(|| format!("{SPECULATIVE_GOLDEN_PATH}: no digest"))?;
        if digest != expected {
            return Err(format!(
                "the speculative replay's digest is {digest}, the pinned one {expected}: behaviour changed \
                 (rerun with --update-golden once the change is understood)"
            ));
        }
    }
    let wall_s = median(&mut walls);
    let speed = report.summary.sim_time_s / wall_s;
    if speed < SPECULATIVE_FLOOR {
        return Err(format!(
            "the speculative replay ran at {speed:.0}× real time, below the {SPECULATIVE_FLOOR}× floor"
        ));
    }
    Ok(serde_json::json!({
        "scenario": "reference replay with EAGLE speculative decoding, k = 3, acceptance 0.8/0.6/0.4",
        "sim_s": report.summary.sim_time_s,
        "wall_s_median": wall_s,
        "wall_s_all": walls,
        "sim_s_per_wall_s": speed,
        "engine_steps": report.engine_steps,
        "mean_accepted_tokens": report.summary.speculative.mean_accepted_tokens,
        "tpot_speedup": report.summary.speculative.tpot_speedup,
        "tpot_ms_p50": report.summary.tpot_ms.as_ref().map(|q| q.p50),
        "digest": digest,
    }))
}

/// Generates and simulates a million requests on 64 replicas `repeat` times: the median wall
/// time, and the heap the core's structures (trace, per-request records, engines, report)
/// take at their peak, per request.
fn bench_million(repeat: usize, update_golden: bool) -> Result<serde_json::Value, String> {
    let scenario = million_requests_scenario();
    let generator = scenario.workload.generator().expect("a generator");
    let mut walls = Vec::new();
    let mut peak_bytes = 0usize;
    let mut last: Option<RunReport> = None;
    for _ in 0..repeat {
        let before = HEAP.current_usage();
        HEAP.reset_peak_usage();
        let started = Instant::now();
        let trace = generator.generate(scenario.seed);
        let mut simulation = Simulation::new(&scenario, trace).map_err(|e| e.to_string())?;
        simulation.run();
        let report = simulation.report();
        walls.push(started.elapsed().as_secs_f64());
        peak_bytes = peak_bytes.max(HEAP.peak_usage().saturating_sub(before));
        last = Some(report);
    }
    let report = last.expect("at least one run");
    let requests = report.summary.requests.total;
    let digest = format!("{:016x}", report.digest);
    let counts = &report.summary.requests;
    if counts.completed + counts.rejected + counts.unfinished != requests || report.stopped_early.is_some() {
        return Err(format!("the million-request run did not account for every request: {counts:?}"));
    }
    if update_golden {
        let pinned = serde_json::json!({ "digest": digest, "requests": report.summary.requests, "sim_time_s": report.summary.sim_time_s });
        std::fs::write(MILLION_GOLDEN_PATH, serde_json::to_string_pretty(&pinned).expect("serialises") + "\n")
            .map_err(|e| format!("{MILLION_GOLDEN_PATH}: {e}"))?;
    } else {
        let pinned = std::fs::read_to_string(MILLION_GOLDEN_PATH).map_err(|e| format!("{MILLION_GOLDEN_PATH}: {e}"))?;
        let expected = golden_digest(&pinned).ok_or_else(|| format!("{MILLION_GOLDEN_PATH}: no digest"))?;
        if digest != expected {
            return Err(format!(
                "the million-request run's digest is {digest}, the pinned one {expected}: behaviour changed \
                 (rerun with --update-golden once the change is understood)"
            ));
        }
    }
    let wall_s = median(&mut walls);
    Ok(serde_json::json!({
        "scenario": "1,000,000 generated requests (Poisson 1,000 req/s, default lengths) on 64 x llama-3.1-8b on h100-sxm, round_robin",
        "requests": requests,
        "completed": report.summary.requests.completed,
        "sim_s": report.summary.sim_time_s,
        "wall_s_median": wall_s,
        "runs": walls.len(),
        "engine_steps": report.engine_steps,
        "events_per_s": (requests + report.engine_steps) as f64 / wall_s,
        "peak_heap_bytes": peak_bytes,
        "heap_bytes_per_request": peak_bytes as f64 / requests as f64,
        "digest": digest,
    }))
}
