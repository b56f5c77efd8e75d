//! The reference replay: the bundled Mooncake conversation trace (12,031 requests, 3,537 s)
//! on 8 Llama-3.1-8B H100 TP1 replicas behind round-robin, as `cargo xtask bench` runs it.
//! Every iteration checks the run's digest against the golden summary, so a speed-up cannot
//! hide a change in behaviour.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use servesim_core::scenario::Scenario;
use servesim_core::sim::Simulation;
use servesim_core::workload::parse_trace;

const MOONCAKE: &str = include_str!("../../../web/samples/mooncake-conversation.jsonl");
const GOLDEN: &str = include_str!("../tests/golden/reference-replay.json");

fn golden_digest() -> u64 {
    let golden: serde_json::Value = serde_json::from_str(GOLDEN).expect("golden JSON");
    u64::from_str_radix(golden["digest"].as_str().expect("digest"), 16).expect("hex digest")
}

fn reference_replay(c: &mut Criterion) {
    let expected = golden_digest();
    let trace = parse_trace(MOONCAKE, &mut |_| {}).expect("the sample parses");
    let scenario = Scenario::reference();
    let mut group = c.benchmark_group("reference replay");
    group.sample_size(20);
    group.bench_function("parse the Mooncake conversation trace", |b| {
        b.iter(|| {
            let trace = parse_trace(black_box(MOONCAKE), &mut |_| {}).unwrap();
            assert_eq!(trace.num_requests(), 12_031);
            trace
        })
    });
    group.bench_function("simulate 12,031 requests on 8 H100 replicas", |b| {
        b.iter(|| {
            let mut simulation = Simulation::new(&scenario, black_box(trace.clone())).unwrap();
            simulation.run();
            let result = simulation.results();
            assert_eq!(result.report.digest, expected, "the reference replay's results changed");
            result
        })
    });
    group.finish();
}

criterion_group!(benches, reference_replay);
criterion_main!(benches);
