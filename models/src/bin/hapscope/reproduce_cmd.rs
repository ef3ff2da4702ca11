//! `hapscope reproduce mnist [--fast] [--out DIR]`: the paper's figures for the MNIST
//! network — Fig. 2 (library size and agreement vs θ per layer), Fig. 3 (confusion
//! indices), Fig. 5 (CPL as a PGD detector: AUROC vs ε per threshold set, both CPL
//! variants, pixel-space attack and the paper's quirk; CPL histograms) — each as JSON,
//! a Markdown table and SVG, plus a timing table.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::prelude::*;
use hapscope_models::data::mnist::{self, Split};
use hapscope_models::experiment::NetFns;
use hapscope_models::experiment::detect::{Detection, MNIST_SETS, detect, out_of_distribution};
use hapscope_models::experiment::fit::{Fit, fit};
use hapscope_models::kernel::GemmKernel;
use hapscope_models::nets::lenet::{MNIST_MEAN, MNIST_STD};
use hapscope_models::pgd::PgdSpace;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::args::{Model, ReproduceArgs, SplitArg};
use crate::nets::{Net, dataset, load};
use crate::plot::{Series, heatmap_svg, histogram_svg, line_panel, stacked};

/// What a run covers.
struct Plan {
    train_rows: usize,
    test_rows: usize,
    grid: Vec<f32>,
    attack_rows: usize,
    eps: Vec<f32>,
    quirk_eps: Vec<f32>,
    ood_rows: usize,
    sparse_k: Vec<usize>,
}

