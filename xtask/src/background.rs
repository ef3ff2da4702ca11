//! Work the suite runs beside its main line: a child process in its own process group, its
//! output in a log, waited for where its result is needed and stopped if the suite fails
//! first. Used for the test runner's install (`crate::dist::TestRunner`, at the lowest
//! priority) and the CPU engine's wasm-opt (`crate::wasm_opt`: one thread, beside the
//! suite's next builds). Not for the page's cargo builds: run beside the native half they
//! made a cold suite slower on two cores, not faster (BENCHMARKS.md, 2026-12-03 night) — both
//! cores are busy already, and two builds at once only share them.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Instant;

use crate::Result;
use crate::dist::io;

/// A started background command: [`Background::start`], then [`Background::finish`].
pub struct Background {
    /// `None` once waited for (so that [`Drop`] never signals a reused process group).
    child: Option<Child>,
    /// What it is, for the messages.
    what: String,
    log: PathBuf,
    started: Instant,
}

impl Background {
    /// Starts `program args` in the repository root (at the lowest priority, `nice -n 19`,
    /// if `low`), its stdout and stderr in `log`.
    pub fn start(
        what: &str,
        program: &str,
        args: &[&str],
        low: bool,
        log: PathBuf,
    ) -> Result<Self> {
        let out = fs::File::create(&log).map_err(io(&log))?;
        let err = out.try_clone().map_err(io(&log))?;
        let nice = if low { "nice -n 19 " } else { "" };
        eprintln!(
            "xtask: $ {nice}{program} {}  ({what}, in the background, log {})",
            args.join(" "),
            log.display()
        );
        let mut cmd = if low {
            let mut c = Command::new("nice");
            c.args(["-n", "19", program]);
            c
        } else {
            Command::new(program)
        };
        let child = cmd
            .args(args)
            .current_dir(crate::root())
            // Its own process group, so that [`Drop`] stops cargo's compilers with it.
            .process_group(0)
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("could not start {program} ({what}): {e}"))?;
        Ok(Background {
            child: Some(child),
            what: what.to_string(),
            log,
            started: Instant::now(),
        })
    }

    /// Waits for it: prints the time since its start, or returns an error holding the log's
    /// last lines.
    pub fn finish(mut self) -> Result {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        eprintln!("xtask: waiting for {}", self.what);
        let status = child.wait().map_err(|e| format!("{}: {e}", self.what))?;
        if status.success() {
            eprintln!(
                "xtask: {} done, {:.0} s after its start (log {})",
                self.what,
                self.started.elapsed().as_secs_f64(),
                self.log.display()
            );
            return Ok(());
        }
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        // Enough for a compile error with its context.
        let tail = &lines[lines.len().saturating_sub(60)..];
        Err(format!(
            "{} failed ({status}); the end of {}:\n{}",
            self.what,
            self.log.display(),
            tail.join("\n")
        ))
    }
}

/// A suite that fails before [`Background::finish`] stops the command rather than leave it
/// running after xtask exits.
impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `--`: procps-ng's kill reads a bare `-PID` after the signal as an option and
            // signals nothing (found by the test below).
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "xtask-background-{}-{name}.log",
            std::process::id()
        ))
    }

    #[test]
    fn a_finished_command_is_ok_and_a_failed_one_returns_its_output() {
        let ok = Background::start(
            "ok",
            "sh",
            &["-c", "echo one; echo two >&2"],
            false,
            log("ok"),
        );
        assert_eq!(ok.unwrap().finish(), Ok(()));
        // The log holds both streams.
        let text = fs::read_to_string(log("ok")).unwrap();
        assert_eq!(text.lines().collect::<Vec<_>>(), ["one", "two"]);

        let failed =
            Background::start("doomed", "sh", &["-c", "echo why; exit 3"], true, log("no"));
        let err = failed.unwrap().finish().unwrap_err();
        assert!(err.starts_with("doomed failed (exit status: 3)"), "{err}");
        assert!(err.ends_with("why"), "{err}");
    }

    #[test]
    fn a_command_dropped_unfinished_is_stopped_with_its_children() {
        let marker = log("marker");
        let _ = fs::remove_file(&marker);
        // A grandchild that would write the marker a second from now, unless stopped.
        let script = format!("(sleep 1; touch {}) & wait", marker.display());
        let b = Background::start("dropped", "sh", &["-c", &script], false, log("drop"));
        drop(b.unwrap());
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert!(
            !marker.exists(),
            "the background command's child outlived the drop"
        );
    }
}
