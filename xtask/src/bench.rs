//! `cargo xtask bench`: the criterion benchmarks, the reference replay's speed and memory, and
//! NVIDIA's DynoSim replaying the same trace on the same machine for comparison.

use std::process::Command;

use crate::repo_root;
use crate::tools::{run, step};

/// The DynoSim wheel DESIGN.md names for the side-by-side comparison.
const DYNAMO_WHEEL: &str = "ai-dynamo-runtime==1.6.1";

/// Runs the benchmarks and prints the comparison.
///
/// # Errors
///
/// Fails when a benchmark fails (including a changed result). DynoSim being unavailable is
/// reported, not fatal.
pub fn bench() -> Result<(), String> {
    let root = repo_root();
    step("criterion: cargo bench -p servesim-core --bench replay");
    run(
        Command::new("cargo").current_dir(&root).args(["bench", "-p", "servesim-core", "--bench", "replay"]),
        "cargo bench",
    )?;

    step("servesim bench: the reference replay, median of 10 runs");
    let output = Command::new("cargo")
        .current_dir(&root)
        .args(["run", "--quiet", "--release", "-p", "servesim-cli", "--", "bench"])
        .output()
        .map_err(|e| format!("cannot run servesim bench: {e}"))?;
    if !output.status.success() {
        return Err(format!("servesim bench failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let ours = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    println!("{ours}");
    let our_wall = json_number(&ours, "wall_s_median").ok_or("servesim bench printed no wall_s_median")?;
    let our_sim = json_number(&ours, "sim_s").ok_or("servesim bench printed no sim_s")?;

    step("DynoSim (ai-dynamo-runtime 1.6.1): the same trace, 8 workers, round_robin");
    match dynosim() {
        Ok(theirs) => {
            println!("{theirs}");
            let (Some(wall), Some(sim)) = (json_number(&theirs, "wall_s"), json_number(&theirs, "sim_s")) else {
                return Err(format!("unexpected DynoSim output: {theirs}"));
            };
            println!("\n{:<10} {:>12} {:>10} {:>16}", "", "simulated s", "wall s", "sim s per wall s");
            println!("{:<10} {:>12.1} {:>10.3} {:>16.0}", "servesim", our_sim, our_wall, our_sim / our_wall);
            println!("{:<10} {:>12.1} {:>10.3} {:>16.0}", "DynoSim", sim, wall, sim / wall);
            println!("servesim is {:.0}x faster in wall time on this machine", wall / our_wall);
        }
        Err(message) => println!("DynoSim unavailable: {message}"),
    }
    Ok(())
}

/// Installs DynoSim into `.venv-dynosim` when missing and runs the shared replay script.
fn dynosim() -> Result<String, String> {
    let root = repo_root();
    let venv = root.join(".venv-dynosim");
    let python = venv.join("bin/python");
    let script = root.join("../shared/tools/dynosim_replay.py");
    if !script.exists() {
        return Err(format!("{} is missing", script.display()));
    }
    let installed =
        Command::new(&python).args(["-c", "import dynamo._core"]).output().is_ok_and(|o| o.status.success());
    if !installed {
        step(&format!("installing {DYNAMO_WHEEL} into .venv-dynosim (once)"));
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv")?;
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", DYNAMO_WHEEL]), "pip install")?;
    }
    let output = Command::new(&python)
        .arg(&script)
        .arg(root.join("web/samples/mooncake-conversation.jsonl"))
        .args(["8", "round_robin"])
        .output()
        .map_err(|e| format!("cannot run DynoSim: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("failed").to_owned());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout.lines().last().map(str::to_owned).ok_or_else(|| "no output".to_owned())
}

/// The number after `"key":` in a one-line JSON object.
fn json_number(json: &str, key: &str) -> Option<f64> {
    let start = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_number_reads_a_field() {
        let json = r#"{"sim_s": 3542.9, "wall_s":5.08,"completed":12031}"#;
        assert_eq!(json_number(json, "wall_s"), Some(5.08));
        assert_eq!(json_number(json, "sim_s"), Some(3542.9));
        assert_eq!(json_number(json, "missing"), None);
    }
}
