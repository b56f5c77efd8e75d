//! `servesim`: the simulator's command-line interface.
//!
//! Subcommands: `run` simulates a scenario, `inspect` describes a trace file, `model` prints
//! a model's sizes and step times on a GPU, `calibrate` fits the performance model to a
//! benchmark result, `url` turns a scenario file into a share-link fragment (or decodes one
//! back) and `bench` times the reference replay. Every error is one line on
//! stderr naming the file and the field or line; the exit code is then 2.
#![forbid(unsafe_code)]

mod bench;
mod model;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use servesim_core::scenario::Scenario;
use servesim_core::share;
use servesim_core::workload::{
    import_bytes, ColumnMapping, ImportOptions, ImportReport, TimeUnit, TraceSummary, MAX_SKIPPED_EXAMPLES,
};

#[derive(Parser)]
#[command(name = "servesim", version, about = "LLM-inference serving simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and print its summary (a table, or JSON with --json).
    ///
    /// The scenario's workload (a bundled sample or a generator) is used unless --trace gives a
    /// file; a scenario whose workload is a user's file needs --trace. Everything but
    /// `wall_time_s` is identical across runs, machines and targets.
    Run {
        /// The scenario JSON file (see docs/scenario.md).
        scenario: PathBuf,
        /// A trace file (any supported format, gzip too; see docs/traces.md) replacing the
        /// scenario's sample or file. The scenario's `workload.arrivals`, `num_requests` and
        /// `transform` still apply.
        #[arg(long)]
        trace: Option<PathBuf>,
        #[command(flatten)]
        import: ImportFlags,
        /// Print one JSON object instead of a table.
        #[arg(long, conflicts_with = "table")]
        json: bool,
        /// Print a table (the default).
        #[arg(long)]
        table: bool,
        /// Also write per-request records to this CSV file (a disaggregated run adds each request's
        /// decode replica, prefill end, KV reservation and arrival, and KV bytes).
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Also write summary.json, requests.csv and the charts as SVG into this directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Time the reference replay (Mooncake conversation trace, 8 Llama-3.1-8B H100 replicas,
    /// round-robin, prefix caching on), the same replay with EAGLE speculative decoding, the same
    /// trace disaggregated on 4 prefill + 4 decode replicas, and a million generated requests on
    /// 64 replicas; print speed, memory per request and the prefix hit rates of round-robin and
    /// KV-aware routing (replicas sized like DynoSim's mocker) as JSON. Fails if any run's
    /// results changed, the speculative replay runs below 10,000× real time or the
    /// disaggregated one below 20,000×.
    Bench {
        /// Runs of the reference replay to take the median of.
        #[arg(long, default_value_t = 10)]
        repeat: usize,
        /// Runs of the million-request scenario to take the median of (0 skips it).
        #[arg(long, default_value_t = 3)]
        repeat_million: usize,
        /// Pin the million-request and speculative runs' digests anew instead of checking them.
        #[arg(long)]
        update_golden: bool,
    },
    /// Describe a trace: what was detected (format, columns, rows read and skipped), span,
    /// rate and burstiness, length percentiles and histograms, sessions, classes, prefix
    /// reuse. Stops at the first bad row (exit code 2) unless --skip-bad-rows.
    Inspect {
        /// A trace file in any supported format, plain or gzip.
        trace: PathBuf,
        /// Print the summary as one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        import: ImportFlags,
    },
    /// Print a model's sizes and step times on a GPU: parameters, weights per GPU, KV bytes per
    /// token and capacity, one prefill and one decode step. Sizes are printed whether or not the
    /// model fits (exit 0); an invalid combination, such as FP4 on Hopper, is an error (exit 2).
    Model(model::ModelArgs),
    /// Fit the performance model (compute, memory and overhead factors) to a benchmark result,
    /// replaying every row with its own load, and print each row's error before and after.
    Calibrate(model::CalibrateArgs),
    /// Print a scenario's share-link fragment (`s=1.…`), or decode one with --decode.
    Url {
        /// The scenario JSON file to encode.
        #[arg(required_unless_present = "decode")]
        scenario: Option<PathBuf>,
        /// A share link or fragment to decode; prints the scenario's canonical JSON.
        #[arg(long, conflicts_with = "scenario")]
        decode: Option<String>,
    },
}

/// How to read a trace file: skip bad rows, and a column mapping for files whose format is not
/// detected. Given on the command line, these replace the scenario's `workload.columns` and
/// `workload.skip_bad_rows`.
#[derive(Args, Debug, Default)]
struct ImportFlags {
    /// Skip malformed rows (counted, the first few shown) instead of stopping at the first.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Read the file through a column mapping: the prompt-token column (or JSON key).
    #[arg(long, value_name = "COLUMN", requires = "output_column")]
    prompt_column: Option<String>,
    /// The output-token column of a mapped file.
    #[arg(long, value_name = "COLUMN", requires = "prompt_column")]
    output_column: Option<String>,
    /// The arrival-time column of a mapped file (none: a length-only file).
    #[arg(long, value_name = "COLUMN", requires = "prompt_column")]
    arrival_column: Option<String>,
    /// The unit of the arrival column: s, ms, us, ns or datetime.
    #[arg(long, value_name = "UNIT", default_value = "s", value_parser = parse_time_unit)]
    arrival_unit: TimeUnit,
    /// The session (conversation) id column of a mapped file.
    #[arg(long, value_name = "COLUMN", requires = "prompt_column")]
    session_column: Option<String>,
    /// The tenant / class column of a mapped file.
    #[arg(long, value_name = "COLUMN", requires = "prompt_column")]
    class_column: Option<String>,
}

fn parse_time_unit(text: &str) -> Result<TimeUnit, String> {
    TimeUnit::from_symbol(text).ok_or_else(|| format!("expected s, ms, us, ns or datetime, got \"{text}\""))
}

impl ImportFlags {
    /// The mapping the flags give, if any.
    fn mapping(&self) -> Option<ColumnMapping> {
        let (prompt, output) = (self.prompt_column.clone()?, self.output_column.clone()?);
        Some(ColumnMapping {
            arrival: self.arrival_column.clone(),
            arrival_unit: self.arrival_unit,
            prompt_tokens: prompt,
            output_tokens: output,
            session: self.session_column.clone(),
            class: self.class_column.clone(),
        })
    }

    /// The scenario's import options with these flags applied over them.
    fn over(&self, options: ImportOptions) -> ImportOptions {
        ImportOptions {
            columns: self.mapping().or(options.columns),
            skip_bad_rows: self.skip_bad_rows || options.skip_bad_rows,
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("servesim: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Run { scenario, trace, import, json, table: _, csv, out } => {
            let format = if json { run::Format::Json } else { run::Format::Table };
            run::run(&scenario, trace.as_deref(), &import, format, csv.as_deref(), out.as_deref())
        }
        Command::Inspect { trace, json, import } => inspect(&trace, json, &import),
        Command::Model(args) => model::model(&args),
        Command::Calibrate(args) => model::calibrate(&args),
        Command::Bench { repeat, repeat_million, update_golden } => bench::bench(repeat, repeat_million, update_golden),
        Command::Url { scenario: Some(path), .. } => {
            let scenario = read_scenario(&path)?;
            println!("{}", share::encode_fragment(&scenario));
            Ok(())
        }
        Command::Url { decode: Some(link), .. } => {
            let fragment = link.split_once('#').map_or(link.as_str(), |(_, fragment)| fragment);
            let scenario = share::decode_fragment(fragment).map_err(|error| error.to_string())?;
            println!("{}", scenario.to_canonical_json());
            Ok(())
        }
        Command::Url { .. } => unreachable!("clap requires a scenario or --decode"),
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))
}

fn read_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read_bytes(path)?).map_err(|error| {
        format!("{}: not UTF-8 text (invalid byte at offset {})", path.display(), error.utf8_error().valid_up_to())
    })
}