fn plan(fast: bool) -> Plan {
    let grid = |lo: f32, hi: f32| {
        (0..)
            .map(|i| ((lo + 0.05 * i as f32) * 100.0).round() / 100.0)
            .take_while(|&t| t <= hi + 1e-4)
            .collect()
    };
    if fast {
        Plan {
            train_rows: 6000,
            test_rows: 1000,
            grid: grid(0.55, 0.85),
            attack_rows: 50,
            eps: vec![0.1, 0.3],
            quirk_eps: vec![0.3],
            ood_rows: 200,
            sparse_k: vec![64, 256],
        }
    } else {
        Plan {
            train_rows: 60_000,
            test_rows: 10_000,
            grid: grid(0.4, 0.9),
            attack_rows: 200,
            eps: vec![0.05, 0.1, 0.2, 0.3],
            quirk_eps: vec![0.05, 0.1, 0.2, 0.3],
            ood_rows: 2000,
            sparse_k: vec![64, 256, 1024],
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    fs::write(dir.join(name), text).with_context(|| format!("writing {}", dir.join(name).display()))
}

pub fn reproduce(args: &ReproduceArgs) -> Result<()> {
    if args.model != Model::Mnist {
        bail!(
            "reproduce resnet is not implemented yet; `hapscope eval resnet` and `hapscope attack resnet` work"
        );
    }
    let p = plan(args.fast);
    fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let t_all = Instant::now();
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let Net::LeNet(net) = load(args.model, args.weights.as_deref(), &device)? else {
        unreachable!()
    };
    let Net::LeNet(frozen) = load(args.model, args.weights.as_deref(), &ad)? else {
        unreachable!()
    };
    let frozen = frozen.freeze();
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
    let confusions: Vec<(&'static str, f32)> = ["CN1", "CN2", "FC1"]
        .iter()
        .flat_map(|&l| [0.65f32, 0.75].map(|t| (l, t)))
        .collect();
    let t_fit = Instant::now();
    let f = fit(
        &fns,
        &train,
        &test,
        p.train_rows,
        p.test_rows,
        &p.grid,
        &confusions,
        3,
        None,
        kernel,
        &mut |stage, n| {
            bar.set_message(stage.to_string());
            bar.inc(n as u64);
        },
    )?;
    bar.finish_and_clear();
    let fit_s = t_fit.elapsed().as_secs_f64();
    figure2(&args.out, &f)?;
    figure3(&args.out, &f)?;

    let sets: Vec<Vec<f32>> = MNIST_SETS.iter().map(|s| s.to_vec()).collect();
    let quirk = PgdSpace::NormalizedQuirk {
        mean: vec![MNIST_MEAN],
        std: vec![MNIST_STD],
    };
    let spinner = ProgressBar::new_spinner();
    let t_det = Instant::now();
    let d = detect(
        &fns,
        &f,
        &test,
        p.attack_rows,
        &sets,
        &p.eps,
        Some((&p.quirk_eps, quirk)),
        3,
        &kernel,
        &mut |m| spinner.set_message(m.to_string()),
    )?;
    spinner.finish_and_clear();
    let det_s = t_det.elapsed().as_secs_f64();
    figure5(&args.out, &d, &sets)?;
    let t_ood = Instant::now();
    match mnist::load_fashion(&args.fashion, Split::Test) {
        Ok(fashion) => {
            let a = out_of_distribution(&fns, &f, &test, &fashion, p.ood_rows, &sets, 3, &kernel)?;
            out_of_training(&args.out, &a, p.ood_rows)?;
        }
        Err(e) => write(
            &args.out,
            "ood.md",
            &format!("# Out-of-training inputs (§4.2)\n\nNot run: {e}\n"),
        )?,
    }
    let ood_s = t_ood.elapsed().as_secs_f64();
    let t_sparse = Instant::now();
    sparse(
        &args.out, &fns, &train, &test, &p, &f, &d, &sets[0], &kernel,
    )?;
    let sparse_s = t_sparse.elapsed().as_secs_f64();
    timings(
        &args.out,
        &f,
        &d,
        [fit_s, det_s, ood_s, sparse_s],
        t_all.elapsed().as_secs_f64(),
    )?;
    println!(
        "wrote Fig. 2, 3, 5, the out-of-training test and timings to {} in {:.0} s",
        args.out.display(),
        t_all.elapsed().as_secs_f64()
    );
    Ok(())
}

fn figure2(dir: &Path, f: &Fit) -> Result<()> {
    let layers: Vec<Value> = f
        .layers
        .iter()
        .map(|l| json!({"name": l.name, "dim": l.dim, "sizes": l.libraries.iter().map(|x| x.len()).collect::<Vec<_>>(), "top1": l.top1, "top3": l.top3}))
        .collect();
    let doc = json!({"figure": "2", "grid": f.grid, "train_rows": f.train_rows, "test_rows": f.test_rows, "network_test_accuracy": f.test_accuracy, "layers": layers});
    write(
        dir,
        "fig2.json",
        &(serde_json::to_string_pretty(&doc)? + "\n"),
    )?;
    let mut md = format!(
        "# Fig. 2 — MNIST: library size and agreement with the network's answers\n\n{} training and {} test digits; network test accuracy {:.4}.\n\n",
        f.train_rows, f.test_rows, f.test_accuracy
    );
    let head: String = f
        .layers
        .iter()
        .map(|l| format!(" {} size | top-1 | top-3 |", l.name))
        .collect();
    let _ = writeln!(
        md,
        "| θ |{head}\n|---:|{}",
        "---:|---:|---:|".repeat(f.layers.len())
    );
    for (t, theta) in f.grid.iter().enumerate() {
        let row: String = f
            .layers
            .iter()
            .map(|l| {
                format!(
                    " {} | {:.4} | {:.4} |",
                    l.libraries[t].len(),
                    l.top1[t],
                    l.top3[t]
                )
            })
            .collect();
        let _ = writeln!(md, "| {theta:.2} |{row}");
    }
    write(dir, "fig2.md", &md)?;
    let series =
        |f2: &dyn Fn(&hapscope_models::experiment::fit::LayerFit, usize) -> f64| -> Vec<Series> {
            f.layers
                .iter()
                .map(|l| Series {
                    name: l.name.into(),
                    points: f
                        .grid
                        .iter()
                        .enumerate()
                        .map(|(t, &th)| (f64::from(th), f2(l, t)))
                        .collect(),
                })
                .collect()
        };
    stacked(&dir.join("fig2a.svg"), 1, |_, a| {
        line_panel(
            a,
            "Fig. 2A: library size vs θ",
            "θ",
            "nodes (log)",
            &series(&|l, t| l.libraries[t].len() as f64),
            true,
            None,
        )
    })?;
    stacked(&dir.join("fig2bc.svg"), 2, |i, a| {
        if i == 0 {
            line_panel(
                a,
                "Fig. 2B: top-1 agreement",
                "θ",
                "fraction",
                &series(&|l, t| l.top1[t]),
                false,
                Some((0.0, 1.02)),
            )
        } else {
            line_panel(
                a,
                "Fig. 2C: answer within top-3",
                "θ",
                "fraction",
                &series(&|l, t| l.top3[t]),
                false,
                Some((0.0, 1.02)),
            )
        }
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

fn figure5(dir: &Path, d: &Detection, sets: &[Vec<f32>]) -> Result<()> {
    let variants = ["eq5", "top20-softmax"];
    let mut md = String::from(
        "# Fig. 5 — CPL as a detector of PGD attacks (AUROC, clean = positive)\n\nAUROC over all attacked images / over successful attacks only. Sets are Table 1's (CN1, CN2, FC1, FC2 θ).\n",
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
                o.eps,
                o.successes,
                o.clean_correct,
                cells.join(" | ")
            );
        }
    }
    write(dir, "fig5.md", &md)?;
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
    let doc = json!({"figure": "5", "sets": sets, "outcomes": outcomes, "clean_cpl_set1": {"eq5": d.clean_cpl_set1[0], "top20_softmax": d.clean_cpl_set1[1]}});
    write(
        dir,
        "fig5.json",
        &(serde_json::to_string_pretty(&doc)? + "\n"),
    )?;
    for mode in ["pixel", "quirk"] {
        let outs: Vec<_> = d.outcomes.iter().filter(|o| o.mode == mode).collect();
        if outs.is_empty() {
            continue;
        }
        stacked(&dir.join(format!("fig5bc-{mode}.svg")), 2, |v, a| {
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
                    "Fig. 5{}: AUROC of CPL ({}) vs ε, {mode} PGD",
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
                &dir.join(format!("fig5a-{name}.svg")),
                &format!("Fig. 5A: CPL ({name}), set 1, clean vs PGD ε={}", o.eps),
                ("clean", &d.clean_cpl_set1[v]),
                ("adversarial", &o.cpl_set1[v]),
                20,
            )?;
        }
    }
    Ok(())
}

fn timings(
    dir: &Path,
    f: &Fit,
    d: &Detection,
    [fit_s, det_s, ood_s, sparse_s]: [f64; 4],
    total: f64,
) -> Result<()> {
    let mut md = String::from(
        "# Where the time goes (`hapscope reproduce mnist`)\n\n| stage | seconds |\n|---|---:|\n",
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
            f.grid.len(),
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
    set1: &[f32],
    kernel: &GemmKernel,
) -> Result<()> {
    let mut grid: Vec<f32> = set1.to_vec();
    grid.sort_by(f32::total_cmp);
    grid.dedup();
    let eps = *p.eps.last().unwrap_or(&0.3);
    let sets = vec![set1.to_vec()];
    // One row per K: (K, per layer (size, top-1), AUROC [eq5, softmax]).
    let mut rows: Vec<SparseRow> = Vec::new();
    for &k in &p.sparse_k {
        let f = fit(
            fns,
            train,
            test,
            p.train_rows,
            p.test_rows,
            &grid,
            &[],
            3,
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
            3,
            kernel,
            &mut |_| {},
        )?;
        let per_layer = f.layers.iter().enumerate().map(|(l, lf)| {
            let t = hapscope_models::experiment::grid_index(&grid, set1[l]).unwrap_or(0);
            (lf.libraries[t].len(), lf.top1[t])
        });
        rows.push((k.to_string(), per_layer.collect(), d.outcomes[0].auroc[0]));
    }
    let strong = full_detection.outcomes.iter().rfind(|o| o.mode == "pixel");
    let all_layers = full.layers.iter().enumerate().map(|(l, lf)| {
        let t = hapscope_models::experiment::grid_index(&full.grid, set1[l]).unwrap_or(0);
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
