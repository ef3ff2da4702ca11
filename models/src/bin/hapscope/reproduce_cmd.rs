//! `hapscope reproduce mnist [--fast] [--out DIR]`: the paper's figures for the MNIST
//! network — Fig. 2 (library size and agreement vs θ per layer), Fig. 3 (confusion
//! indices), Fig. 5 (CPL as a PGD detector: AUROC vs ε per threshold set, both CPL
//! variants, pixel-space attack and the paper's quirk; CPL histograms) — each as JSON,
//! a Markdown table and SVG, plus a timing table.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::prelude::*;
use hapscope_models::data::mnist::{self, Split};
use hapscope_models::experiment::NetFns;
use hapscope_models::experiment::detect::{
    Detection, MNIST_SETS, RESNET_SETS, ThresholdSets, detect, out_of_distribution,
};
use hapscope_models::experiment::fit::{Fit, LayerFit, fit};
use hapscope_models::kernel::GemmKernel;
use hapscope_models::nets::lenet::{MNIST_MEAN, MNIST_STD};
use hapscope_models::nets::resnet44::{IMAGENET_MEAN, IMAGENET_STD};
use hapscope_models::pgd::PgdSpace;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::args::{Model, ReproduceArgs, SplitArg};
use crate::nets::{dataset, load, load_frozen};
use crate::plot::{Series, heatmap_svg, histogram_svg, line_panel, stacked};

