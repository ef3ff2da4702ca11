//! `hapscope reproduce mnist --fast`: the figures' invariants, on the real MNIST data and
//! the committed network (skipped with a message when ../shared/data is absent).
//!
//! - library size grows with θ in every layer, and earlier layers are at least as large
//!   at equal θ (Fig. 2A);
//! - agreement stays within the bounds stated in REPORT.md: top-1 ≥ 0.75 and top-3 ≥ 0.93
//!   on every layer and θ of the fast grid (the full run is higher);
//! - against the committed full run (`results/mnist-full/fig2.json`, 60,000 digits) at the
//!   same θ: the fast libraries are no larger (a library built on a prefix of the training
//!   order is the prefix of the full library), and agreement is within
//!   [full − 0.10, full + 0.03] for top-1 and [full − 0.05, full + 0.02] for top-3 (fewer
//!   nodes predict a little worse; the 1,000-digit test sample adds ±0.01 of noise);
//! - PGD at ε = 0.3 fools the network on ≥ 90 % of the attacked digits, and CPL separates
//!   those from clean digits (AUROC ≥ 0.75 for every set, Eq. 5);
//! - CPL separates MNIST test digits from Fashion-MNIST images (AUROC ≥ 0.75, Eq. 5, every
//!   set) when Debian's dataset-fashion-mnist is installed (`cargo xtask test` installs it);
//! - the sparse-sampling table covers K = 64, 256 and all units;
//! - every figure file is written.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs `hapscope reproduce MODEL --fast` into `dir` and asserts it succeeded.
fn reproduce_fast(model: &str, data: &Path, dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_hapscope"))
        .args([
            "reproduce",
            model,
            "--fast",
            "--data",
            data.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reproduce_mnist_fast_invariants() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if !data.join("mnist").is_dir() {
        eprintln!("skipped: {} is absent", data.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    reproduce_fast("mnist", &data, dir.path());
    let read = |n: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(n)).unwrap()).unwrap()
    };

    let fig2 = read("fig2.json");
    let layers = fig2["layers"].as_array().unwrap();
    assert_eq!(
        layers
            .iter()
            .map(|l| l["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["CN1", "CN2", "FC1", "FC2"]
    );
    let sizes: Vec<Vec<u64>> = layers
        .iter()
        .map(|l| {
            l["sizes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        })
        .collect();
    for (l, s) in sizes.iter().enumerate() {
        assert!(
            s.windows(2).all(|w| w[0] <= w[1]),
            "layer {l}: sizes grow with θ: {s:?}"
        );
    }
    for t in 0..sizes[0].len() {
        assert!(
            sizes.windows(2).all(|w| w[0][t] >= w[1][t]),
            "earlier layers larger at θ index {t}: {sizes:?}"
        );
    }
    for l in layers {
        for (k, lo) in [("top1", 0.75), ("top3", 0.93)] {
            for v in l[k].as_array().unwrap() {
                let v = v.as_f64().unwrap();
                assert!((lo..=1.0).contains(&v), "{} {k} = {v}", l["name"]);
            }
        }
    }

    check_against_full_run(&fig2);

    let fig5 = read("fig5.json");
    let strong = fig5["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["mode"] == "pixel" && (o["eps"].as_f64().unwrap() - 0.3).abs() < 1e-6)
        .unwrap();
    assert!(strong["success_rate"].as_f64().unwrap() >= 0.9, "{strong}");
    for a in strong["auroc"]["eq5"].as_array().unwrap() {
        assert!(a.as_f64().unwrap() >= 0.75, "{strong}");
    }
    if Path::new(hapscope_models::data::mnist::FASHION_DIR).is_dir() {
        let ood = read("ood.json");
        for a in ood["auroc"]["eq5"].as_array().unwrap() {
            assert!(a.as_f64().unwrap() >= 0.75, "MNIST vs Fashion-MNIST: {ood}");
        }
    } else {
        eprintln!(
            "out-of-training check skipped: {} is absent",
            hapscope_models::data::mnist::FASHION_DIR
        );
    }
    let sparse = read("sparse.json");
    let ks: Vec<&str> = sparse["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["k"].as_str().unwrap())
        .collect();
    assert_eq!(ks, ["64", "256", "all"]);
    for f in [
        "fig2-a.svg",
        "fig2-bc.svg",
        "fig3.md",
        "fig3-CN1-0.65.svg",
        "fig5.md",
        "fig5-bc-pixel.svg",
        "fig5-bc-quirk.svg",
        "fig5-a-eq5.svg",
        "sparse.md",
        "sparse.svg",
        "timings.md",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
}

/// The fast run's Fig. 2 against the committed full run at every θ they share.
fn check_against_full_run(fast: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/mnist-full/fig2.json");
    let full: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // θ grid of a layer: per layer in current output, once per figure in the older full run.
    let grid = |fig: &Value, layer: &Value| -> Vec<f64> {
        layer
            .get("grid")
            .or_else(|| fig.get("grid"))
            .and_then(Value::as_array)
            .expect("a θ grid")
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect()
    };
    let mut compared = 0;
    for (fl, ful) in fast["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(full["layers"].as_array().unwrap())
    {
        assert_eq!(fl["name"], ful["name"]);
        let (fast_grid, full_grid) = (grid(fast, fl), grid(&full, ful));
        for (i, t) in fast_grid.iter().enumerate() {
            let Some(j) = full_grid.iter().position(|u| (u - t).abs() < 1e-4) else {
                continue;
            };
            let at = |v: &Value, k: &str, i: usize| v[k][i].as_f64().unwrap();
            let name = fl["name"].as_str().unwrap();
            assert!(
                at(fl, "sizes", i) <= at(ful, "sizes", j),
                "{name} θ {t}: fast library larger than the full one"
            );
            for (k, below, above) in [("top1", 0.10, 0.03), ("top3", 0.05, 0.02)] {
                let (f, u) = (at(fl, k, i), at(ful, k, j));
                assert!(
                    f >= u - below && f <= u + above,
                    "{name} θ {t} {k}: fast {f} vs full {u} (allowed −{below}/+{above})"
                );
            }
            compared += 1;
        }
    }
    assert!(
        compared >= 20,
        "only {compared} (layer, θ) pairs shared with the full run"
    );
}

/// ResNet44's reduced run: every layer's library grows with θ, the network keeps its
/// 933/1000, and the attack fools it (skipped without ../shared's CIFAR-10 and weights).
#[test]
fn reproduce_resnet_fast_runs() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if !shared.join("data/cifar10").is_dir()
        || !shared.join("models/resnet44-cifar10.safetensors").is_file()
    {
        eprintln!(
            "skipped: CIFAR-10 or ResNet44 weights absent under {}",
            shared.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    reproduce_fast("resnet", &shared.join("data"), dir.path());
    let fig4: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("fig4.json")).unwrap())
            .unwrap();
    assert!((fig4["network_test_accuracy"].as_f64().unwrap() - 0.933).abs() < 1e-9);
    for l in fig4["layers"].as_array().unwrap() {
        let s: Vec<u64> = l["sizes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert!(s.windows(2).all(|w| w[0] <= w[1]), "{}: {s:?}", l["name"]);
    }
    let fig5: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("fig5-resnet.json")).unwrap(),
    )
    .unwrap();
    assert!(fig5["outcomes"][0]["success_rate"].as_f64().unwrap() >= 0.9);
}
