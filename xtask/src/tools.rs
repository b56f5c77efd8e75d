//! Installs what the build and the tests need, when it is missing, and checks versions.
//!
//! Each step first looks at what is there and skips the install when the right version is
//! found, so a second run installs nothing. Versions come from the repository: trunk is pinned
//! here (0.22 needs a newer rustc than the machine's), and so is cargo-fuzz (for `cargo xtask
//! fuzz` and the fuzz layer, installed only when they run), wasm-bindgen-cli must equal the
//! `wasm-bindgen` in `Cargo.lock`, and npm packages (binaryen's wasm-opt, playwright-core) come
//! from `package-lock.json` via `npm ci`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::repo_root;

/// The trunk release that builds with this machine's rustc 1.95 (see `docs/dev.md`).
pub const TRUNK_VERSION: &str = "0.21.14";
/// The cargo-fuzz release `cargo xtask fuzz` and the fuzz test layer use.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// The binaryen release whose `wasm-opt` produces a working app (Debian's 108 does not).
const WASM_OPT_VERSION: &str = "version 132";

/// What the caller is about to do, and so what must be installed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Build the release app: wasm32 target, trunk, wasm-bindgen-cli, npm packages.
    Build,
    /// Everything for `Build` plus Chromium and ChromeDriver for the browser tests.
    Test,
}

/// The tools, installed and on a `PATH` the commands below use.
pub struct Toolchain {
    path: OsString,
}

impl Toolchain {
    /// Installs what `needs` requires and is missing.
    ///
    /// # Errors
    ///
    /// Returns a message naming the step that failed (and the command to retry by hand).
    pub fn ensure(needs: Needs) -> Result<Toolchain, String> {
        let toolchain = Toolchain::paths_only()?;
        toolchain.ensure_wasm_target()?;
        toolchain.ensure_cargo_tool("trunk", TRUNK_VERSION, &["install", "--locked", "--debug", "trunk"])?;
        let wasm_bindgen = checked_wasm_bindgen_version()?;
        // No --locked: its lock file wants a webpki-roots the registry here does not have.
        toolchain.ensure_cargo_tool("wasm-bindgen", &wasm_bindgen, &["install", "wasm-bindgen-cli"])?;
        toolchain.ensure_npm_packages()?;
        if needs == Needs::Test {
            ensure_chromium()?;
        }
        Ok(toolchain)
    }

    /// The toolchain's `PATH` (`node_modules/.bin`, `$CARGO_HOME/bin`, then the inherited one),
    /// installing nothing.
    pub fn paths_only() -> Result<Toolchain, String> {
        let mut paths = vec![repo_root().join("node_modules/.bin"), cargo_home().join("bin")];
        paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        Ok(Toolchain { path: std::env::join_paths(paths).map_err(|e| e.to_string())? })
    }

    /// Installs cargo-fuzz [`CARGO_FUZZ_VERSION`] when `cargo-fuzz --version` says otherwise.
    pub fn ensure_cargo_fuzz(&self) -> Result<(), String> {
        self.ensure_cargo_tool("cargo-fuzz", CARGO_FUZZ_VERSION, &["install", "--locked", "cargo-fuzz"])
    }

    /// A command with this toolchain's `PATH`, run in the repository root.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(repo_root())
            .env("PATH", &self.path)
            .env("TRUNK_SKIP_VERSION_CHECK", "true")
            .env("CHROMEDRIVER", "/usr/bin/chromedriver");
        command
    }

    /// `trunk build --release` into `dist/`.
    pub fn build_release_app(&self) -> Result<(), String> {
        step("building the release app (trunk build --release)");
        run(self.command("trunk").args(["build", "--release"]), "trunk build --release")
    }

    fn version_of(&self, program: &str) -> Option<String> {
        let output = self.command(program).arg("--version").output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn ensure_wasm_target(&self) -> Result<(), String> {
        let output = self
            .command("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .map_err(|e| format!("cannot run rustup: {e}"))?;
        if String::from_utf8_lossy(&output.stdout).lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
            return Ok(());
        }
        step("installing the wasm32-unknown-unknown target");
        run(self.command("rustup").args(["target", "add", "wasm32-unknown-unknown"]), "rustup target add")
    }

    /// Makes `<program> --version` print `<program> <version>`, installing with cargo if not.
    fn ensure_cargo_tool(&self, program: &str, version: &str, install: &[&str]) -> Result<(), String> {
        let wanted = format!("{program} {version}");
        let found = self.version_of(program);
        if found.as_deref().is_some_and(|line| line.split_whitespace().take(2).eq(wanted.split_whitespace())) {
            return Ok(());
        }
        step(&format!(
            "installing {wanted} (found {}); this takes several minutes once",
            found.as_deref().unwrap_or("none")
        ));
        let mut command = self.command("cargo");
        command.args(install).args(["--version", version, "--force"]);
        run(&mut command, &format!("cargo {} --version {version}", install.join(" ")))?;
        match self.version_of(program) {
            Some(line) if line.split_whitespace().take(2).eq(wanted.split_whitespace()) => Ok(()),
            other => Err(format!(
                "installed {wanted} but `{program} --version` prints {other:?}; is another {program} \
                 earlier on PATH?"
            )),
        }
    }

    fn ensure_npm_packages(&self) -> Result<(), String> {
        let root = repo_root();
        let playwright_ok = read_json_version(&root.join("node_modules/playwright-core/package.json"))
            == locked_npm_version("playwright-core")?;
        let wasm_opt_ok = self.version_of("wasm-opt").is_some_and(|v| v.contains(WASM_OPT_VERSION))
            && root.join("node_modules/.bin/wasm-opt").exists();
        if playwright_ok && wasm_opt_ok {
            return Ok(());
        }
        step("installing npm packages (npm ci: binaryen's wasm-opt, playwright-core)");
        run(self.command("npm").args(["ci", "--no-audit", "--no-fund"]), "npm ci")?;
        match self.version_of("wasm-opt") {
            Some(version) if version.contains(WASM_OPT_VERSION) => Ok(()),
            other => Err(format!("wasm-opt should print {WASM_OPT_VERSION} after npm ci, got {other:?}")),
        }
    }
}

