//! `servesim run`: simulate a scenario and report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use plotters::prelude::*;
use serde::Serialize;
use servesim_core::metrics::{Outcome, RequestLog, Summary};
use servesim_core::perf::{ModelSheet, SheetShape};
use servesim_core::scenario::{Scenario, WorkloadSource};
use servesim_core::sim::{PoolReport, RunResult, Simulation};
use servesim_core::stats::Quantiles;
use servesim_core::time::SimTime;
use servesim_core::workload::{resolve, ImportReport, ResolveError, Resolved, TraceText};

use crate::{read_bytes, read_scenario, ImportFlags};

/// The bundled sample traces, compiled in (the app fetches the same files).
const SAMPLE_TEXTS: [(&str, &[u8]); 5] = [
    ("mooncake-conversation", include_bytes!("../../../web/samples/mooncake-conversation.jsonl")),
    ("mooncake-synthetic", include_bytes!("../../../web/samples/mooncake-synthetic.jsonl")),
    ("azure-code-2023", include_bytes!("../../../web/samples/azure-code-2023.csv")),
    ("azure-conv-2023", include_bytes!("../../../web/samples/azure-conv-2023.csv")),
    ("sharegpt-lengths", include_bytes!("../../../web/samples/sharegpt-lengths.csv")),
];

/// How `run` prints its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A human-readable table.
    Table,
    /// One JSON object.
    Json,
}

/// What `--json` prints: the summary plus run facts.
#[derive(Serialize)]
struct RunOutput<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    kv_capacity_tokens_per_replica: u64,
    /// The pools: one aggregated pool, or the prefill and the decode pool.
    pools: &'a [PoolReport],
    engine_steps: u64,
    stopped_early: &'a Option<String>,
    digest: String,
    /// The deployment's model sheet: parameters, formats, weights per GPU, KV bytes per token
    /// and capacity, and the step times of `servesim model`'s default shape.
    model: ModelSheet,
    /// What the import of a file or sample found (absent for a generator).
    #[serde(skip_serializing_if = "Option::is_none")]
    import: Option<&'a ImportReport>,
    wall_time_s: f64,
}

/// Runs `scenario_path` (with `trace_path` replacing its workload) and prints or writes the
/// results.
pub fn run(
    scenario_path: &Path,
    trace_path: Option<&Path>,
    import: &ImportFlags,
    format: Format,
    csv: Option<&Path>,
    out: Option<&Path>,
) -> Result<(), String> {
    let mut scenario = read_scenario(scenario_path)?;
    let options = import.over(scenario.workload.import_options());
    scenario.workload.columns = options.columns;
    scenario.workload.skip_bad_rows = options.skip_bad_rows;
    let Resolved { trace, import: report } = load_trace(&scenario, trace_path)?;
    if format == Format::Table {
        for notice in report.iter().flat_map(|report| &report.notices) {
            eprintln!("servesim: notice: {notice}");
        }
    }
    let started = Instant::now();
    let mut simulation = Simulation::new(&scenario, trace).map_err(|e| format!("{}: {e}", scenario_path.display()))?;
    simulation.run();
    let result = simulation.results();
    let wall_time_s = started.elapsed().as_secs_f64();
    let model = ModelSheet::of_scenario(&scenario, SheetShape::default())
        .map_err(|error| format!("{}: {error}", scenario_path.display()))?;
    let output = RunOutput {
        summary: &result.report.summary,
        model,
        kv_capacity_tokens_per_replica: result.report.kv_capacity_tokens_per_replica,
        pools: &result.report.pools,
        engine_steps: result.report.engine_steps,
        stopped_early: &result.report.stopped_early,
        digest: format!("{:016x}", result.report.digest),
        import: report.as_ref(),
        wall_time_s,
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string(&output).expect("summaries serialise")),
        Format::Table => print_table(&scenario, &result, wall_time_s),
    }
    if let Some(path) = csv {
        write_requests_csv(path, &result.requests)?;
    }
    if let Some(dir) = out {
        write_out_dir(dir, &output, &result)?;
    }
    Ok(())
}

/// The bytes of the bundled sample `id`.
pub fn sample_bytes(id: &str) -> Option<&'static [u8]> {
    SAMPLE_TEXTS.iter().find(|(sample, _)| *sample == id).map(|(_, bytes)| *bytes)
}

/// The scenario's requests: the `--trace` file, else its workload (samples are compiled in).
pub fn load_trace(scenario: &Scenario, trace_path: Option<&Path>) -> Result<Resolved, String> {
    let file = match trace_path {
        Some(path) => Some((path.display().to_string(), read_bytes(path)?)),
        None => None,
    };
    let text = match (&file, &scenario.workload.source) {
        (Some((name, bytes)), _) => Some(TraceText { name, bytes }),
        (None, WorkloadSource::Sample(id)) => {
            Some(TraceText { name: id, bytes: sample_bytes(id).ok_or_else(|| format!("unknown sample {id}"))? })
        }
        (None, _) => None,
    };
    resolve(&scenario.workload, scenario.seed, text, &mut |_| {}).map_err(|error| match error {
        ResolveError::MissingText(_) => format!("{error}; pass it with --trace FILE"),
        other => other.to_string(),
    })
}

