//! The suite's doc tests, run only for the crates that hold runnable ones ([`DOC_TESTED`]).
//!
//! `cargo test --doc` over the whole workspace compiled every dependency a second time (burn
//! among them: 9.5 of a cold CI run's minutes on two cores, 2026-12-02) for the one doc test
//! the core has. So the doc tests run per crate, and a runnable example added to another
//! library fails the suite here, naming it, instead of silently never running.

use std::fs;
use std::path::Path;

use crate::{Result, lint_env, root, run_env};

/// The libraries whose doc comments hold runnable examples (`cargo test --doc -p …`).
const DOC_TESTED: &[&str] = &["hapscope-core"];
/// The workspace's other libraries (their sources), checked to hold none.
const UNTESTED: &[(&str, &str)] = &[
    ("hapscope-fast", "fast/src"),
    ("hapscope-models", "models/src"),
    ("hapscope-tests", "tests/src"),
];

/// Runs the doc tests of [`DOC_TESTED`] after checking that [`UNTESTED`] have none.
pub fn run_doc_tests() -> Result {
    let root = root();
    let mut found = Vec::new();
    for (krate, dir) in UNTESTED {
        runnable_examples(&root.join(dir), &mut found)?;
        if let Some(at) = found.first() {
            return Err(format!(
                "{at}: a runnable doc example in {krate}; add it to xtask's DOC_TESTED \
                 (or mark the fence `text` / `ignore`)"
            ));
        }
    }
    let mut args = vec!["test", "--doc"];
    for k in DOC_TESTED {
        args.extend(["--package", k]);
    }
    // Under the suite's lint wrapper, as its other builds: the core is compiled once.
    run_env("cargo", &args, lint_env())
}

/// `file:line` of each doc-comment code fence under `dir` that rustdoc would compile: one
/// opened by a bare fence or one whose first word is `rust`, `no_run`, `should_panic`,
/// `compile_fail` or an `edition`.
fn runnable_examples(dir: &Path, out: &mut Vec<String>) -> Result {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(io)?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            runnable_examples(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let mut open = false;
            for (i, line) in text.lines().enumerate() {
                let Some(doc) = doc_text(line) else { continue };
                let Some(info) = doc.trim_start().strip_prefix("```") else {
                    continue;
                };
                if !open && compiles(info) {
                    out.push(format!("{}:{}", p.display(), i + 1));
                }
                open = !open;
            }
        }
    }
    Ok(())
}

/// The text of a doc comment line (`///` or `//!`), if it is one.
fn doc_text(line: &str) -> Option<&str> {
    let t = line.trim_start();
    t.strip_prefix("///").or_else(|| t.strip_prefix("//!"))
}

/// Whether rustdoc compiles a block opened with this info string.
fn compiles(info: &str) -> bool {
    let first = info
        .split([',', ' '])
        .map(str::trim)
        .find(|w| !w.is_empty())
        .unwrap_or("");
    first.is_empty()
        || ["rust", "no_run", "should_panic", "compile_fail"].contains(&first)
        || first.starts_with("edition")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_rustdoc_compiles_are_found_and_others_are_not() {
        for info in [
            "",
            "rust",
            "no_run",
            "should_panic",
            "compile_fail",
            "edition2021",
            " rust,no_run",
        ] {
            assert!(compiles(info), "{info:?}");
        }
        for info in ["text", "ignore", "sh", "json", "text,rust"] {
            assert!(!compiles(info), "{info:?}");
        }
        assert_eq!(doc_text("    /// ```rust"), Some(" ```rust"));
        assert_eq!(doc_text("//! x"), Some(" x"));
        assert_eq!(doc_text("// ```"), None);
    }

    #[test]
    fn the_untested_libraries_hold_no_runnable_example_and_the_core_one() {
        let mut found = Vec::new();
        for (_, dir) in UNTESTED {
            runnable_examples(&root().join(dir), &mut found).unwrap();
        }
        assert!(found.is_empty(), "{found:?}");
        runnable_examples(&root().join("core/src"), &mut found).unwrap();
        assert_eq!(
            found.len(),
            1,
            "the core's one doc test (lib.rs): {found:?}"
        );
    }
}
