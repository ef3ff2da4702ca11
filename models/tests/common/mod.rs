//! What the CLI's integration tests share: running the `hapscope` binary.

// Each test binary uses its own subset.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::process::{Command, Output};

/// Runs the CLI with `args` — under `$HAPSCOPE_CLI_RUNNER` when set (e.g.
/// `qemu-x86_64 -cpu Nehalem`: `cargo xtask cross-cpu` runs the page test on another
/// instruction set that way).
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Output {
    let cli = env!("CARGO_BIN_EXE_hapscope");
    let runner = std::env::var("HAPSCOPE_CLI_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(cli);
            c
        }
        None => Command::new(cli),
    };
    cmd.args(args).output().expect("running hapscope")
}

/// [`run`], which must succeed; panics with the CLI's stderr otherwise.
pub fn hapscope<S: AsRef<OsStr>>(args: &[S]) {
    let out = run(args);
    assert!(
        out.status.success(),
        "hapscope {:?}: {}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
}
