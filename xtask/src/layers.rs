//! The test layers of `cargo xtask test` and the one closing tally over all of them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::repo_root;
use crate::server::StaticServer;
use crate::tools::{step, Needs, Toolchain};

/// One layer of tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// `cargo test --workspace` on the host.
    Native,
    /// wasm-bindgen tests compiled for wasm32 and run in headless Chromium.
    Wasm,
    /// Playwright specs (node's test runner) against the release build in Chromium.
    E2e,
    /// Each cargo-fuzz target for a few seconds, one test per target.
    Fuzz,
}

impl Layer {
    /// Every layer, in the order they run.
    pub const ALL: [Layer; 4] = [Layer::Native, Layer::Wasm, Layer::E2e, Layer::Fuzz];

    /// The name used with `--only`.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Native => "native",
            Layer::Wasm => "wasm",
            Layer::E2e => "e2e",
            Layer::Fuzz => "fuzz",
        }
    }
}

/// Passed and failed test counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
    }
}

/// Runs `layers` in order (all of them even when one fails) and prints the closing tally.
///
/// # Errors
///
/// Returns an error when installing fails or any test failed.
pub fn run_all(layers: Vec<Layer>) -> Result<(), String> {
    let toolchain = Toolchain::ensure(Needs::Test)?;
    let mut total = Tally::default();
    let mut timings = Vec::new();
    for layer in layers {
        let started = Instant::now();
        let tally = run_layer(&toolchain, layer);
        timings.push(format!(
            "{} {:.0} s: {} passed, {} failed",
            layer.name(),
            started.elapsed().as_secs_f64(),
            tally.passed,
            tally.failed
        ));
        total.add(tally);
    }
    println!("\nlayers:");
    for line in &timings {
        println!("  {line}");
    }
    println!("{} passed, {} failed", total.passed, total.failed);
    if total.failed > 0 {
        Err(format!("{} test(s) failed", total.failed))
    } else if total.passed == 0 {
        Err("no test ran".to_owned())
    } else {
        Ok(())
    }
}

/// Runs one layer. A layer whose commands fail without reporting a failed test (a build error,
/// a crash) counts as one failure, so it can never pass silently.
fn run_layer(toolchain: &Toolchain, layer: Layer) -> Tally {
    let mut tally = Tally::default();
    let mut commands_ok = true;
    let mut run = |command: &mut Command, what: &str| {
        step(what);
        let (counted, ok) = run_counting(command, what);
        tally.add(counted);
        commands_ok &= ok;
    };
    match layer {
        Layer::Native => run(
            toolchain.command("cargo").args(["test", "--workspace", "--no-fail-fast"]),
            "native: cargo test --workspace --no-fail-fast",
        ),
        Layer::Wasm => {
            run(
                toolchain.command("cargo").args([
                    "test",
                    "--target",
                    "wasm32-unknown-unknown",
                    "-p",
                    "servesim-app",
                    "--test",
                    "cross_target",
                    "--test",
                    "web",
                ]),
                "wasm32 in headless Chromium: servesim-app --test cross_target --test web",
            );
        }
        Layer::E2e => match build_cli(toolchain)
            .and_then(|()| toolchain.build_release_app())
            .and_then(|()| StaticServer::bind(repo_root().join("dist"), 0))
        {
            Ok(server) => {
                let url = server.spawn();
                run(
                    toolchain
                        .command("node")
                        .args(["--test", "--test-reporter=tap", "--test-concurrency=1", "tests/e2e/"])
                        .env("BASE_URL", &url)
                        .env("SERVESIM_BIN", repo_root().join("target/release/servesim")),
                    &format!("end-to-end: Playwright in Chromium against {url}"),
                );
            }
            Err(message) => {
                eprintln!("xtask: {message}");
                commands_ok = false;
            }
        },
        Layer::Fuzz => {
            step(&format!(
                "fuzz: each target for {} s (cargo fuzz run -s none -a, RUSTC_BOOTSTRAP=1)",
                crate::fuzz::TEST_LAYER_SECONDS
            ));
            let (passed, failed) = crate::fuzz::test_layer();
            tally.add(Tally { passed, failed });
        }
    }
    if !commands_ok && tally.failed == 0 {
        tally.failed = 1;
    }
    tally
}

/// Builds the release CLI, which the end-to-end specs compare the page's numbers with.
fn build_cli(toolchain: &Toolchain) -> Result<(), String> {
    step("building the release CLI (the e2e specs compare the page with servesim run)");
    crate::tools::run(
        toolchain.command("cargo").args(["build", "--release", "-p", "servesim-cli"]),
        "cargo build --release -p servesim-cli",
    )
}

/// Runs `command`, echoing its stdout while counting test results, and reports whether it
/// exited successfully.
fn run_counting(command: &mut Command, what: &str) -> (Tally, bool) {
    let mut child = match command.stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(error) => {
            eprintln!("xtask: {what}: cannot start: {error}");
            return (Tally::default(), false);
        }
    };
    let mut tally = Tally::default();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines().map_while(Result::ok) {
        println!("{line}");
        tally.add(count_line(&line));
    }
    let ok = child.wait().is_ok_and(|status| status.success());
    (tally, ok)
}

/// Test counts on one output line: cargo's and wasm-bindgen-test's `test result: … N passed;
/// N failed`, or node's TAP summary `# pass N` / `# fail N`.
fn count_line(line: &str) -> Tally {
    let number_before = |text: &str, word: &str| -> u64 {
        text.split(';')
            .find_map(|part| part.trim().strip_suffix(word)?.trim().rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    if let Some(result) = line.trim_start().strip_prefix("test result:") {
        return Tally { passed: number_before(result, "passed"), failed: number_before(result, "failed") };
    }
    let tap_count = |prefix: &str| line.strip_prefix(prefix).and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    Tally { passed: tap_count("# pass "), failed: tap_count("# fail ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cargo_wasm_bindgen_and_tap_summaries() {
        assert_eq!(
            count_line(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Tally { passed: 12, failed: 0 }
        );
        assert_eq!(count_line("test result: FAILED. 3 passed; 2 failed; 0 ignored"), Tally { passed: 3, failed: 2 });
        assert_eq!(count_line("# pass 5"), Tally { passed: 5, failed: 0 });
        assert_eq!(count_line("# fail 1"), Tally { passed: 0, failed: 1 });
        assert_eq!(count_line("ok 1 - page loads # pass"), Tally::default());
        assert_eq!(count_line("running 3 tests"), Tally::default());
    }
}
