//! Every real trace in `../shared/traces/` imports with the row count and statistics its
//! README lists (computed there independently, with numpy-style percentiles).

use std::path::PathBuf;

use servesim_core::stats::Quantiles;
use servesim_core::workload::{import_bytes, ImportOptions, Imported, TraceFormat, TraceSummary};

fn shared_trace(path: &str) -> Vec<u8> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces").join(path);
    std::fs::read(&file).unwrap_or_else(|error| panic!("{}: {error}", file.display()))
}

fn import(path: &str) -> Imported {
    import_bytes(&shared_trace(path), ImportOptions::default(), &mut |_| {}).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The README's figures for one file: rows, span (s, when it has arrivals), mean rate, and
/// prompt and output mean / p50 / p90 / p99, rounded as the README rounds them.
struct Expected {
    path: &'static str,
    format: TraceFormat,
    rows: u64,
    span_s: Option<f64>,
    mean_rate: Option<f64>,
    prompt: [f64; 4],
    output: [f64; 4],
}

fn close(actual: f64, expected: f64, what: &str) {
    // The README gives 3-5 significant figures; half a unit of the last one.
    let digits: f64 = if expected.fract() == 0.0 { 0.5 } else { 0.051 };
    assert!((actual - expected).abs() <= digits.max(expected.abs() * 5e-4), "{what}: {actual} vs {expected}");
}

fn check_lengths(q: &Quantiles, expected: [f64; 4], what: &str) {
    close(q.mean, expected[0], &format!("{what} mean"));
    close(q.p50, expected[1], &format!("{what} p50"));
    close(q.p90, expected[2], &format!("{what} p90"));
    close(q.p99, expected[3], &format!("{what} p99"));
}

const EXPECTED: &[Expected] = &[
    Expected {
        path: "mooncake/conversation_trace.jsonl",
        format: TraceFormat::MooncakeJsonl,
        rows: 12_031,
        span_s: Some(3_536.999),
        mean_rate: Some(3.40),
        prompt: [12_035.0, 6_909.0, 27_367.0, 85_400.0],
        output: [342.6, 350.0, 597.0, 1_118.5],
    },
    Expected {
        path: "mooncake/synthetic_trace.jsonl",
        format: TraceFormat::MooncakeJsonl,
        rows: 3_993,
        span_s: Some(1_022.025),
        mean_rate: Some(3.91),
        prompt: [15_325.0, 11_587.0, 38_611.0, 66_456.0],
        output: [149.1, 69.0, 389.0, 768.0],
    },
    Expected {
        path: "azure_llm_2023/AzureLLMInferenceTrace_code.csv",
        format: TraceFormat::AzureLlm2023,
        rows: 8_819,
        span_s: Some(3_435.9),
        mean_rate: Some(2.57),
        prompt: [2_047.9, 1_469.0, 5_187.6, 7_436.0],
        output: [27.9, 13.0, 55.0, 251.5],
    },
    Expected {
        path: "azure_llm_2023/AzureLLMInferenceTrace_conv.csv",
        format: TraceFormat::AzureLlm2023,
        rows: 19_366,
        span_s: Some(3_501.7),
        mean_rate: Some(5.53),
        prompt: [1_154.7, 1_020.0, 2_734.5, 4_142.0],
        output: [211.1, 129.0, 424.0, 601.0],
    },
    Expected {
        path: "vidur/splitwise_code.csv",
        format: TraceFormat::VidurCsv,
        rows: 8_819,
        span_s: Some(3_435.9),
        mean_rate: Some(2.57),
        prompt: [2_047.9, 1_469.0, 5_187.6, 7_436.0],
        output: [27.9, 13.0, 55.0, 251.5],
    },
    Expected {
        path: "vidur/splitwise_conv.csv",
        format: TraceFormat::VidurCsv,
        rows: 19_366,
        span_s: Some(3_501.7),
        mean_rate: Some(5.53),
        prompt: [1_154.7, 1_020.0, 2_734.5, 4_142.0],
        output: [211.1, 129.0, 424.0, 601.0],
    },
    Expected {
        path: "vidur/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv",
        format: TraceFormat::LengthsOnly,
        rows: 28_257,
        span_s: None,
        mean_rate: None,
        prompt: [2_588.1, 2_730.0, 3_702.0, 3_933.4],
        output: [291.4, 167.0, 372.0, 3_271.3],
    },
    Expected {
        path: "sarathi_serve/sharegpt_8k_filtered_stats_llama2_tokenizer.csv",
        format: TraceFormat::LengthsOnly,
        rows: 30_731,
        span_s: None,
        mean_rate: None,
        prompt: [2_340.0, 1_730.0, 5_696.0, 7_433.7],
        output: [438.7, 415.0, 834.0, 998.0],
    },
    Expected {
        path: "etalon/bwb_stats_llama2_tokenizer_filtered_v2.csv",
        format: TraceFormat::LengthsOnly,
        rows: 33_768,
        span_s: None,
        mean_rate: None,
        prompt: [1_067.2, 1_037.0, 1_453.0, 1_800.0],
        output: [1_612.8, 1_601.0, 2_149.0, 2_533.0],
    },
    Expected {
        path: "splitwise_sim/test_trace.csv",
        format: TraceFormat::SplitwiseSim,
        rows: 3,
        span_s: Some(3.0),
        mean_rate: Some(2.0 / 3.0),
        prompt: [2_730.7, 2_048.0, 3_686.4, 4_055.0],
        output: [18.7, 16.0, 28.8, 31.7],
    },
];

#[test]
fn every_shared_trace_imports_with_the_statistics_its_readme_lists() {
    for expected in EXPECTED {
        let imported = import(expected.path);
        let summary = TraceSummary::of(&imported.trace).unwrap();
        let what = expected.path;
        assert_eq!(imported.report.format, expected.format, "{what}");
        assert_eq!((imported.report.num_requests, imported.report.rows_read), (expected.rows, expected.rows), "{what}");
        assert_eq!(
            (imported.report.rows_skipped, imported.report.sorted),
            (0, false),
            "{what}: no bad or unsorted rows"
        );
        assert_eq!(imported.trace.has_arrivals, expected.span_s.is_some(), "{what}");
        if let Some(span) = expected.span_s {
            close(summary.span_s, span, &format!("{what} span"));
            close(summary.mean_rate_per_s.unwrap(), expected.mean_rate.unwrap(), &format!("{what} rate"));
        }
        check_lengths(&summary.prompt_tokens, expected.prompt, &format!("{what} prompt"));
        check_lengths(&summary.output_tokens, expected.output, &format!("{what} output"));
    }
}

#[test]
fn mooncake_hash_statistics_and_ideal_reuse_match_the_readme() {
    for (path, distinct, reuse) in
        [("mooncake/conversation_trace.jsonl", 182_790, 0.366), ("mooncake/synthetic_trace.jsonl", 43_924, 0.640)]
    {
        let trace = import(path).trace;
        let mut hashes = trace.block_hashes.clone();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), distinct, "{path}");
        let summary = TraceSummary::of(&trace).unwrap();
        assert!((summary.ideal_block_reuse.unwrap() - reuse).abs() < 0.0005, "{path}: {:?}", summary.ideal_block_reuse);
        // len(hash_ids) == ceil(input_length / 512) on every row.
        for row in 0..trace.num_requests() {
            assert_eq!(
                trace.block_hashes_of(row).len() as u32,
                trace.prompt_tokens[row].div_ceil(512),
                "{path} row {row}"
            );
        }
    }
}

#[test]
fn azure_2023_and_vidur_hold_the_same_rows_to_within_a_microsecond() {
    for (azure, vidur) in [
        ("azure_llm_2023/AzureLLMInferenceTrace_code.csv", "vidur/splitwise_code.csv"),
        ("azure_llm_2023/AzureLLMInferenceTrace_conv.csv", "vidur/splitwise_conv.csv"),
    ] {
        let (a, v) = (import(azure).trace, import(vidur).trace);
        assert_eq!((&a.prompt_tokens, &a.output_tokens), (&v.prompt_tokens, &v.output_tokens));
        let worst =
            a.arrived_at.iter().zip(&v.arrived_at).map(|(x, y)| x.as_nanos().abs_diff(y.as_nanos())).max().unwrap();
        assert!(worst <= 1_000, "{azure}: {worst} ns apart");
    }
}
