//! `servesim`: the simulator's command-line interface.
//!
//! Subcommands: `run` simulates a scenario, `inspect` describes a trace file, `url` turns a
//! scenario file into a share-link fragment (or decodes one back) and `bench` times the
//! reference replay. Every error is one line on
//! stderr naming the file and the field or line; the exit code is then 2.
#![forbid(unsafe_code)]

mod bench;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use servesim_core::scenario::Scenario;
use servesim_core::share;
use servesim_core::workload::{parse_trace, TraceSummary};

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
        /// A Mooncake JSONL or Vidur CSV trace replacing the scenario's workload.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long, conflicts_with = "table")]
        json: bool,
        /// Print a table (the default).
        #[arg(long)]
        table: bool,
        /// Also write per-request records to this CSV file.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Also write summary.json, requests.csv and the charts as SVG into this directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Time the reference replay (Mooncake conversation trace, 8 Llama-3.1-8B H100 replicas,
    /// round-robin, prefix caching on) and a million generated requests on 64 replicas; print
    /// speed and memory per request as JSON. Fails if either run's results changed.
    Bench {
        /// Runs of the reference replay to take the median of.
        #[arg(long, default_value_t = 10)]
        repeat: usize,
        /// Runs of the million-request scenario to take the median of (0 skips it).
        #[arg(long, default_value_t = 3)]
        repeat_million: usize,
        /// Pin the million-request run's digest anew instead of checking it.
        #[arg(long)]
        update_golden: bool,
    },
    /// Describe a trace: format, requests, span, rate, length percentiles, prefix reuse.
    Inspect {
        /// A Mooncake JSONL or Vidur CSV trace.
        trace: PathBuf,
        /// Print the summary as one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
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
        Command::Run { scenario, trace, json, table: _, csv, out } => {
            let format = if json { run::Format::Json } else { run::Format::Table };
            run::run(&scenario, trace.as_deref(), format, csv.as_deref(), out.as_deref())
        }
        Command::Inspect { trace, json } => inspect(&trace, json),
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

fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    String::from_utf8(bytes).map_err(|error| {
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

fn inspect(path: &Path, json: bool) -> Result<(), String> {
    let text = read_text(path)?;
    let trace = parse_trace(&text, &mut |_| {}).map_err(|error| format!("{}: {error}", path.display()))?;
    let summary = TraceSummary::of(&trace).ok_or_else(|| format!("{}: no requests", path.display()))?;
    if json {
        println!("{}", serde_json::to_string(&summary).expect("a summary serialises"));
        return Ok(());
    }
    println!("file        {}", path.display());
    println!("format      {}", summary.format);
    println!("requests    {}", summary.num_requests);
    println!("span        {:.1} s", summary.span_s);
    match summary.mean_rate_per_s {
        Some(rate) => println!("mean rate   {rate:.3} req/s"),
        None => println!("mean rate   - (all requests arrive at once)"),
    }
    println!("tokens      {} prompt, {} output", summary.total_prompt_tokens, summary.total_output_tokens);
    println!("{:<11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}", "length", "mean", "p50", "p90", "p99", "min", "max");
    for (name, q) in [("prompt", &summary.prompt_tokens), ("output", &summary.output_tokens)] {
        println!("{name:<11} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9} {:>9}", q.mean, q.p50, q.p90, q.p99, q.min, q.max);
    }
    if let Some(reuse) = summary.ideal_block_reuse {
        println!("prefix reuse {:.1} % of blocks seen before (infinite cache)", reuse * 100.0);
    }
    println!("digest      {:016x}", summary.digest);
    Ok(())
}
