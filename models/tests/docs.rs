//! The documents a user reads stay true: they live in the repository (not in `../shared`,
//! which a clone does not have), their relative links resolve, and the sample output the
//! README shows for `hapscope library` is what the CLI prints on the committed fixture
//! (`tests/fixtures/library`, timings aside).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Relative link targets `](target)` of a Markdown text (no scheme, no pure anchors).
fn relative_links(md: &str) -> Vec<String> {
    md.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|t| t.split('#').next().unwrap_or("").trim().to_string())
        .filter(|t| !t.is_empty() && !t.contains("://") && !t.starts_with("mailto:"))
        .collect()
}

#[test]
fn documents_point_inside_the_repository_and_their_links_resolve() {
    let docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| format!("docs/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    assert!(docs.iter().any(|d| d == "docs/method.md"), "{docs:?}");
    let readme = read("README.md");
    assert!(
        readme.contains("(docs/method.md)"),
        "the README links the method's documentation"
    );
    let mut checked = 0;
    for doc in ["README.md", "REPORT.md", "BENCHMARKS.md"]
        .iter()
        .map(|s| s.to_string())
        .chain(docs)
    {
        let text = read(&doc);
        assert!(
            !text.contains("../shared/DESIGN.md"),
            "{doc} sends readers to ../shared/DESIGN.md, which a clone does not have"
        );
        let base = root().join(&doc);
        let dir = base.parent().unwrap();
        for link in relative_links(&text) {
            assert!(
                dir.join(&link).exists(),
                "{doc}: the link to {link} does not resolve"
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "only {checked} links checked");
}

#[test]
fn readme_library_sample_is_what_the_cli_prints() {
    let readme = read("README.md");
    let sample: Vec<&str> = readme
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("library    θ") || l.starts_with("agreement  top-1"))
        .collect();
    assert_eq!(sample.len(), 2, "the README's sample output: {sample:?}");
    let f = |n: &str| root().join("tests/fixtures/library").join(n);
    let out = Command::new(env!("CARGO_BIN_EXE_hapscope"))
        .arg("library")
        .arg("--train-haps")
        .arg(f("train_haps.npy"))
        .arg("--train-answers")
        .arg(f("train_answers.npy"))
        .arg("--test-haps")
        .arg(f("test_haps.npy"))
        .arg("--test-answers")
        .arg(f("test_answers.npy"))
        .args(["--theta", "0.8"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in sample {
        assert!(
            stdout.lines().any(|l| l.trim() == line),
            "the README shows\n  {line}\nthe CLI prints\n{stdout}"
        );
    }
    // The third line is the timings, whose numbers vary.
    assert!(stdout.lines().any(|l| l.starts_with("timings")), "{stdout}");
}

#[test]
fn cli_help_names_the_networks_it_has() {
    for cmd in ["attack", "eval", "haps", "reproduce"] {
        let out = Command::new(env!("CARGO_BIN_EXE_hapscope"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            !help.contains("so far"),
            "`hapscope {cmd} --help` is stale:\n{help}"
        );
    }
}