fn quantile_row(name: &str, quantiles: &Option<Quantiles>) -> String {
    match quantiles {
        Some(q) => format!(
            "{name:<14} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            q.mean, q.p50, q.p90, q.p95, q.p99, q.max
        ),
        None => format!("{name:<14} {:>10}", "-"),
    }
}

fn print_table(scenario: &Scenario, result: &RunResult, wall_time_s: f64) {
    let summary = &result.report.summary;
    let requests = &summary.requests;
    println!(
        "requests       {} total, {} completed ({} stopped at max_model_len), {} rejected, {} failed, {} unfinished; \
         {} preemptions",
        requests.total,
        requests.completed,
        requests.truncated,
        requests.rejected,
        requests.failed,
        requests.unfinished,
        summary.preemptions
    );
    if let Some(reason) = &result.report.stopped_early {
        println!("STOPPED EARLY  {reason}");
    }
    println!(
        "{:<14} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "latency (ms)", "mean", "p50", "p90", "p95", "p99", "max"
    );
    for (name, quantiles) in [
        ("TTFT", &summary.ttft_ms),
        ("TPOT", &summary.tpot_ms),
        ("ITL", &summary.itl_ms),
        ("E2E", &summary.e2e_ms),
        ("queueing", &summary.queueing_ms),
    ] {
        println!("{}", quantile_row(name, quantiles));
    }
    let throughput = &summary.throughput;
    println!(
        "throughput     {:.0} output tok/s ({:.0} per GPU), {:.0} total tok/s, {:.3} req/s",
        throughput.output_tokens_per_s,
        throughput.output_tokens_per_s_per_gpu,
        throughput.total_tokens_per_s,
        throughput.requests_per_s
    );
    let slo = &scenario.slo;
    println!(
        "goodput        {:.3} req/s; {:.1} % of requests met TTFT ≤ {} ms, TPOT ≤ {} ms, E2E ≤ {} ms",
        summary.goodput.requests_per_s,
        100.0 * summary.goodput.slo_attainment,
        slo.ttft_ms.map_or("-".to_owned(), |v| v.to_string()),
        slo.tpot_ms.map_or("-".to_owned(), |v| v.to_string()),
        slo.e2e_ms.map_or("-".to_owned(), |v| v.to_string()),
    );
    println!(
        "saturation     {} (mean queueing {:.2} s mid-trace, {:.2} s at the end)",
        if summary.saturation.saturated { "SATURATED: the queue grows without bound" } else { "keeps up" },
        summary.saturation.middle_queueing_s,
        summary.saturation.final_queueing_s
    );
    for pool in &result.report.pools {
        println!(
            "{:<14} {} × {} GPU{} of {}; KV capacity {} tokens per replica",
            format!("{} pool", pool.role.name()),
            pool.replicas,
            pool.gpus_per_replica,
            if pool.gpus_per_replica == 1 { "" } else { "s" },
            pool.gpu,
            pool.kv_capacity_tokens_per_replica
        );
    }
    let stages = &summary.stages;
    let mean = |q: &Option<Quantiles>| q.as_ref().map_or("-".to_owned(), |q| format!("{:.1}", q.mean));
    println!(
        "stages (mean)  queue {} ms, prefill {} ms, KV wait {} ms, transfer {} ms, decode {} ms",
        mean(&stages.queue_ms),
        mean(&stages.prefill_ms),
        mean(&stages.kv_wait_ms),
        mean(&stages.transfer_ms),
        mean(&stages.decode_ms)
    );
    if let Some(transfer) = &summary.kv_transfer {
        let p95 = |q: &Option<Quantiles>| q.as_ref().map_or("-".to_owned(), |q| format!("{:.1}", q.p95));
        println!(
            "KV transfer    {} transfers, {:.2} GB in all (mean {:.1} MB), time p95 {} ms; {} prefilled on the \
             decode replica; links {:.1} % utilised",
            transfer.num_transfers,
            transfer.total_bytes as f64 / 1e9,
            transfer.bytes.as_ref().map_or(0.0, |q| q.mean / 1e6),
            p95(&transfer.time_ms),
            transfer.num_local_prefills,
            100.0 * transfer.link_utilization
        );
    }
    let cache = &summary.prefix_cache;
    if cache.enabled {
        let per_replica: Vec<String> =
            cache.per_replica_hit_rate.iter().map(|rate| format!("{:.1}", rate * 100.0)).collect();
        println!(
            "prefix cache   {:.1} % of prompt tokens served from cache ({} of {}); per replica {} %",
            cache.hit_rate * 100.0,
            cache.cached_tokens,
            cache.prompt_tokens,
            per_replica.join(" / ")
        );
    } else {
        println!("prefix cache   off");
    }
    if let Some(host) = &summary.host_kv {
        println!(
            "host KV tier   {:.1} % of prompt tokens loaded from host ({} blocks of {} stored); {} blocks swapped \
             out, {} back in, {} swaps fell back to recompute",
            cache.host_hit_rate * 100.0,
            host.loaded_blocks,
            host.stored_blocks,
            host.swapped_out_blocks,
            host.swapped_in_blocks,
            host.swap_fallbacks
        );
    }
    let speculative = &summary.speculative;
    if speculative.acceptance_length > 0.0 {
        let speedup = speculative.tpot_speedup.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.2}×"));
        println!(
            "speculative    {:.2} draft tokens accepted per step (stated {:.2}); TPOT speed-up {speedup} over no \
             speculation",
            speculative.mean_accepted_tokens, speculative.expected_accepted_tokens
        );
    }
    let cost = &summary.cost;
    println!(
        "cost           {}; {:.2} kWh at board power, {:.3} output tokens per joule",
        cost.usd.zip(cost.usd_per_million_output_tokens).map_or_else(
            || "no price (cost.usd_per_gpu_hour)".to_owned(),
            |(usd, per_million)| format!("$ {usd:.2}, $ {per_million:.2} per million output tokens")
        ),
        cost.energy_kwh,
        cost.output_tokens_per_joule
    );
    println!(
        "time           {:.1} s simulated, {:.3} s wall ({:.0}× real time); {:.2} GPU-hours",
        summary.sim_time_s,
        wall_time_s,
        summary.sim_time_s / wall_time_s.max(1e-9),
        summary.gpu_hours
    );
    println!("digest         {:016x}", result.report.digest);
}