/// What a run covers.
struct Plan {
    /// Figure numbers in the paper (MNIST: 2, 3, 5; ResNet: 4, –, the ResNet half of 5).
    figs: [&'static str; 3],
    train_rows: usize,
    test_rows: usize,
    /// θ grid per tap.
    grids: Vec<Vec<f32>>,
    sets: ThresholdSets,
    /// Eq. 3's `a`: 3 for MNIST, 8 for ResNet.
    top_a: usize,
    attack_rows: usize,
    eps: Vec<f32>,
    quirk_eps: Vec<f32>,
    quirk: PgdSpace,
    confusions: Vec<(&'static str, f32)>,
    /// MNIST only: the out-of-training test and the sparse-sampling study.
    ood_rows: Option<usize>,
    sparse_k: Vec<usize>,
}

/// θ from `lo` to `hi` (inclusive) in steps of `step`, rounded to 0.01.
fn range(lo: f32, hi: f32, step: f32) -> Vec<f32> {
    (0..)
        .map(|i| ((lo + step * i as f32) * 100.0).round() / 100.0)
        .take_while(|&t| t <= hi + 1e-4)
        .collect()
}

fn plan(model: Model, fast: bool) -> Plan {
    match model {
        Model::Mnist => {
            let grid = if fast {
                range(0.55, 0.85, 0.05)
            } else {
                range(0.4, 0.9, 0.05)
            };
            let eps = if fast {
                vec![0.1, 0.3]
            } else {
                vec![0.05, 0.1, 0.2, 0.3]
            };
            Plan {
                figs: ["2", "3", "5"],
                train_rows: if fast { 6000 } else { 60_000 },
                test_rows: if fast { 1000 } else { 10_000 },
                grids: vec![grid; 4],
                sets: ThresholdSets {
                    layers: vec![0, 1, 2, 3],
                    sets: MNIST_SETS.iter().map(|s| s.to_vec()).collect(),
                },
                top_a: 3,
                attack_rows: if fast { 50 } else { 200 },
                quirk_eps: if fast { vec![0.3] } else { eps.clone() },
                eps,
                quirk: PgdSpace::NormalizedQuirk {
                    mean: vec![MNIST_MEAN],
                    std: vec![MNIST_STD],
                },
                confusions: ["CN1", "CN2", "FC1"]
                    .iter()
                    .flat_map(|&l| [0.65f32, 0.75].map(|t| (l, t)))
                    .collect(),
                ood_rows: Some(if fast { 200 } else { 2000 }),
                sparse_k: if fast {
                    vec![64, 256]
                } else {
                    vec![64, 256, 1024]
                },
            }
        }
        Model::Resnet => {
            // Per-layer θ levels of the paper (DESIGN.md), step 0.02; fast keeps the set values.
            let levels = [
                (0.18, 0.34),
                (0.64, 0.78),
                (0.48, 0.62),
                (0.50, 0.64),
                (0.80, 0.94),
            ];
            let mut grids: Vec<Vec<f32>> =
                levels.iter().map(|&(lo, hi)| range(lo, hi, 0.02)).collect();
            if fast {
                grids[0] = vec![0.26];
                for (l, g) in grids.iter_mut().enumerate().skip(1) {
                    let mut v: Vec<f32> = RESNET_SETS.iter().map(|s| s[l - 1]).collect();
                    v.sort_by(f32::total_cmp);
                    v.dedup();
                    *g = v;
                }
            }
            let eps: Vec<f32> = if fast {
                vec![8.0 / 255.0]
            } else {
                [2.0, 4.0, 8.0, 16.0].iter().map(|e| e / 255.0).collect()
            };
            Plan {
                figs: ["4", "", "5-resnet"],
                train_rows: 4000,
                test_rows: 1000,
                grids,
                sets: ThresholdSets {
                    layers: vec![1, 2, 3, 4],
                    sets: RESNET_SETS.iter().map(|s| s.to_vec()).collect(),
                },
                top_a: 8,
                attack_rows: if fast { 20 } else { 200 },
                quirk_eps: if fast { vec![] } else { eps.clone() },
                eps,
                quirk: PgdSpace::NormalizedQuirk {
                    mean: IMAGENET_MEAN.to_vec(),
                    std: IMAGENET_STD.to_vec(),
                },
                confusions: Vec::new(),
                ood_rows: None,
                sparse_k: Vec::new(),
            }
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    fs::write(dir.join(name), text).with_context(|| format!("writing {}", dir.join(name).display()))
}

pub fn reproduce(args: &ReproduceArgs) -> Result<()> {
    let p = plan(args.model, args.fast);
    fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let t_all = Instant::now();
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let net = load(args.model, args.weights.as_deref(), &device)?;
    let frozen = load_frozen(args.model, args.weights.as_deref(), &ad)?;
    let train = dataset(args.model, args.data.as_deref(), SplitArg::Train)?;
    let test = dataset(args.model, args.data.as_deref(), SplitArg::Test)?;
    let taps = |x| net.forward_taps(x);
    let logits_ad = |x| frozen.forward(x);
    let fns = NetFns {
        taps: &taps,
        logits_ad: &logits_ad,
        device: device.clone(),
        ad,
    };
    let kernel = GemmKernel::new(0);

    let bar =
        ProgressBar::new((2 * p.train_rows.min(train.count) + p.test_rows.min(test.count)) as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} rows (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let t_fit = Instant::now();
    let f = fit(
        &fns,
        &train,
        &test,
        p.train_rows,
        p.test_rows,
        &p.grids,
        &p.confusions,
        p.top_a,
        None,
        kernel,
        &mut |stage, n| {
            if bar.message() != stage {
                // A line per stage even when the bar is hidden (no terminal, e.g. a log file).
                bar.suspend(|| {
                    eprintln!(
                        "reproduce: {stage} ({:.0} s)",
                        t_all.elapsed().as_secs_f64()
                    )
                });
                bar.set_message(stage.to_string());
            }
            bar.inc(n as u64);
        },
    )?;
    bar.finish_and_clear();
    let fit_s = t_fit.elapsed().as_secs_f64();
    figure2(&args.out, p.figs[0], &f)?;
    if !f.confusions.is_empty() {
        figure3(&args.out, &f)?;
    }

    let spinner = ProgressBar::new_spinner();
    let t_det = Instant::now();
    let quirk = (!p.quirk_eps.is_empty()).then(|| (&p.quirk_eps[..], p.quirk.clone()));
    eprintln!(
        "reproduce: attacks and CPL ({:.0} s)",
        t_all.elapsed().as_secs_f64()
    );
    let d = detect(
        &fns,
        &f,
        &test,
        p.attack_rows,
        &p.sets,
        &p.eps,
        quirk,
        p.top_a,
        &kernel,
        &mut |m| spinner.set_message(m.to_string()),
    )?;
    spinner.finish_and_clear();
    let det_s = t_det.elapsed().as_secs_f64();
    figure5(&args.out, p.figs[2], &d, &p.sets)?;
    let t_ood = Instant::now();
    if let Some(rows) = p.ood_rows {
        match mnist::load_fashion(&args.fashion, Split::Test) {
            Ok(fashion) => {
                let a = out_of_distribution(
                    &fns, &f, &test, &fashion, rows, &p.sets, p.top_a, &kernel,
                )?;
                out_of_training(&args.out, &a, rows)?;
            }
            Err(e) => write(
                &args.out,
                "ood.md",
                &format!("# Out-of-training inputs (§4.2)\n\nNot run: {e}\n"),
            )?,
        }
    }
    let ood_s = t_ood.elapsed().as_secs_f64();
    let t_sparse = Instant::now();
    if !p.sparse_k.is_empty() {
        sparse(&args.out, &fns, &train, &test, &p, &f, &d, &kernel)?;
    }
    let sparse_s = t_sparse.elapsed().as_secs_f64();
    timings(
        match args.model {
            Model::Mnist => "mnist",
            Model::Resnet => "resnet",
        },
        &args.out,
        &f,
        &d,
        [fit_s, det_s, ood_s, sparse_s],
        t_all.elapsed().as_secs_f64(),
    )?;
    println!(
        "wrote the figures and timings to {} in {:.0} s",
        args.out.display(),
        t_all.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A per-layer, per-θ quantity to plot.
type LayerValue = dyn Fn(&LayerFit, usize) -> f64;

/// Fig. 2 (MNIST) / Fig. 4 (ResNet): library size and agreement vs θ, per layer.
fn figure2(dir: &Path, fig: &str, f: &Fit) -> Result<()> {
    let layers: Vec<Value> = f
        .layers
        .iter()
        .map(|l| json!({"name": l.name, "dim": l.dim, "grid": l.grid, "sizes": l.libraries.iter().map(|x| x.len()).collect::<Vec<_>>(), "top1": l.top1, "top3": l.top3}))
        .collect();
    let doc = json!({"figure": fig, "train_rows": f.train_rows, "test_rows": f.test_rows, "network_test_accuracy": f.test_accuracy, "layers": layers});
    write(
        dir,
        &format!("fig{fig}.json"),
        &(serde_json::to_string_pretty(&doc)? + "\n"),
    )?;
    let mut md = format!(
        "# Fig. {fig}: library size and agreement with the network's answers\n\n{} training and {} test images; network test accuracy {:.4}.\n",
        f.train_rows, f.test_rows, f.test_accuracy
    );
    for l in &f.layers {
        let _ = writeln!(
            md,
            "\n## {} ({} units)\n\n| θ | nodes | top-1 | top-3 |\n|---:|---:|---:|---:|",
            l.name, l.dim
        );
        for (t, theta) in l.grid.iter().enumerate() {
            let _ = writeln!(
                md,
                "| {theta:.2} | {} | {:.4} | {:.4} |",
                l.libraries[t].len(),
                l.top1[t],
                l.top3[t]
            );
        }
    }
    write(dir, &format!("fig{fig}.md"), &md)?;
    let series = |value: &LayerValue| -> Vec<Series> {
        f.layers
            .iter()
            .map(|l| Series {
                name: l.name.into(),
                points: l
                    .grid
                    .iter()
                    .enumerate()
                    .map(|(t, &th)| (f64::from(th), value(l, t)))
                    .collect(),
            })
            .collect()
    };
    stacked(&dir.join(format!("fig{fig}-a.svg")), 1, |_, a| {
        line_panel(
            a,
            &format!("Fig. {fig}A: library size vs θ"),
            "θ",
            "nodes (log)",
            &series(&|l, t| l.libraries[t].len() as f64),
            true,
            None,
        )
    })?;
    stacked(&dir.join(format!("fig{fig}-bc.svg")), 2, |i, a| {
        let (title, value): (String, &LayerValue) = if i == 0 {
            (format!("Fig. {fig}B: top-1 agreement"), &|l, t| l.top1[t])
        } else {
            (format!("Fig. {fig}C: answer within top-3"), &|l, t| {
                l.top3[t]
            })
        };
        line_panel(
            a,
            &title,
            "θ",
            "fraction",
            &series(value),
            false,
            Some((0.0, 1.02)),
        )
    })
}

fn figure3(dir: &Path, f: &Fit) -> Result<()> {
    let mut md = String::from(
        "# Fig. 3 — MNIST confusion index (code's definition: mean exp(P_d2 − P_d1) over test digits whose library top-1 is their true digit d1)\n",
    );
    let mut docs = Vec::new();
    for c in &f.confusions {
        let m = &c.matrix;
        let _ = writeln!(
            md,
            "\n## {} at θ = {:.2} ({} trials)\n\n| d1 \\ d2 | {} |\n|---|{}",
            c.layer,
            c.theta,
            m.trials.iter().sum::<u64>(),
            (0..10)
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(10)
        );
        for d1 in 0..m.classes {
            let row: Vec<String> = m.values[d1 * m.classes..][..m.classes]
                .iter()
                .map(|v| {
                    if v.is_finite() {
                        format!("{v:.3}")
                    } else {
                        "–".into()
                    }
                })
                .collect();
            let _ = writeln!(md, "| {d1} | {} |", row.join(" | "));
        }
        let name = format!("fig3-{}-{:.2}.svg", c.layer, c.theta);
        heatmap_svg(
            &dir.join(&name),
            &format!("Fig. 3: confusion index, {} θ={:.2}", c.layer, c.theta),
            m.classes,
            &m.values,
        )?;
        docs.push(json!({"layer": c.layer, "theta": c.theta, "trials": m.trials, "values": m.values.iter().map(|v| if v.is_finite() { json!(v) } else { Value::Null }).collect::<Vec<_>>(), "svg": name}));
    }
    write(dir, "fig3.md", &md)?;
    write(
        dir,
        "fig3.json",
        &(serde_json::to_string_pretty(&json!({"figure": "3", "matrices": docs}))? + "\n"),
    )
}

/// Fig. 5: CPL as a PGD detector (MNIST; the ResNet half is written as `fig5-resnet.*`).
fn figure5(dir: &Path, fig: &str, d: &Detection, sets: &ThresholdSets) -> Result<()> {
    let variants = ["eq5", "top20-softmax"];
    let mut md = format!(
        "# Fig. {fig}: CPL as a detector of PGD attacks (AUROC, clean = positive)\n\nAUROC over all attacked images / over successful attacks only. Sets are Table 1's (θ for taps {:?}).\n",
        sets.layers,
    );
    for (v, name) in variants.iter().enumerate() {
        let _ = writeln!(
            md,
            "\n## CPL variant `{name}`\n\n| attack | ε | success | {} |\n|---|---:|---:|{}",
            (1..=sets.len())
                .map(|s| format!("set {s}"))
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(sets.len())
        );
        for o in &d.outcomes {
            let cells: Vec<String> = (0..sets.len())
                .map(|s| match o.auroc_successful[s][v] {
                    Some(b) => format!("{:.3} / {:.3}", o.auroc[s][v], b),
                    None => format!("{:.3} / –", o.auroc[s][v]),
                })
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {}/{} | {} |",
                o.mode,
                eps_label(o.eps),
                o.successes,
                o.clean_correct,
                cells.join(" | ")
            );
        }
    }
    write(dir, &format!("fig{fig}.md"), &md)?;
    let outcomes: Vec<Value> = d
        .outcomes
        .iter()
        .map(|o| {
            json!({"mode": o.mode, "eps": o.eps, "rows": o.rows, "clean_correct": o.clean_correct, "successes": o.successes,
                   "success_rate": o.successes as f64 / o.clean_correct.max(1) as f64,
                   "auroc": {"eq5": o.auroc.iter().map(|a| a[0]).collect::<Vec<_>>(), "top20_softmax": o.auroc.iter().map(|a| a[1]).collect::<Vec<_>>()},
                   "auroc_successful": {"eq5": o.auroc_successful.iter().map(|a| a[0]).collect::<Vec<_>>(), "top20_softmax": o.auroc_successful.iter().map(|a| a[1]).collect::<Vec<_>>()},
                   "attack_seconds": o.attack_seconds})
        })
        .collect();
    let doc = json!({"figure": fig, "sets": sets.sets, "set_layers": sets.layers, "outcomes": outcomes, "clean_cpl_set1": {"eq5": d.clean_cpl_set1[0], "top20_softmax": d.clean_cpl_set1[1]}});
    write(
        dir,
        &format!("fig{fig}.json"),
        &(serde_json::to_string_pretty(&doc)? + "\n"),
    )?;
    for mode in ["pixel", "quirk"] {
        let outs: Vec<_> = d.outcomes.iter().filter(|o| o.mode == mode).collect();
        if outs.is_empty() {
            continue;
        }
        stacked(&dir.join(format!("fig{fig}-bc-{mode}.svg")), 2, |v, a| {
            let series: Vec<Series> = (0..sets.len())
                .map(|s| Series {
                    name: format!("set {}", s + 1),
                    points: outs
                        .iter()
                        .map(|o| (f64::from(o.eps), o.auroc[s][v]))
                        .collect(),
                })
                .collect();
            line_panel(
                a,
                &format!(
                    "Fig. {fig}{}: AUROC of CPL ({}) vs ε, {mode} PGD",
                    if v == 0 { "B" } else { "C" },
                    variants[v]
                ),
                "ε",
                "AUROC",
                &series,
                false,
                Some((0.0, 1.02)),
            )
        })?;
    }
    if let Some(o) = d.outcomes.iter().rfind(|o| o.mode == "pixel") {
        for (v, name) in variants.iter().enumerate() {
            histogram_svg(
                &dir.join(format!("fig{fig}-a-{name}.svg")),
                &format!("Fig. {fig}A: CPL ({name}), set 1, clean vs PGD ε={}", o.eps),
                ("clean", &d.clean_cpl_set1[v]),
                ("adversarial", &o.cpl_set1[v]),
                20,
            )?;
        }
    }
    Ok(())
}

/// ε as written in the paper: a multiple of 1/255 as "k/255" (CIFAR), else the number.
fn eps_label(eps: f32) -> String {
    let k = eps * 255.0;
    if eps < 0.05 && (k - k.round()).abs() < 1e-3 {
        format!("{}/255", k.round())
    } else {
        format!("{eps}")
    }
}

fn timings(
    model: &str,
    dir: &Path,
    f: &Fit,
    d: &Detection,
    [fit_s, det_s, ood_s, sparse_s]: [f64; 4],
    total: f64,
) -> Result<()> {
    let mut md = format!(
        "# Where the time goes (`hapscope reproduce {model}`)\n\n| stage | seconds |\n|---|---:|\n"
    );
    let _ = writeln!(
        md,
        "| forward passes (HAPs, 3 passes) | {:.1} |",
        f.forward_seconds
    );
    for l in &f.layers {
        let _ = writeln!(
            md,
            "| {} builds ({} θ) | {:.1} |\n| {} links | {:.1} |\n| {} predictions | {:.1} |",
            l.name,
            l.grid.len(),
            l.seconds[0],
            l.name,
            l.seconds[1],
            l.name,
            l.seconds[2]
        );
    }
    let attack: f64 = d.outcomes.iter().map(|o| o.attack_seconds).sum();
    let _ = writeln!(
        md,
        "| fit total | {fit_s:.1} |\n| PGD attacks | {attack:.1} |\n| detection total (attacks + CPL) | {det_s:.1} |\n| out-of-training CPL | {ood_s:.1} |\n| sparse sampling (refits + attacks) | {sparse_s:.1} |\n| **total** | **{total:.1}** |"
    );
    write(dir, "timings.md", &md)
}

fn out_of_training(dir: &Path, a: &[[f64; 2]], rows: usize) -> Result<()> {
    let mut md = format!(
        "# Out-of-training inputs (§4.2): MNIST test digits vs Fashion-MNIST test images\n\nAUROC of CPL (MNIST = positive), first {rows} images of each.\n\n| set | Eq. 5 | top-20 softmax |\n|---|---:|---:|\n"
    );
    for (s, v) in a.iter().enumerate() {
        let _ = writeln!(md, "| {} | {:.3} | {:.3} |", s + 1, v[0], v[1]);
    }
    write(dir, "ood.md", &md)?;
    let doc = json!({"rows": rows, "auroc": {"eq5": a.iter().map(|v| v[0]).collect::<Vec<_>>(), "top20_softmax": a.iter().map(|v| v[1]).collect::<Vec<_>>()}});
    write(
        dir,
        "ood.json",
        &(serde_json::to_string_pretty(&doc)? + "\n"),
    )
}

/// One K: its label, per layer (size, top-1), and AUROC [Eq. 5, top-20 softmax].
type SparseRow = (String, Vec<(usize, f64)>, [f64; 2]);

/// §4.3's "future direction": libraries on a seeded random subset of K hidden units per
/// layer — size and top-1 agreement at set 1's θ, and CPL's AUROC against the strongest
/// pixel attack — so the page can pick K with measured fidelity.
#[allow(clippy::too_many_arguments)]
fn sparse(
    dir: &Path,
    fns: &NetFns<'_>,
    train: &hapscope_models::data::images::LabelledImages,
    test: &hapscope_models::data::images::LabelledImages,
    p: &Plan,
    full: &Fit,
    full_detection: &Detection,
    kernel: &GemmKernel,
) -> Result<()> {
    let set1 = &p.sets.sets[0];
    // One θ per layer: set 1's (the sets cover every MNIST tap).
    let grids: Vec<Vec<f32>> = set1.iter().map(|&t| vec![t]).collect();
    let eps = *p.eps.last().unwrap_or(&0.3);
    let sets = p.sets.only(0);
    // One row per K: (K, per layer (size, top-1), AUROC [eq5, softmax]).
    let mut rows: Vec<SparseRow> = Vec::new();
    for &k in &p.sparse_k {
        let f = fit(
            fns,
            train,
            test,
            p.train_rows,
            p.test_rows,
            &grids,
            &[],
            p.top_a,
            Some(k),
            *kernel,
            &mut |_, _| {},
        )?;
        let d = detect(
            fns,
            &f,
            test,
            p.attack_rows,
            &sets,
            &[eps],
            None,
            p.top_a,
            kernel,
            &mut |_| {},
        )?;
        let per_layer = f
            .layers
            .iter()
            .map(|lf| (lf.libraries[0].len(), lf.top1[0]));
        rows.push((k.to_string(), per_layer.collect(), d.outcomes[0].auroc[0]));
    }
    let strong = full_detection.outcomes.iter().rfind(|o| o.mode == "pixel");
    let all_layers = full.layers.iter().enumerate().map(|(l, lf)| {
        let t = hapscope_models::experiment::grid_index(&lf.grid, set1[l]).unwrap_or(0);
        (lf.libraries[t].len(), lf.top1[t])
    });
    rows.push((
        "all".into(),
        all_layers.collect(),
        strong.map_or([f64::NAN; 2], |o| o.auroc[0]),
    ));
    let names: Vec<&str> = full.layers.iter().map(|l| l.name).collect();
    let mut md = format!(
        "# Sparse sampling (§4.3): libraries on K random hidden units per layer\n\nSet 1 θ ({set1:?}); AUROC of CPL vs PGD ε = {eps} on {} test digits.\n\n| K |{} AUROC Eq. 5 | AUROC top-20 softmax |\n|---:|{}---:|---:|\n",
        p.attack_rows,
        names
            .iter()
            .map(|n| format!(" {n} size | {n} top-1 |"))
            .collect::<String>(),
        "---:|---:|".repeat(names.len())
    );
    for (k, layers, a) in &rows {
        let cells: String = layers
            .iter()
            .map(|(size, top1)| format!(" {size} | {top1:.4} |"))
            .collect();
        let _ = writeln!(md, "| {k} |{cells} {:.3} | {:.3} |", a[0], a[1]);
    }
    write(dir, "sparse.md", &md)?;
    let doc: Vec<Value> = rows
        .iter()
        .map(|(k, layers, a)| json!({"k": k, "layers": names.iter().zip(layers).map(|(n, (s, t))| json!({"name": n, "size": s, "top1": t})).collect::<Vec<_>>(), "auroc_eq5": a[0], "auroc_top20_softmax": a[1]}))
        .collect();
    write(
        dir,
        "sparse.json",
        &(serde_json::to_string_pretty(&json!({"set": set1, "eps": eps, "rows": doc}))? + "\n"),
    )?;
    let x_of = |k: &str| {
        if k == "all" {
            4096.0
        } else {
            k.parse::<f64>().unwrap_or(0.0)
        }
    };
    stacked(&dir.join("sparse.svg"), 2, |i, a| {
        if i == 0 {
            let series: Vec<Series> = names
                .iter()
                .enumerate()
                .map(|(l, n)| Series {
                    name: n.to_string(),
                    points: rows
                        .iter()
                        .map(|(k, ls, _)| (x_of(k).log2(), ls[l].1))
                        .collect(),
                })
                .collect();
            line_panel(
                a,
                "top-1 agreement vs log2 K (12 = all units)",
                "log2 K",
                "top-1",
                &series,
                false,
                Some((0.0, 1.02)),
            )
        } else {
            let series: Vec<Series> = ["Eq. 5", "top-20 softmax"]
                .iter()
                .enumerate()
                .map(|(v, n)| Series {
                    name: n.to_string(),
                    points: rows
                        .iter()
                        .map(|(k, _, au)| (x_of(k).log2(), au[v]))
                        .collect(),
                })
                .collect();
            line_panel(
                a,
                "AUROC of CPL vs log2 K",
                "log2 K",
                "AUROC",
                &series,
                false,
                Some((0.0, 1.02)),
            )
        }
    })
}