fn ensure_chromium() -> Result<(), String> {
    let present = |path: &str| Path::new(path).exists();
    if present("/usr/bin/chromium") && present("/usr/bin/chromedriver") {
        return Ok(());
    }
    step("installing Debian's chromium and chromium-driver (apt-get)");
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let sudo: &[&str] = if is_root { &[] } else { &["sudo", "-n"] };
    let apt = |args: &[&str]| {
        let all: Vec<&str> = sudo.iter().chain(["apt-get"].iter()).chain(args).copied().collect();
        let mut command = Command::new(all[0]);
        command.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut command, &all.join(" "))
    };
    apt(&["update"])?;
    apt(&["install", "-y", "--no-install-recommends", "chromium", "chromium-driver"])
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cargo"))
}

/// The version of `package` in `Cargo.lock`.
fn locked_version(package: &str) -> Result<String, String> {
    let lock =
        std::fs::read_to_string(repo_root().join("Cargo.lock")).map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock.find(&needle).ok_or_else(|| format!("Cargo.lock has no package {package}"))? + needle.len();
    Ok(lock[start..].split('"').next().unwrap_or_default().to_owned())
}

/// The `wasm-bindgen` version, after checking that `Cargo.lock` resolved exactly the one that
/// `Cargo.toml` pins (`wasm-bindgen = "=X"`): the CLI installed must match both.
fn checked_wasm_bindgen_version() -> Result<String, String> {
    let manifest =
        std::fs::read_to_string(repo_root().join("Cargo.toml")).map_err(|e| format!("cannot read Cargo.toml: {e}"))?;
    let pinned = manifest
        .split("wasm-bindgen = \"=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("Cargo.toml must pin wasm-bindgen exactly (wasm-bindgen = \"=X.Y.Z\")")?;
    let locked = locked_version("wasm-bindgen")?;
    if locked != pinned {
        return Err(format!(
            "Cargo.lock resolves wasm-bindgen {locked} but Cargo.toml pins ={pinned}; \
             run `cargo update -p wasm-bindgen` and commit Cargo.lock"
        ));
    }
    Ok(locked)
}

/// The version of an npm package in `package-lock.json`.
fn locked_npm_version(package: &str) -> Result<Option<String>, String> {
    let lock = std::fs::read_to_string(repo_root().join("package-lock.json"))
        .map_err(|e| format!("cannot read package-lock.json: {e}"))?;
    let needle = format!("\"node_modules/{package}\": {{");
    Ok(lock.find(&needle).and_then(|start| json_version(&lock[start..])))
}

fn read_json_version(path: &Path) -> Option<String> {
    json_version(&std::fs::read_to_string(path).ok()?)
}

/// The first `"version": "x"` value in a JSON text.
fn json_version(text: &str) -> Option<String> {
    let start = text.find("\"version\"")?;
    let after_colon = text[start + "\"version\"".len()..].trim_start().strip_prefix(':')?;
    Some(after_colon.trim_start().strip_prefix('"')?.split('"').next()?.to_owned())
}

/// Prints a step banner.
pub fn step(message: &str) {
    println!("\n==> {message}");
}

/// Runs `command` to completion, inheriting stdio.
pub fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_version_reads_the_first_version_field() {
        assert_eq!(
            json_version("{\"name\": \"x\", \"version\" : \"1.65.1\", \"version\": \"2\"}"),
            Some("1.65.1".into())
        );
        assert_eq!(json_version("{\"name\": \"x\"}"), None);
    }

    #[test]
    fn the_lock_file_resolves_the_wasm_bindgen_that_cargo_toml_pins() {
        let version = checked_wasm_bindgen_version().unwrap();
        assert!(version.starts_with("0.2."), "{version}");
    }
}