fn write_requests_csv(path: &Path, requests: &RequestLog) -> Result<(), String> {
    let describe = |error: std::io::Error| format!("{}: {error}", path.display());
    let file = std::fs::File::create(path).map_err(describe)?;
    let mut out = std::io::BufWriter::new(file);
    let instant = |at: SimTime| if at == SimTime::MAX { String::new() } else { format!("{:.9}", at.as_secs_f64()) };
    let transfers = requests.transfers.as_ref();
    let transfer_header = if transfers.is_some() {
        ",decode_replica,prefill_done_at_s,kv_reserved_at_s,kv_received_at_s,kv_bytes"
    } else {
        ""
    };
    writeln!(out, "request,arrived_at_s,prompt_tokens,output_tokens,generated_tokens,cached_tokens,replica,outcome,first_scheduled_at_s,first_token_at_s,finished_at_s,preemptions{transfer_header}")
        .map_err(describe)?;
    for i in 0..requests.len() {
        let outcome = match requests.outcome[i] {
            Outcome::Pending => "unfinished".to_owned(),
            Outcome::Completed => "completed".to_owned(),
            Outcome::Rejected(reason) => format!("rejected: {}", reason.describe()),
        };
        let transfer = transfers.map_or_else(String::new, |t| {
            let decode = if t.decode_replica[i] == u32::MAX { String::new() } else { t.decode_replica[i].to_string() };
            format!(
                ",{decode},{},{},{},{}",
                instant(t.prefill_done_at[i]),
                instant(t.kv_reserved_at[i]),
                instant(t.kv_received_at[i]),
                t.kv_bytes[i]
            )
        });
        writeln!(
            out,
            "{i},{},{},{},{},{},{},\"{outcome}\",{},{},{},{}{transfer}",
            instant(requests.arrived_at[i]),
            requests.prompt_tokens[i],
            requests.output_tokens[i],
            requests.generated_tokens(i),
            requests.cached_tokens[i],
            if requests.replica[i] == u32::MAX { String::new() } else { requests.replica[i].to_string() },
            instant(requests.first_scheduled_at[i]),
            instant(requests.first_token_at[i]),
            instant(requests.finished_at[i]),
            requests.preemptions[i],
        )
        .map_err(describe)?;
    }
    out.flush().map_err(describe)
}

fn write_out_dir(dir: &Path, output: &RunOutput<'_>, result: &RunResult) -> Result<(), String> {
    let describe = |path: &PathBuf, error: String| format!("{}: {error}", path.display());
    std::fs::create_dir_all(dir).map_err(|e| describe(&dir.to_path_buf(), e.to_string()))?;
    let summary_path = dir.join("summary.json");
    let full = serde_json::json!({ "summary": output, "series": result.report.series, "latency_cdfs": result.report.latency_cdfs });
    std::fs::write(&summary_path, serde_json::to_string_pretty(&full).expect("serialises"))
        .map_err(|e| describe(&summary_path, e.to_string()))?;
    write_requests_csv(&dir.join("requests.csv"), &result.requests)?;
    for chart in servesim_charts::report_charts(Some(&result.report)).into_iter().filter(|chart| chart.is_shown()) {
        let path = dir.join(format!("{}.svg", chart.id));
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, (800, 400)).into_drawing_area();
            servesim_charts::draw_line_chart(&area, &chart.line_chart()).map_err(|e| describe(&path, e.to_string()))?;
        }
        std::fs::write(&path, svg).map_err(|e| describe(&path, e.to_string()))?;
    }
    Ok(())
}
