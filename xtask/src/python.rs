//! The Python package's tests: install `python/` the way the README tells a user to
//! (`pip install ./python`, which builds the abi3 wheel with maturin) into a virtual
//! environment kept beside the cargo target directory, then run pytest against it and the
//! CLI (for the tests that compare the two).

use std::path::{Path, PathBuf};

use crate::{Result, root, run, run_env, target_dir};

/// The suite's virtual environment (kept between runs, like the cargo builds).
fn venv() -> PathBuf {
    target_dir().join("python-venv")
}

/// A program of the virtual environment.
fn bin(name: &str) -> String {
    venv().join("bin").join(name).display().to_string()
}

/// `pip install -q ARGS` in the suite's environment, with `envs` set.
fn pip_install(args: &[&str], envs: &[(&str, &str)]) -> Result {
    let mut all = vec!["-m", "pip", "install", "-q"];
    all.extend_from_slice(args);
    run_env(&bin("python"), &all, envs)
}

/// `pip install ./python` into the suite's environment (created where missing, with pytest
/// and numpy), then pytest.
pub fn tests() -> Result {
    if !Path::new(&bin("python")).exists() {
        run("python3", &["-m", "venv", &venv().display().to_string()])?;
    }
    pip_install(&["--upgrade", "pip", "pytest", "numpy"], &[])?;
    // Reinstalled every run: the wheel must be the one this checkout builds.
    // Built under the suite's lint wrapper (maturin runs cargo): clippy lints the extension.
    pip_install(
        &["--force-reinstall", "--no-deps", "./python"],
        crate::lint_env(),
    )?;
    // The CLI, for the tests that compare Python's results and artifacts with it: the one
    // `cargo test` builds (nothing to do after the suite's test step). A plain `cargo build`
    // of the binary would resolve features without the tests' and rebuild burn.
    crate::workspace_tests(false)?;
    let cli = target_dir().join("debug").join("hapscope");
    let cli = cli.display().to_string();
    let tests = root().join("python").join("tests").display().to_string();
    // CI=true: a test that would skip for want of the CLI fails instead.
    run_env(
        &bin("python"),
        &["-m", "pytest", "-q", &tests],
        &[("HAPSCOPE_CLI", cli.as_str()), ("CI", "true")],
    )
}
