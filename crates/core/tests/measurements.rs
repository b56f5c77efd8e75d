//! The performance model against public measurements (`crates/core/data/measurements.json`,
//! gathered from vLLM and SGLang blogs, cookbooks and benchmark repositories; each row names
//! its source, and `measurements.md` lists them). Every row whose setup can be rerun is replayed with its own load, on the
//! catalog's defaults (no calibration, nothing tuned to a row), and the table of errors is
//! written to `target/model-errors.md` for `docs/model.md`.
//!
//! The test fails if more than three rows cannot be replayed (their servers started where the
//! model says the model does not fit), or if the median error of a metric grows past the bound
//! below: a guard against a change silently making the model worse, not a target.

use std::fmt::Write;

use serde_json::Value;
use servesim_core::calibrate::{replay_scenario, replayed_metrics, BenchmarkRow, Load, Metrics};
use servesim_core::perf::{Dtype, Factors};
use servesim_core::scenario::{Deployment, ModelChoice, Scenario, WorkloadSource};
use servesim_core::workload::Lengths;

/// The median absolute error each metric must stay under, percent: today's figures (TTFT 76 %,
/// TPOT 27 %, output throughput 25 % on 2026-12-07) plus a margin.
const MEDIAN_ERROR_BOUNDS_PCT: [f64; 3] = [85.0, 35.0, 35.0];

/// A row that can be replayed: a concrete model, GPU, parallelism and lengths, a closed-loop or
/// offline load, and a metric.
struct Case {
    id: String,
    scenario: Scenario,
    label: String,
    measured: Metrics,
}

fn text<'a>(row: &'a Value, key: &str) -> Option<&'a str> {
    row.get(key).and_then(Value::as_str)
}

fn number(row: &Value, key: &str) -> Option<f64> {
    row.get(key).and_then(Value::as_f64)
}

fn whole(row: &Value, key: &str) -> Option<u32> {
    row.get(key).and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok())
}

/// The case a row describes, or why it is left out.
fn case_of(row: &Value) -> Result<Case, String> {
    let id = text(row, "id").unwrap_or("?").to_owned();
    if text(row, "dataset") == Some("sharegpt") {
        return Err("ShareGPT lengths (not a fixed shape)".into());
    }
    if let Some(phase) = text(row, "phase") {
        return Err(format!("{phase} run (disaggregation is a later issue)"));
    }
    if row.get("speculative").and_then(Value::as_bool) == Some(true) {
        return Err("speculative decoding (a later issue)".into());
    }
    let (Some(isl), Some(osl)) = (whole(row, "isl"), whole(row, "osl")) else {
        return Err("no input/output lengths".into());
    };
    let offline = row.get("offline").and_then(Value::as_bool) == Some(true);
    let load = match (whole(row, "concurrency"), offline) {
        (Some(concurrency), false) => Load::Concurrency(concurrency),
        (_, true) => Load::Offline,
        (None, false) => return Err("no concurrency (a rate without a shape)".into()),
    };
    let tp = whole(row, "tp").ok_or("no TP degree")?;
    let measured = Metrics {
        ttft_ms: number(row, "ttft_median_ms"),
        tpot_ms: number(row, "tpot_median_ms"),
        output_throughput: number(row, "output_throughput_tok_s"),
    };
    let mut scenario = Scenario::default();
    scenario.hardware.gpu = text(row, "gpu").ok_or("no GPU")?.into();
    let gpu = scenario.hardware.gpu.spec().ok_or("unknown GPU")?;
    // An FP4 checkpoint on a GPU without FP4 tensor cores runs weight-only: the checkpoint's own.
    let weights =
        text(row, "weights").and_then(Dtype::from_name).filter(|&w| w != Dtype::Fp4 || gpu.fp4_tflops.is_some());
    scenario.model = ModelChoice {
        weights,
        kv_cache: text(row, "kv_cache").and_then(Dtype::from_name).unwrap_or(Dtype::Bf16),
        ..ModelChoice::preset(text(row, "model").ok_or("no model")?)
    };
    let Deployment::Aggregated(pool) = &mut scenario.deployment else { unreachable!("the default is aggregated") };
    pool.tp = tp;
    pool.pp = whole(row, "pp").unwrap_or(1);
    pool.ep = whole(row, "ep").unwrap_or(1);
    pool.dp_attention = row.get("dp_attention").and_then(Value::as_bool).unwrap_or(false);
    // vLLM V1's and SGLang's defaults on ≥ 70 GiB GPUs: up to 1,024 sequences, 8,192-token steps.
    scenario.engine.max_num_seqs = 1024;
    let row_shape = BenchmarkRow {
        label: id.clone(),
        isl,
        osl,
        load,
        ttft_ms: measured.ttft_ms,
        tpot_ms: measured.tpot_ms,
        output_throughput: measured.output_throughput,
        num_prompts: whole(row, "num_prompts"),
    };
    let mut scenario = replay_scenario(&scenario, &row_shape, Factors::default());
    if text(row, "lengths") == Some("uniform") {
        let WorkloadSource::Generator(generator) = &mut scenario.workload.source else { unreachable!("a replay") };
        generator.classes[0].prompt_tokens = Lengths::Uniform { min: 1, max: isl };
        generator.classes[0].output_tokens = Lengths::Uniform { min: 1, max: osl };
    }
    Ok(Case {
        id,
        scenario,
        label: format!("{} {}/{} {}", text(row, "engine").unwrap_or("?"), isl, osl, load),
        measured,
    })
}

