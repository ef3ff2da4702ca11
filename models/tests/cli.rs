//! End-to-end tests of the `hapscope` binary: golden results against an independent
//! NumPy implementation, and one clear error (exit status 2, no panic) per kind of bad input.
//!
//! The golden files in `tests/fixtures/library/` (repository root) come from
//! `python3 tests/fixtures/library/make_fixture.py`, a float64 NumPy implementation of the
//! method; it picks data whose every decision has a margin far above f32 rounding.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hapscope_models::data::npy::{write_ints, write_matrix};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/library")
        .join(name)
}

fn hapscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hapscope"))
        .args(args)
        .output()
        .expect("running hapscope")
}

fn library_args<'a>(
    t: &'a str,
    a: &'a str,
    u: &'a str,
    b: &'a str,
    theta: &'a str,
) -> Vec<&'a str> {
    vec![
        "library",
        "--train-haps",
        t,
        "--train-answers",
        a,
        "--test-haps",
        u,
        "--test-answers",
        b,
        "--theta",
        theta,
    ]
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn library_matches_numpy_reference() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for run in expected["runs"].as_array().unwrap() {
        let theta = run["theta"].as_f64().unwrap().to_string();
        let json = dir.path().join(format!("out-{theta}.json"));
        let (t, a, u, b) = (
            fixture("train_haps.npy"),
            fixture("train_answers.npy"),
            fixture("test_haps.npy"),
            fixture("test_answers.npy"),
        );
        let mut args = library_args(p(&t), p(&a), p(&u), p(&b), &theta);
        args.extend(["--json", p(&json)]);
        let out = hapscope(&args);
        assert!(
            out.status.success(),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("-> {} nodes", run["size"])),
            "{stdout}"
        );
        let got: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        for key in ["size", "node_ids", "predictions"] {
            assert_eq!(got[key], run[key], "θ={theta}: {key}");
        }
        for key in ["top1", "top3"] {
            let (g, e) = (got[key].as_f64().unwrap(), run[key].as_f64().unwrap());
            assert!((g - e).abs() < 1e-12, "θ={theta}: {key} {g} vs {e}");
        }
    }
}

#[test]
fn sweep_prints_a_table_and_writes_svg() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("s.svg");
    let json = dir.path().join("s.json");
    let (t, a, u, b) = (
        fixture("train_haps.npy"),
        fixture("train_answers.npy"),
        fixture("test_haps.npy"),
        fixture("test_answers.npy"),
    );
    let out = hapscope(&[
        "sweep",
        "--train-haps",
        p(&t),
        "--train-answers",
        p(&a),
        "--test-haps",
        p(&u),
        "--test-answers",
        p(&b),
        "--theta",
        "0.4:0.9:0.1",
        "--plot",
        p(&svg),
        "--json",
        p(&json),
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("| 0.")).count(),
        6,
        "{stdout}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let sizes: Vec<u64> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["size"].as_u64().unwrap())
        .collect();
    assert!(
        sizes.windows(2).all(|w| w[0] <= w[1]),
        "library size grows with θ: {sizes:?}"
    );
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    assert_eq!(
        doc["rows"][2]["size"], expected["runs"][0]["size"],
        "θ=0.6 in the sweep equals the golden run"
    );
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<polyline") && svg.contains("library size"));
}

