//! The networks end to end through the `hapscope` binary, on the real datasets.
//!
//! These need `../shared/data` (MNIST, CIFAR-10) and `../shared/models` (ResNet44) beside
//! the repository, or `HAPSCOPE_DATA` / `HAPSCOPE_MODELS`; without them each test says so
//! and returns.
//!
//! Reference values: ResNet44 answers 933 of CIFAR-10 test images 0–999 correctly with the
//! original PyTorch code (../shared/models/SOURCE.md); the committed LeNet reached the
//! accuracy printed by `hapscope train mnist` (≥ 99.0 % required).

use std::path::{Path, PathBuf};
use std::process::Command;

use hapscope_models::data::npy::{read_ints, read_matrix};

fn shared(sub: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(sub);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent", p.display());
        None
    }
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
    let (Some(data), Some(_)) = (shared("data/cifar10"), shared("models")) else {
        return;
    };
    let data = data.parent().unwrap().to_str().unwrap().to_string();
    assert_eq!(
        correct(&hapscope(&[
            "eval", "resnet", "--limit", "1000", "--data", &data
        ])),
        (933, 1000)
    );
}

#[test]
fn committed_lenet_reaches_99_percent() {
    let Some(data) = shared("data/mnist") else {
        return;
    };
    let data = data.parent().unwrap().to_str().unwrap().to_string();
    let (k, n) = correct(&hapscope(&["eval", "mnist", "--data", &data]));
    assert_eq!(n, 10_000);
    assert!(k >= 9_900, "{k}/{n}");
}

#[test]
fn haps_feed_the_library_command() {
    let Some(data) = shared("data/mnist") else {
        return;
    };
    let data = data.parent().unwrap().to_str().unwrap().to_string();
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
