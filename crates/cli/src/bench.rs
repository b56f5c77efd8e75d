//! `servesim bench`: times the reference replay and reports speed and memory.

use std::time::Instant;

use servesim_core::scenario::Scenario;
use servesim_core::sim::Simulation;
use servesim_core::workload::parse_trace;

use crate::run::sample_text;

/// The golden summary of the reference replay (the same file the core's tests pin).
const GOLDEN: &str = include_str!("../../core/tests/golden/reference-replay.json");

fn golden_digest() -> String {
    let golden: serde_json::Value = serde_json::from_str(GOLDEN).expect("golden JSON");
    golden["digest"].as_str().expect("digest").to_owned()
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Replays the reference scenario `repeat` times and prints one JSON line with the median.
///
/// # Errors
///
/// Fails when a run's digest differs from the golden one (the speed would not be comparable).
pub fn bench(repeat: usize) -> Result<(), String> {
    let text = sample_text(servesim_core::workload::samples::DEFAULT_SAMPLE_ID).expect("bundled");
    let parse_started = Instant::now();
    let trace = parse_trace(text, &mut |_| {}).map_err(|e| e.to_string())?;
    let parse_s = parse_started.elapsed().as_secs_f64();
    let scenario = Scenario::reference();
    let expected = golden_digest();
    let mut walls = Vec::new();
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        let mut simulation = Simulation::new(&scenario, trace.clone()).map_err(|e| e.to_string())?;
        simulation.run();
        let result = simulation.results();
        walls.push(started.elapsed().as_secs_f64());
        let digest = format!("{:016x}", result.report.digest);
        if digest != expected {
            return Err(format!(
                "the reference replay's digest is {digest}, the golden one {expected}: behaviour changed"
            ));
        }
        last = Some(result.report);
    }
    walls.sort_by(f64::total_cmp);
    let wall_s = walls[walls.len() / 2];
    let report = last.expect("at least one run");
    let events = report.summary.requests.total + report.engine_steps;
    let output = serde_json::json!({
        "scenario": "reference replay: mooncake-conversation, 8 x llama-3.1-8b on h100-sxm, tp 1, round_robin",
        "requests": report.summary.requests.total,
        "completed": report.summary.requests.completed,
        "sim_s": report.summary.sim_time_s,
        "wall_s_median": wall_s,
        "wall_s_min": walls[0],
        "runs": walls.len(),
        "sim_s_per_wall_s": report.summary.sim_time_s / wall_s,
        "engine_steps": report.engine_steps,
        "events_per_s": events as f64 / wall_s,
        "parse_s": parse_s,
        "peak_rss_mib": peak_rss_mib(),
        "digest": expected,
    });
    println!("{output}");
    Ok(())
}
