//! `cargo xtask fuzz [--seconds N] [--target NAME]...`: runs each cargo-fuzz target of `fuzz/`
//! for a bounded time and prints how many inputs libFuzzer executed; and the `fuzz` layer of
//! `cargo xtask test`, which runs each target briefly and counts it as one test.
//!
//! The targets are built once, without a sanitizer (the code they reach is safe Rust, and
//! AddressSanitizer would cost about 4× the executions) but with debug assertions and overflow
//! checks, and with `RUSTC_BOOTSTRAP=1` because cargo-fuzz passes nightly-only flags and the
//! machine has a stable toolchain. libFuzzer adds the inputs it finds to
//! `fuzz/target/corpus/<target>/` (ignored by git, kept between runs) and reads the committed
//! seeds in `fuzz/corpus/<target>/` without writing to them; a crashing input is saved under
//! `fuzz/artifacts/<target>/`. See `docs/dev.md`, "Fuzzing".

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::tools::{run, step, Toolchain};

/// Every fuzz target in `fuzz/fuzz_targets/`, in the order they run.
pub const TARGETS: [&str; 7] = [
    "trace_import",
    "trace_import_mapped",
    "trace_gzip",
    "scenario_json",
    "share_link",
    "model_config",
    "benchmark_import",
];

/// Seconds per target for `cargo xtask fuzz` without `--seconds`.
const DEFAULT_SECONDS: u64 = 60;
/// Seconds per target in the `fuzz` layer of `cargo xtask test`.
pub const TEST_LAYER_SECONDS: u64 = 10;
/// An input running longer than this many seconds is reported as a hang (a crash).
const INPUT_TIMEOUT_S: u64 = 10;

/// What `cargo xtask fuzz` was asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct FuzzArgs {
    seconds: u64,
    targets: Vec<&'static str>,
}

/// Reads `[--seconds N] [--target NAME]...`.
///
/// # Errors
///
/// Names the argument that is wrong.
pub fn parse_args(args: &[String]) -> Result<FuzzArgs, String> {
    let mut parsed = FuzzArgs { seconds: DEFAULT_SECONDS, targets: Vec::new() };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = rest.next().ok_or("--seconds needs a number")?;
                parsed.seconds = value
                    .parse()
                    .ok()
                    .filter(|&seconds| seconds > 0)
                    .ok_or_else(|| format!("--seconds needs a whole number ≥ 1, got {value:?}"))?;
            }
            "--target" => {
                let name = rest.next().ok_or("--target needs a target name")?;
                let target = TARGETS
                    .into_iter()
                    .find(|target| target == name)
                    .ok_or_else(|| format!("unknown fuzz target {name:?}; targets are {}", TARGETS.join(", ")))?;
                parsed.targets.push(target);
            }
            other => return Err(format!("unknown argument {other:?}; use --seconds N and --target NAME")),
        }
    }
    if parsed.targets.is_empty() {
        parsed.targets = TARGETS.to_vec();
    }
    Ok(parsed)
}

/// How one target's run ended.
#[derive(Debug)]
pub struct TargetRun {
    /// The target's name.
    pub target: &'static str,
    /// Inputs libFuzzer executed, when it said.
    pub executions: Option<u64>,
    /// Whether it ran to its time limit without finding a crash, a hang or a leak.
    pub ok: bool,
    /// Wall-clock seconds the run took.
    pub seconds: f64,
}

/// `cargo xtask fuzz`: installs cargo-fuzz if missing, builds the targets, runs each for
/// `args.seconds` and prints a table of executions.
///
/// # Errors
///
/// Fails when installing or building fails or any target found a crash.
pub fn fuzz(args: FuzzArgs) -> Result<(), String> {
    let toolchain = Toolchain::paths_only()?;
    toolchain.ensure_cargo_fuzz()?;
    build(&toolchain)?;
    let runs: Vec<TargetRun> = args.targets.iter().map(|target| run_target(&toolchain, target, args.seconds)).collect();
    println!("\nfuzzing, {} s per target:", args.seconds);
    for run in &runs {
        println!("  {}", summary_line(run));
    }
    let failed: Vec<&str> = runs.iter().filter(|run| !run.ok).map(|run| run.target).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzz target(s) {} failed; the input is under fuzz/artifacts/<target>/ (replay it with \
             `RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a <target> <file>`)",
            failed.join(", ")
        ))
    }
}

