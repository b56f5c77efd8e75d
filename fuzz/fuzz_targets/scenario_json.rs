//! Scenario JSON: `Scenario::from_json` then `validate` never panic; a scenario that reads
//! round-trips through its canonical JSON and through a share link unchanged; and a valid
//! generator workload of at most 2,000 requests resolves to a trace that satisfies the trace
//! invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servesim_core::scenario::Scenario;
use servesim_core::{share, workload};
use servesim_fuzz::check_trace;

/// The largest generator resolved (to keep each input fast).
const MAX_RESOLVED_REQUESTS: u64 = 2_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(scenario) = Scenario::from_json(text) else { return };
    let canonical = scenario.to_canonical_json();
    let reread = Scenario::from_json(&canonical).unwrap_or_else(|e| panic!("canonical JSON {canonical} fails: {e}"));
    assert_eq!(reread, scenario, "the canonical JSON does not round-trip: {canonical}");
    assert_eq!(reread.to_canonical_json(), canonical, "the canonical JSON is not canonical");
    let fragment = share::encode_fragment(&scenario);
    assert_eq!(share::decode_fragment(&fragment).as_ref(), Ok(&scenario), "the share link does not round-trip");
    if scenario.validate().is_err() {
        return;
    }
    let Some(generator) = scenario.workload.generator() else { return };
    if generator.num_requests() > MAX_RESOLVED_REQUESTS {
        return;
    }
    if let Ok(resolved) = workload::resolve(&scenario.workload, scenario.seed, None, &mut |_| {}) {
        check_trace(&resolved.trace);
    }
});
