//! Benchmark and step-profile files: `parse_benchmark` and `parse_profile` never panic on any
//! bytes; every row they return has positive lengths and at least one finite positive metric,
//! and a profile that parses fits to finite, non-negative step times.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servesim_core::calibrate::{parse_benchmark, parse_profile};

fuzz_target!(|data: &[u8]| {
    if let Ok(rows) = parse_benchmark(data) {
        for row in rows {
            assert!(row.isl >= 1 && row.osl >= 1, "{row:?}");
            let metrics = [row.ttft_ms, row.tpot_ms, row.output_throughput];
            assert!(metrics.iter().flatten().all(|v| v.is_finite() && *v > 0.0), "{row:?}");
            assert!(metrics.iter().any(Option::is_some), "{row:?}");
        }
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(profile) = parse_profile(text) else { return };
    let Ok(fit) = profile.fit() else { return };
    for (new_tokens, context) in [(1.0, 0.0), (64.0, 1e5), (8192.0, 1e7)] {
        let seconds = fit.step_seconds(new_tokens, context);
        assert!(seconds.is_finite() && seconds >= 0.0, "{seconds}");
    }
});