/// Runs `library` with one input replaced and checks the error contract.
fn expect_error(replace: usize, path: &Path, needle: &str) {
    let mut files = [
        fixture("train_haps.npy"),
        fixture("train_answers.npy"),
        fixture("test_haps.npy"),
        fixture("test_answers.npy"),
    ];
    files[replace] = path.to_path_buf();
    let args = library_args(
        p(&files[0]),
        p(&files[1]),
        p(&files[2]),
        p(&files[3]),
        "0.8",
    );
    let out = hapscope(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{needle}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(stderr.contains(name), "names the file {name}: {stderr}");
    assert!(stderr.contains(needle), "says '{needle}': {stderr}");
}

#[test]
fn bad_inputs_give_one_line_errors_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    let good = std::fs::read(fixture("train_haps.npy")).unwrap();

    std::fs::write(d("truncated.npy"), &good[..good.len() - 7]).unwrap();
    expect_error(0, &d("truncated.npy"), "truncated");
    std::fs::write(d("header_only.npy"), &good[..20]).unwrap();
    expect_error(0, &d("header_only.npy"), "header");
    std::fs::write(d("text.npy"), "hello, world\n").unwrap();
    expect_error(0, &d("text.npy"), "not a .npy file");
    expect_error(0, &d("missing.npy"), "No such file");

    write_matrix(&d("nan.npy"), 2, 24, &[0.5; 48].map(|x| x)).unwrap();
    let mut nan = std::fs::read(d("nan.npy")).unwrap();
    let off = nan.len() - 4 * 30;
    nan[off..off + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(d("nan.npy"), &nan).unwrap();
    expect_error(2, &d("nan.npy"), "row 0, column 18");
    let mut inf = std::fs::read(d("nan.npy")).unwrap();
    inf[off..off + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    std::fs::write(d("inf.npy"), &inf).unwrap();
    expect_error(2, &d("inf.npy"), "non-finite");

    write_ints(&d("vector.npy"), &[1, 2, 3]).unwrap();
    expect_error(0, &d("vector.npy"), "unsupported dtype");
    write_matrix(&d("wrong_cols.npy"), 3, 5, &[1.0; 15]).unwrap();
    expect_error(2, &d("wrong_cols.npy"), "5 columns");
    write_ints(&d("short_answers.npy"), &[1, 2, 3]).unwrap();
    expect_error(1, &d("short_answers.npy"), "3 answers");
    write_ints(&d("negative.npy"), &vec![-1; 600]).unwrap();
    expect_error(1, &d("negative.npy"), "answer -1 at index 0");
    write_matrix(&d("floats_as_answers.npy"), 600, 1, &[1.0; 600]).unwrap();
    expect_error(1, &d("floats_as_answers.npy"), "unsupported dtype");

    // A 1-D float array where a matrix is expected, and a complex dtype: edit the header text.
    let mut one_d = good.clone();
    let h = String::from_utf8_lossy(&one_d[10..80]).into_owned();
    let start = 10 + h.find("(600, 24)").unwrap();
    one_d[start..start + 9].copy_from_slice(b"(14400,) ");
    std::fs::write(d("one_d.npy"), &one_d).unwrap();
    expect_error(0, &d("one_d.npy"), "2-D");
    let mut complex = good.clone();
    let start = 10 + h.find("<f4").unwrap();
    complex[start..start + 3].copy_from_slice(b"<c8");
    std::fs::write(d("complex.npy"), &complex).unwrap();
    expect_error(0, &d("complex.npy"), "'<c8'");
}

#[test]
fn bad_theta_is_a_usage_error() {
    let (t, a, u, b) = (
        fixture("train_haps.npy"),
        fixture("train_answers.npy"),
        fixture("test_haps.npy"),
        fixture("test_answers.npy"),
    );
    for theta in ["1.5", "NaN", "-2"] {
        let out = hapscope(&library_args(p(&t), p(&a), p(&u), p(&b), theta));
        assert_eq!(out.status.code(), Some(2), "θ={theta}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("theta"));
    }
}

/// Runs `hapscope` with backtraces on, so a panic would show one.
fn hapscope_backtrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hapscope"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("running hapscope")
}

/// The error contract: exit status 2, exactly one line on stderr saying `needle`, no panic
/// and no backtrace. Returns stderr.
fn assert_usage_error(out: &Output, needle: &str, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{what}: {stderr}"
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{what}: one line: {stderr}"
    );
    assert!(stderr.contains(needle), "{what}: says '{needle}': {stderr}");
    stderr
}

#[test]
fn attack_refuses_eps_outside_zero_one() {
    for eps in ["0", "-0.1", "1.5", "NaN", "inf", "-inf"] {
        let out = hapscope_backtrace(&["attack", "mnist", "--eps", eps, "--limit", "2"]);
        assert_usage_error(&out, "ε must be in (0, 1]", &format!("--eps {eps}"));
    }
    let out = hapscope_backtrace(&["attack", "mnist", "--eps=-0.3", "--limit", "2"]);
    assert_usage_error(&out, "got -0.3", "--eps=-0.3");
}

/// `train` with anything but the paper's recipe never defaults to (or writes) the committed
/// weights, and even the recipe replaces them only with --force. Every refusal comes before
/// any data is read (the empty --data directory would fail otherwise).
#[test]
fn train_never_replaces_the_committed_weights_by_default() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/mnist-lenet.safetensors");
    let before = std::fs::read(&committed).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let (data, c) = (p(empty.path()), p(&committed));
    let cases: [(&[&str], &str); 8] = [
        (&["--limit", "64", "--epochs", "1"], "--out FILE"),
        (&["--limit", "64"], "limit 64"),
        (&["--epochs", "1"], "epochs 1"),
        (&["--seed", "2"], "seed 2"),
        (
            &["--limit", "64", "--epochs", "1", "--out", c],
            "recipe only",
        ),
        (&["--epochs", "1", "--out", c, "--force"], "recipe only"),
        (&[], "--force"),
        (&["--out", c], "--force"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["train", "mnist", "--data", data];
        args.extend(extra);
        let out = hapscope_backtrace(&args);
        assert_usage_error(&out, needle, &args.join(" "));
    }
    assert!(
        std::fs::read(&committed).unwrap() == before,
        "{} changed",
        committed.display()
    );
}

#[test]
fn haps_limit_zero_writes_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    let out = hapscope_backtrace(&[
        "haps",
        "--model",
        "mnist",
        "--layer",
        "FC1",
        "--split",
        "test",
        "--limit",
        "0",
        "--out",
        p(&x),
        "--answers",
        p(&y),
    ]);
    let stderr = assert_usage_error(&out, "--limit 0", "haps --limit 0");
    assert!(!stderr.contains("wrote"), "{stderr}");
    assert!(!x.exists() && !y.exists(), "no file is written");
}
