//! `cargo xtask cross-cpu [CPU…]`: the tests whose results could depend on the CPU, run on
//! other instruction sets under QEMU's user-mode emulation (Debian's `qemu-user`).
//!
//! The `gemm` crate and burn's CPU kernels pick SIMD paths and cache blocking at run time,
//! so a summation order — and the last bits of a float — can change from one CPU to
//! another. hapscope's decisions and links are computed canonically where that matters
//! (`hapscope_core::similarity`, `hapscope_core::hebbian`); this command shows it: the
//! kernel-agreement tests, and the page bundle's determinism and golden-file test (every
//! `hapscope` run of it under the same emulated CPU), pass on each CPU model given
//! (default: `Nehalem`, SSE4.2 only, and `Haswell`, AVX2 without AVX-512).

use crate::{Result, run, run_env};

/// CPU models checked when none is named.
pub const DEFAULT_CPUS: &[&str] = &["Nehalem", "Haswell"];

pub fn cross_cpu(cpus: &[&str]) -> Result {
    crate::install()?;
    crate::npm()?;
    if std::process::Command::new("qemu-x86_64")
        .arg("--version")
        .output()
        .is_err()
    {
        run("apt-get", &["install", "-y", "-q", "qemu-user"])?;
    }
    let cpus = if cpus.is_empty() { DEFAULT_CPUS } else { cpus };
    for cpu in cpus {
        let runner = format!("qemu-x86_64 -cpu {cpu}");
        let envs = [
            // cargo runs the test binaries under the runner…
            (
                "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER",
                runner.as_str(),
            ),
            // …and the page test runs the CLI it spawns under it too.
            ("HAPSCOPE_CLI_RUNNER", runner.as_str()),
        ];
        eprintln!("xtask: cross-cpu: {cpu}");
        run_env(
            "cargo",
            &[
                "test",
                "--package",
                "hapscope-tests",
                "--test",
                "integration",
                "kernels_agree",
            ],
            &envs,
        )?;
        run_env(
            "cargo",
            &["test", "--package", "hapscope-models", "--test", "page"],
            &envs,
        )?;
    }
    Ok(())
}