fn read_scenario(path: &Path) -> Result<Scenario, String> {
    let scenario = Scenario::from_json(&read_text(path)?).map_err(|error| format!("{}: {error}", path.display()))?;
    scenario.validate().map_err(|problems| {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        format!("{}: {}", path.display(), list.join("; "))
    })?;
    Ok(scenario)
}

/// What `inspect --json` prints: the summary's keys, and what the import found.
#[derive(Serialize)]
struct InspectOutput<'a> {
    #[serde(flatten)]
    summary: &'a TraceSummary,
    import: &'a ImportReport,
}

fn inspect(path: &Path, json: bool, flags: &ImportFlags) -> Result<(), String> {
    let bytes = read_bytes(path)?;
    let imported = import_bytes(&bytes, flags.over(ImportOptions::default()), &mut |_| {})
        .map_err(|error| format!("{}: {error}", path.display()))?;
    let summary = TraceSummary::of(&imported.trace).ok_or_else(|| format!("{}: no requests", path.display()))?;
    let report = &imported.report;
    if json {
        let output = InspectOutput { summary: &summary, import: report };
        println!("{}", serde_json::to_string(&output).expect("a summary serialises"));
        return Ok(());
    }
    println!("file        {}{}", path.display(), if report.gzip { " (gzip)" } else { "" });
    println!("format      {}", summary.format);
    let columns: Vec<String> = report
        .columns
        .iter()
        .map(|c| match c.unit {
            Some(unit) => format!("{} ← {} ({})", c.role, c.source, unit.symbol()),
            None => format!("{} ← {}", c.role, c.source),
        })
        .collect();
    println!("columns     {}", columns.join(", "));
    println!(
        "rows        {} read, {} requests, {} skipped, {} failed requests left out",
        report.rows_read, summary.num_requests, report.rows_skipped, report.failed_requests_left_out
    );
    for example in report.skipped_examples.iter().take(MAX_SKIPPED_EXAMPLES) {
        println!("  skipped   {example}");
    }
    for notice in &report.notices {
        println!("notice      {notice}");
    }
    if summary.has_arrivals {
        println!("span        {:.1} s", summary.span_s);
        match summary.mean_rate_per_s {
            Some(rate) => println!("mean rate   {rate:.3} req/s (peak {:.3})", summary.peak_rate_per_s.unwrap_or(0.0)),
            None => println!("mean rate   - (all requests arrive at once)"),
        }
        if let Some(cv) = summary.gap_cv {
            println!("burstiness  {cv:.2} (CV of the gaps between arrivals; Poisson is 1)");
        }
    } else {
        println!("arrivals    none (a length-only file: give it workload.arrivals to run it)");
    }
    if summary.num_chained_requests > 0 {
        println!("chained     {} requests wait for another to end", summary.num_chained_requests);
    }
    println!("tokens      {} prompt, {} output", summary.total_prompt_tokens, summary.total_output_tokens);
    println!("{:<11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}", "length", "mean", "p50", "p90", "p99", "min", "max");
    for (name, q) in [("prompt", &summary.prompt_tokens), ("output", &summary.output_tokens)] {
        println!("{name:<11} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9} {:>9}", q.mean, q.p50, q.p90, q.p99, q.min, q.max);
    }
    if let (Some(sessions), Some(turns)) = (summary.num_sessions, &summary.turns_per_session) {
        println!("sessions    {sessions}, turns per session mean {:.2}, max {}", turns.mean, turns.max);
    }
    for class in &summary.classes {
        println!("class       {}: {} requests", class.name, class.num_requests);
    }
    if let Some(reuse) = summary.ideal_block_reuse {
        println!("prefix reuse {:.1} % of blocks seen before (infinite cache)", reuse * 100.0);
    }
    println!("digest      {:016x}", summary.digest);
    Ok(())
}
