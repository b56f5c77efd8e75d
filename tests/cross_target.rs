//! Determinism across targets: the same inputs must give the same digest natively and on
//! wasm32. `cargo test` runs this natively; `cargo xtask test` also runs it compiled to wasm32
//! in headless Chromium. The expected value is pinned, so a difference on either target fails.
//! (It lives in the app's tests so that `servesim-core` needs no wasm test harness.)

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use servesim_core::digest::Digest;
use servesim_core::rng::{RngStream, StreamId};
use servesim_core::scenario::{Deployment, ReplicaPool, RouterKind, RouterSettings, Scenario};
use servesim_core::share;
use servesim_core::sim::EventQueue;
use servesim_core::sim::Simulation;
use servesim_core::time::SimTime;
use servesim_core::workload::{parse_trace, TraceSummary};

const MOONCAKE: &str = include_str!("../web/samples/mooncake-conversation.jsonl");
const VIDUR: &str = include_str!("e2e/fixtures/splitwise_code.csv");

fn write_summary(digest: &mut Digest, summary: &TraceSummary) {
    digest.write_u64(summary.digest);
    digest.write_u64(summary.num_requests);
    digest.write_f64(summary.span_s);
    digest.write_f64(summary.mean_rate_per_s.unwrap_or(-1.0));
    digest.write_f64(summary.ideal_block_reuse.unwrap_or(-1.0));
    for q in [&summary.prompt_tokens, &summary.output_tokens] {
        for value in [q.mean, q.min, q.p50, q.p90, q.p95, q.p99, q.p99_9, q.max] {
            digest.write_f64(value);
        }
    }
    for &(x, y) in &summary.arrival_rate.points {
        digest.write_f64(x);
        digest.write_f64(y);
    }
}

/// Everything that must agree across targets, folded into one number.
fn cross_target_digest() -> u64 {
    let mut digest = Digest::new();
    for text in [MOONCAKE, VIDUR] {
        let trace = parse_trace(text, &mut |_| {}).expect("the bundled traces parse");
        write_summary(&mut digest, &TraceSummary::of(&trace).expect("not empty"));
    }
    // Random streams, through the transcendental functions (libm) the generators use.
    let mut arrivals = RngStream::new(42, StreamId::ARRIVALS);
    let mut lengths = RngStream::new(42, StreamId::LENGTHS.child(3));
    for _ in 0..10_000 {
        digest.write_f64(arrivals.exponential(3.4));
        digest.write_f64(lengths.standard_normal());
        digest.write_u64(lengths.below(1_000));
    }
    // Event order for many same-time events.
    let mut queue = EventQueue::new();
    for i in 0..1_000u64 {
        queue.push(SimTime::from_nanos(i % 7), i);
    }
    while let Some((at, event)) = queue.pop() {
        digest.write_u64(at.as_nanos());
        digest.write_u64(event);
    }
    // The share link of a scenario is the same text everywhere.
    digest.write_bytes(share::encode_fragment(&Scenario::default()).as_bytes());
    // A golden simulation: the per-request records and the summary's floats.
    let mut scenario = Scenario {
        deployment: Deployment::Aggregated(ReplicaPool { replicas: 2, ..ReplicaPool::default() }),
        router: RouterSettings::of(RouterKind::LeastOutstanding),
        ..Scenario::default()
    };
    scenario.engine.gpu_memory_utilization = 0.3;
    scenario.engine.max_model_len = Some(32_768);
    let head: String = MOONCAKE.lines().take(1_500).map(|line| format!("{line}\n")).collect();
    let mut simulation = Simulation::new(&scenario, parse_trace(&head, &mut |_| {}).unwrap()).unwrap();
    simulation.run();
    let report = simulation.results().report;
    digest.write_u64(report.digest);
    digest.write_bytes(serde_json::to_string(&report.summary).unwrap().as_bytes());
    // Disaggregated: fair-shared links (floating-point rates), a KV-aware softmax draw (libm's
    // exp) on stale signals, conditional disaggregation.
    let mut disaggregated = Scenario::reference_disaggregated();
    disaggregated.router.temperature = 0.5;
    let mut simulation = Simulation::new(&disaggregated, parse_trace(&head, &mut |_| {}).unwrap()).unwrap();
    simulation.run();
    let report = simulation.results().report;
    digest.write_u64(report.digest);
    digest.write_bytes(serde_json::to_string(&report.summary).unwrap().as_bytes());
    digest.finish()
}

#[test]
fn the_digest_is_identical_on_native_and_wasm32() {
    assert_eq!(format!("{:016x}", cross_target_digest()), "5440fc974b2a6388");
}