/// The `fuzz` layer of `cargo xtask test`: each target for [`TEST_LAYER_SECONDS`]; returns
/// `(passed, failed)`, one per target, or one failure when installing or building fails.
pub fn test_layer() -> (u64, u64) {
    let prepared = Toolchain::paths_only().and_then(|toolchain| {
        toolchain.ensure_cargo_fuzz()?;
        build(&toolchain)?;
        Ok(toolchain)
    });
    let toolchain = match prepared {
        Ok(toolchain) => toolchain,
        Err(message) => {
            eprintln!("xtask: {message}");
            return (0, 1);
        }
    };
    let (mut passed, mut failed) = (0, 0);
    let mut lines = Vec::new();
    for target in TARGETS {
        let run = run_target(&toolchain, target, TEST_LAYER_SECONDS);
        lines.push(summary_line(&run));
        if run.ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!("\nfuzz layer, {TEST_LAYER_SECONDS} s per target:");
    for line in &lines {
        println!("  {line}");
    }
    (passed, failed)
}

fn summary_line(run: &TargetRun) -> String {
    let executions = run.executions.map_or_else(|| "?".to_owned(), group_thousands);
    let verdict = if run.ok { "ok" } else { "FAILED" };
    format!("{:<20} {verdict:<6} {executions:>13} executions in {:.0} s", run.target, run.seconds)
}

/// `cargo fuzz build` of every target, as the runs use them.
fn build(toolchain: &Toolchain) -> Result<(), String> {
    step("building the fuzz targets (cargo fuzz build -s none -a, RUSTC_BOOTSTRAP=1)");
    let started = Instant::now();
    let mut command = cargo_fuzz(toolchain, "build");
    run(&mut command, "cargo fuzz build -s none -a")?;
    println!("built in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `cargo fuzz <subcommand> -s none -a` with `RUSTC_BOOTSTRAP=1`.
fn cargo_fuzz(toolchain: &Toolchain, subcommand: &str) -> Command {
    let mut command = toolchain.command("cargo");
    command.args(["fuzz", subcommand, "--sanitizer", "none", "--debug-assertions"]).env("RUSTC_BOOTSTRAP", "1");
    command
}

/// Runs `target` for `seconds`, echoing libFuzzer's messages but not its per-input progress
/// lines, and reads the number of executions from its final statistics.
fn run_target(toolchain: &Toolchain, target: &'static str, seconds: u64) -> TargetRun {
    step(&format!("fuzzing {target} for {seconds} s"));
    let root = crate::repo_root();
    let work = root.join("fuzz/target/corpus").join(target);
    let seeds = root.join("fuzz/corpus").join(target);
    let started = Instant::now();
    let done = |executions, ok| TargetRun { target, executions, ok, seconds: started.elapsed().as_secs_f64() };
    if let Err(error) = std::fs::create_dir_all(&work) {
        eprintln!("xtask: cannot create {}: {error}", work.display());
        return done(None, false);
    }
    let mut command = cargo_fuzz(toolchain, "run");
    command
        .arg(target)
        .arg(&work)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_S}"))
        .arg("-print_final_stats=1")
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            eprintln!("xtask: cargo fuzz run {target}: cannot start: {error}");
            return done(None, false);
        }
    };
    let mut executions = None;
    for line in BufReader::new(child.stderr.take().expect("piped")).lines().map_while(Result::ok) {
        if let Some(count) = executed_units(&line) {
            executions = Some(count);
        }
        if !is_progress_line(&line) {
            eprintln!("{line}");
        }
    }
    let ok = child.wait().is_ok_and(|status| status.success());
    done(executions, ok)
}

/// The count on libFuzzer's `stat::number_of_executed_units: N` line, or on its `#N DONE` /
/// `#N pulse` / `#N NEW` progress lines (the last one seen wins).
fn executed_units(line: &str) -> Option<u64> {
    if let Some(count) = line.strip_prefix("stat::number_of_executed_units:") {
        return count.trim().parse().ok();
    }
    line.strip_prefix('#')?.split_whitespace().next()?.parse().ok()
}

/// libFuzzer's per-input progress (`#1234 NEW cov: …`), which would flood the output; the
/// `INITED` and `DONE` lines are kept.
fn is_progress_line(line: &str) -> bool {
    line.starts_with('#')
        && line.split_whitespace().next().is_some_and(|n| n[1..].bytes().all(|b| b.is_ascii_digit()))
        && !line.contains("INITED")
        && !line.contains("DONE")
}

/// `1234567` as `1,234,567`.
fn group_thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|&arg| arg.to_owned()).collect()
    }

    #[test]
    fn arguments_default_to_every_target_for_a_minute() {
        assert_eq!(parse_args(&[]).unwrap(), FuzzArgs { seconds: 60, targets: TARGETS.to_vec() });
        assert_eq!(
            parse_args(&strings(&["--seconds", "5", "--target", "share_link", "--target", "trace_gzip"])).unwrap(),
            FuzzArgs { seconds: 5, targets: vec!["share_link", "trace_gzip"] }
        );
        assert!(parse_args(&strings(&["--seconds", "0"])).is_err());
        assert!(parse_args(&strings(&["--target", "nope"])).unwrap_err().contains("trace_import"));
        assert!(parse_args(&strings(&["--runs", "3"])).is_err());
    }

    #[test]
    fn every_target_has_a_source_file_and_seeds() {
        let root = crate::repo_root().join("fuzz");
        for target in TARGETS {
            assert!(root.join(format!("fuzz_targets/{target}.rs")).is_file(), "{target}");
            let seeds = std::fs::read_dir(root.join("corpus").join(target)).map_or(0, Iterator::count);
            assert!(seeds > 0, "{target} has no seeds");
        }
    }

    #[test]
    fn reads_libfuzzers_execution_counts() {
        assert_eq!(executed_units("stat::number_of_executed_units: 219282"), Some(219_282));
        assert_eq!(
            executed_units("#219282\tDONE   cov: 3326 ft: 11804 corp: 2160/3208Kb lim: 4283 exec/s: 5348 rss: 37Mb"),
            Some(219_282)
        );
        assert_eq!(executed_units("stat::average_exec_per_sec:     5348"), None);
        assert_eq!(executed_units("INFO: Seed: 1234"), None);
        assert!(is_progress_line("#27\tNEW    cov: 2760 ft: 4692 corp: 24/18Kb lim: 4283 exec/s: 0 rss: 49Mb"));
        assert!(!is_progress_line("#19\tINITED cov: 2503 ft: 4212 corp: 18/12934b exec/s: 0 rss: 47Mb"));
        assert!(!is_progress_line("==1234== ERROR: libFuzzer: deadly signal"));
        assert_eq!(group_thousands(1_187_330), "1,187,330");
        assert_eq!(group_thousands(999), "999");
    }
}