fn cell(measured: Option<f64>, predicted: Option<f64>, errors: &mut Vec<f64>) -> String {
    match (measured, predicted) {
        (Some(m), Some(p)) => {
            let error = p / m - 1.0;
            errors.push(error.abs() * 100.0);
            format!("{m:.1} / {p:.1} ({:+.0} %)", error * 100.0)
        }
        (Some(m), None) => format!("{m:.1} / –"),
        _ => "–".to_owned(),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[test]
fn the_model_against_public_measurements() {
    let rows: Vec<Value> =
        serde_json::from_str(include_str!("../data/measurements.json")).expect("measurements.json parses");
    let mut table = String::from(
        "| row | setup | TTFT ms, measured / predicted | TPOT ms | output tok/s |\n|---|---|---|---|---|\n",
    );
    let (mut ttft, mut tpot, mut throughput) = (Vec::new(), Vec::new(), Vec::new());
    let mut left_out = String::new();
    let mut unreplayable = String::new();
    for row in &rows {
        let case = match case_of(row) {
            Ok(case) => case,
            Err(why) => {
                writeln!(left_out, "- `{}`: {why}", text(row, "id").unwrap_or("?")).unwrap();
                continue;
            }
        };
        let predicted = match replayed_metrics(&case.scenario, &case.id) {
            Ok(predicted) => predicted,
            Err(error) => {
                writeln!(unreplayable, "- `{}`: {error}", case.id).unwrap();
                continue;
            }
        };
        let pool = case.scenario.deployment.primary_pool();
        let setup = format!(
            "{} on {} × {} TP{}{}{}, {}",
            case.scenario.model.label(),
            pool.tp * pool.pp,
            case.scenario.hardware.gpu.id(),
            pool.tp,
            if pool.ep > 1 { format!(" EP{}", pool.ep) } else { String::new() },
            if pool.dp_attention { " DP-attn" } else { "" },
            case.label
        );
        writeln!(
            table,
            "| `{}` | {setup} | {} | {} | {} |",
            case.id,
            cell(case.measured.ttft_ms, predicted.ttft_ms, &mut ttft),
            cell(case.measured.tpot_ms, predicted.tpot_ms, &mut tpot),
            cell(case.measured.output_throughput, predicted.output_throughput, &mut throughput),
        )
        .unwrap();
    }
    let mut summary = String::from("\n| metric | rows | median error | worst error |\n|---|---|---|---|\n");
    let metrics = [("TTFT", &mut ttft), ("TPOT", &mut tpot), ("output throughput", &mut throughput)];
    for ((name, errors), bound) in metrics.into_iter().zip(MEDIAN_ERROR_BOUNDS_PCT) {
        let worst = errors.iter().copied().fold(0.0, f64::max);
        let median = median(errors);
        writeln!(summary, "| {name} | {} | {median:.0} % | {worst:.0} % |", errors.len()).unwrap();
        assert!(median < bound, "{name}: median error {median:.0} %\n{table}{summary}");
    }
    let document =
        format!("{table}{summary}\nRows the model could not replay:\n\n{unreplayable}\nLeft out:\n\n{left_out}");
    let target = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/model-errors.md");
    std::fs::write(target, &document).expect("target/ is writable");
    println!("{document}");
    assert!(ttft.len() >= 20 && tpot.len() >= 20 && throughput.len() >= 25, "{document}");
    assert!(unreplayable.lines().count() <= 3, "{document}");
}
