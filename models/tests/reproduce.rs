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
mod common;
use common::hapscope;

use hapscope_models::experiment::plan::Plan;
use hapscope_models::experiment::report::{
    Fig2Report, Fig3Report, Fig5Report, OodReport, SparseReport,
};
use serde::de::DeserializeOwned;

/// Runs `hapscope reproduce MODEL --fast` into `dir` and asserts it succeeded.
fn reproduce_fast(model: &str, data: &Path, dir: &Path) {
    hapscope(&[
        "reproduce".as_ref(),
        model.as_ref(),
        "--fast".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        dir.as_os_str(),
    ]);
}

/// A report file, read as its typed struct.
fn read<T: DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn reproduce_mnist_fast_invariants() {
    use hapscope_models::data::locate::{data_with, require_or_skip};
    let Some(data) = require_or_skip(data_with(&["mnist"])) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    reproduce_fast("mnist", &data, dir.path());
    let plan = Plan::mnist(true);

    let fig2: Fig2Report = read(&dir.path().join("fig2.json"));
    assert_eq!(fig2.figure, "2");
    assert_eq!(
        fig2.layers
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["CN1", "CN2", "FC1", "FC2"]
    );
    for (l, layer) in fig2.layers.iter().enumerate() {
        assert_eq!(layer.grid, plan.grids[l], "{}: the plan's grid", layer.name);
        for v in [&layer.sizes.len(), &layer.top1.len(), &layer.top3.len()] {
            assert_eq!(*v, layer.grid.len(), "{}: one value per θ", layer.name);
        }
    }
    let sizes: Vec<&Vec<usize>> = fig2.layers.iter().map(|l| &l.sizes).collect();
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
    for l in &fig2.layers {
        for (k, values, lo) in [("top1", &l.top1, 0.75), ("top3", &l.top3, 0.93)] {
            for &v in values {
                assert!((lo..=1.0).contains(&v), "{} {k} = {v}", l.name);
            }
        }
    }

    check_against_full_run(&fig2);

    let fig3: Fig3Report = read(&dir.path().join("fig3.json"));
    assert_eq!(
        fig3.matrices
            .iter()
            .map(|m| (m.layer.as_str(), m.theta))
            .collect::<Vec<_>>(),
        plan.confusions
    );
    for m in &fig3.matrices {
        assert_eq!(m.classes(), 10);
        assert_eq!(m.values.len(), 100);
        assert!(dir.path().join(&m.svg).is_file(), "{}", m.svg);
    }

    let fig5: Fig5Report = read(&dir.path().join("fig5.json"));
    assert_eq!(fig5.set_layers, plan.sets.layers);
    let strong = fig5.pixel(0.3).expect("a pixel attack at ε = 0.3");
    assert!(strong.success_rate >= 0.9, "{strong:?}");
    for &a in &strong.auroc.eq5 {
        assert!(a >= 0.75, "{strong:?}");
    }
    // Debian's dataset-fashion-mnist (`cargo xtask test` installs it): skipped without it,
    // except under CI, where its absence fails the test.
    let fashion = Path::new(hapscope_models::data::mnist::FASHION_DIR);
    let found = if fashion.is_dir() {
        Ok(())
    } else {
        Err(hapscope_models::data::locate::Missing(format!(
            "{} is absent (Debian's dataset-fashion-mnist): the out-of-training check",
            fashion.display()
        )))
    };
    if hapscope_models::data::locate::require_or_skip(found).is_some() {
        let ood: OodReport = read(&dir.path().join("ood.json"));
        for &a in &ood.auroc.eq5 {
            assert!(a >= 0.75, "MNIST vs Fashion-MNIST: {ood:?}");
        }
    }
    let sparse: SparseReport = read(&dir.path().join("sparse.json"));
    assert_eq!(
        sparse.rows.iter().map(|r| r.k).collect::<Vec<_>>(),
        [Some(64), Some(256), None]
    );
    // The row of every unit is the full run's, at set 1's θ — never another θ of the grid.
    assert_eq!(sparse.set, plan.sets.sets[0]);
    assert_eq!(sparse.eps, 0.3);
    let all = sparse.rows.last().unwrap();
    for (l, (row, layer)) in all.layers.iter().zip(&fig2.layers).enumerate() {
        let t = layer
            .grid
            .iter()
            .position(|&g| (g - sparse.set[l]).abs() < 1e-4)
            .unwrap();
        assert_eq!(row.name, layer.name);
        assert_eq!(row.size, layer.sizes[t], "{}", row.name);
        assert_eq!(row.top1, layer.top1[t], "{}", row.name);
    }
    assert_eq!(all.auroc_eq5, strong.auroc.eq5[0]);
    assert_eq!(all.auroc_top20_softmax, strong.auroc.top20_softmax[0]);
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

/// The committed full runs (written before the reports were typed, some in an older
/// layout) read as the same structs the command writes.
#[test]
fn committed_results_read_as_reports() {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
    let fig2: Fig2Report = read(&results.join("mnist-full/fig2.json"));
    assert_eq!(fig2.layers.len(), 4);
    assert_eq!(fig2.layer_grid(0), Plan::mnist(false).grids[0]);
    let fig4: Fig2Report = read(&results.join("resnet-full/fig4.json"));
    for (l, grid) in Plan::resnet(false).grids.iter().enumerate() {
        assert_eq!(
            fig4.layer_grid(l),
            grid.as_slice(),
            "{}",
            fig4.layers[l].name
        );
    }
    let fig3: Fig3Report = read(&results.join("mnist-full/fig3.json"));
    assert_eq!(fig3.matrices.len(), Plan::mnist(false).confusions.len());
    for (name, plan) in [
        ("mnist-full/fig5.json", Plan::mnist(false)),
        ("resnet-full/fig5-resnet.json", Plan::resnet(false)),
    ] {
        let fig5: Fig5Report = read(&results.join(name));
        assert_eq!(fig5.sets, plan.sets.sets, "{name}");
        for o in &fig5.outcomes {
            assert_eq!(o.auroc.eq5.len(), plan.sets.len(), "{name}");
        }
    }
}

/// The fast run's Fig. 2 against the committed full run at every θ they share.
fn check_against_full_run(fast: &Fig2Report) {
    let full: Fig2Report =
        read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/mnist-full/fig2.json"));
    let mut compared = 0;
    for (l, (fl, ful)) in fast.layers.iter().zip(&full.layers).enumerate() {
        assert_eq!(fl.name, ful.name);
        let (fast_grid, full_grid) = (fast.layer_grid(l), full.layer_grid(l));
        for (i, t) in fast_grid.iter().enumerate() {
            let Some(j) = full_grid.iter().position(|u| (u - t).abs() < 1e-4) else {
                continue;
            };
            let name = &fl.name;
            assert!(
                fl.sizes[i] <= ful.sizes[j],
                "{name} θ {t}: fast library larger than the full one"
            );
            for (k, f, u, below, above) in [
                ("top1", fl.top1[i], ful.top1[j], 0.10, 0.03),
                ("top3", fl.top3[i], ful.top3[j], 0.05, 0.02),
            ] {
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
    use hapscope_models::data::locate::{data_with, existing_resnet44_weights, require_or_skip};
    let (Some(data), Some(_)) = (
        require_or_skip(data_with(&["cifar10"])),
        require_or_skip(existing_resnet44_weights()),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    reproduce_fast("resnet", &data, dir.path());
    let fig4: Fig2Report = read(&dir.path().join("fig4.json"));
    assert!((fig4.network_test_accuracy - 0.933).abs() < 1e-9);
    for l in &fig4.layers {
        assert!(
            l.sizes.windows(2).all(|w| w[0] <= w[1]),
            "{}: {:?}",
            l.name,
            l.sizes
        );
    }
    let fig5: Fig5Report = read(&dir.path().join("fig5-resnet.json"));
    assert!(fig5.outcomes[0].success_rate >= 0.9);
}
