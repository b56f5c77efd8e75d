//! `cargo xtask`: the project's two commands (and their helpers), with no dependencies.
//!
//! - `cargo xtask serve [--port N]` installs whatever is missing, builds the release app with
//!   trunk and serves `dist/` on 127.0.0.1 until Ctrl-C.
//! - `cargo xtask test [--only LAYER]...` installs whatever is missing (including Chromium and
//!   its driver) and runs every test layer: native `cargo test --workspace`, wasm32 tests in
//!   headless Chromium, the Playwright end-to-end suite against the release build, and each
//!   fuzz target briefly. It ends with one line `N passed, N failed` over all layers and exits
//!   non-zero on any failure.
//!
//! - `cargo xtask bench` runs the criterion benchmarks and times the reference replay next to
//!   NVIDIA's DynoSim (see `docs/performance.md`).
//! - `cargo xtask fuzz [--seconds N] [--target NAME]...` runs the cargo-fuzz targets of `fuzz/`
//!   for a bounded time each and prints how many inputs each executed.
//!
//! See `docs/dev.md` for what is installed, from where, and how long each step takes.
#![forbid(unsafe_code)]

mod bench;
mod fuzz;
mod layers;
mod server;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  serve [--port N]        build the release app and serve it on http://127.0.0.1:N/ (default 8080)
  test [--only LAYER]...  run every test layer (LAYER: native, wasm, e2e, fuzz); prints 'N passed, N failed'
  build                   build the release app into dist/ (what serve and test use)
  bench                   criterion benchmarks, the reference replay's speed and memory, and DynoSim side by side
  fuzz [--seconds N] [--target NAME]...
                          run each cargo-fuzz target for N s (default 60) and print its executions
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => parse_port(&args[1..]).and_then(serve),
        Some("test") => parse_layers(&args[1..]).and_then(layers::run_all),
        Some("bench") => bench::bench(),
        Some("fuzz") => fuzz::parse_args(&args[1..]).and_then(fuzz::fuzz),
        Some("build") => tools::Toolchain::ensure(tools::Needs::Build).and_then(|tc| tc.build_release_app()),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (the parent of `xtask/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}

fn parse_port(args: &[String]) -> Result<u16, String> {
    match args {
        [] => Ok(8080),
        [flag, value] if flag == "--port" => {
            value.parse().map_err(|_| format!("--port needs a number from 1 to 65535, got {value:?}"))
        }
        _ => Err(format!("serve takes only --port N, got {args:?}")),
    }
}

fn parse_layers(args: &[String]) -> Result<Vec<layers::Layer>, String> {
    if args.is_empty() {
        return Ok(layers::Layer::ALL.to_vec());
    }
    let mut chosen = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let name = match arg.as_str() {
            "--only" => rest.next().ok_or("--only needs a layer name")?,
            other => return Err(format!("unknown argument {other:?}; use --only native|wasm|e2e|fuzz")),
        };
        let layer = layers::Layer::ALL
            .into_iter()
            .find(|layer| layer.name() == name)
            .ok_or_else(|| format!("unknown layer {name:?}; layers are native, wasm, e2e, fuzz"))?;
        chosen.push(layer);
    }
    Ok(chosen)
}

fn serve(port: u16) -> Result<(), String> {
    let toolchain = tools::Toolchain::ensure(tools::Needs::Build)?;
    toolchain.build_release_app()?;
    let server = server::StaticServer::bind(repo_root().join("dist"), port)?;
    println!("\nservesim is running at {}  (Ctrl-C to stop)", server.url());
    server.serve_forever();
    Ok(())
}
