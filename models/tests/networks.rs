//! The networks end to end through the `hapscope` binary, on the real datasets.
//!
//! These need MNIST and CIFAR-10 (`--data`, `$HAPSCOPE_DATA` or `../shared/data`) and the
//! ResNet44 weights (`$HAPSCOPE_MODELS` or `../shared/models`), found by the CLI's own
//! locator (`hapscope_models::data::locate`); without them each test says "skipped" and
//! returns — except under CI (`CI` set), where a missing data set fails the test.
//!
//! Reference values: ResNet44 answers 933 of CIFAR-10 test images 0–999 correctly with the
//! original PyTorch code (../shared/models/SOURCE.md); the committed LeNet reached the
//! accuracy printed by `hapscope train mnist` (≥ 99.0 % required).

use std::path::Path;
use std::process::Command;

use hapscope_models::data::locate::{data_with, existing_resnet44_weights, require_or_skip};
use hapscope_models::data::npy::{read_ints, read_matrix};

/// The data directory holding `sub` (e.g. `mnist`), as a string for `--data`; `None` (after
/// "skipped: …") when it is absent, a failure under CI.
fn data(sub: &str) -> Option<String> {
    require_or_skip(data_with(&[sub])).map(|d| d.to_str().unwrap().to_string())
}

fn hapscope(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hapscope"))
        .args(args)
        .output()
        .expect("running hapscope");
    assert!(
        out.status.success(),
        "hapscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn correct(stdout: &str) -> (usize, usize) {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("correct: "))
        .expect("a `correct: K/N` line");
    let (k, n) = line.split_once('/').unwrap();
    (k.trim().parse().unwrap(), n.trim().parse().unwrap())
}

#[test]
fn resnet44_reproduces_pytorch_933_of_1000() {
    let (Some(data), Some(weights)) = (
        data("cifar10"),
        require_or_skip(existing_resnet44_weights()),
    ) else {
        return;
    };
    assert_eq!(
        correct(&hapscope(&[
            "eval",
            "resnet",
            "--limit",
            "1000",
            "--data",
            &data,
            "--weights",
            weights.to_str().unwrap(),
        ])),
        (933, 1000)
    );
}

#[test]
fn committed_lenet_reaches_99_percent() {
    let Some(data) = data("mnist") else {
        return;
    };
    let (k, n) = correct(&hapscope(&["eval", "mnist", "--data", &data]));
    assert_eq!(n, 10_000);
    assert!(k >= 9_900, "{k}/{n}");
}

#[test]
fn haps_feed_the_library_command() {
    let Some(data) = data("mnist") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    for (split, limit) in [("train", "3000"), ("test", "500")] {
        hapscope(&[
            "haps",
            "--model",
            "mnist",
            "--layer",
            "FC1",
            "--split",
            split,
            "--limit",
            limit,
            "--data",
            &data,
            "--out",
            &p(&format!("{split}.npy")),
            "--answers",
            &p(&format!("{split}_answers.npy")),
        ]);
    }
    let m = read_matrix(Path::new(&p("test.npy"))).unwrap();
    assert_eq!((m.rows, m.cols), (500, 500));
    let answers = read_ints(Path::new(&p("test_answers.npy"))).unwrap();
    assert_eq!(answers.len(), 500);
    assert!(answers.iter().all(|a| (0..10).contains(a)));
    let json = p("out.json");
    hapscope(&[
        "library",
        "--train-haps",
        &p("train.npy"),
        "--train-answers",
        &p("train_answers.npy"),
        "--test-haps",
        &p("test.npy"),
        "--test-answers",
        &p("test_answers.npy"),
        "--theta",
        "0.8",
        "--json",
        &json,
    ]);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let top1 = doc["top1"].as_f64().unwrap();
    // FC1 is one layer below the answer: its library predicts the answer almost always.
    assert!(top1 > 0.9, "FC1 top-1 agreement {top1}");
    assert!(doc["size"].as_u64().unwrap() > 10);
}

/// The CLI finds the data as the tests do: `--data` over `$HAPSCOPE_DATA` over the default.
/// Runs without any data set: both name the empty directories they were pointed at.
#[test]
fn cli_data_flag_beats_hapscope_data() {
    let dir = tempfile::tempdir().unwrap();
    let (flag, env) = (dir.path().join("flag"), dir.path().join("env"));
    for d in [&flag, &env] {
        std::fs::create_dir_all(d).unwrap();
    }
    let fails_in = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hapscope"))
            .args(args)
            .env(hapscope_models::data::locate::DATA_ENV, &env)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "no MNIST there, yet {args:?} succeeded"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = fails_in(&["eval", "mnist", "--limit", "1"]);
    assert!(err.contains(env.join("mnist").to_str().unwrap()), "{err}");
    let err = fails_in(&[
        "eval",
        "mnist",
        "--limit",
        "1",
        "--data",
        flag.to_str().unwrap(),
    ]);
    assert!(err.contains(flag.join("mnist").to_str().unwrap()), "{err}");
}
