//! `hapscope reproduce mnist [--fast] [--out DIR]`: the paper's figures for the MNIST
//! network — Fig. 2 (library size and agreement vs θ per layer), Fig. 3 (confusion
//! indices), Fig. 5 (CPL as a PGD detector: AUROC vs ε per threshold set, both CPL
//! variants, pixel-space attack and the paper's quirk; CPL histograms) — each as JSON,
//! a Markdown table and SVG, plus a timing table.
//!
//! The plan (θ grids, Table 1's sets, ε) and the experiments live in the library
//! (`experiment::{plan, fit, detect, sparse}`), the JSON documents are its typed reports
//! (`experiment::report`); this command shows progress and renders Markdown and SVG.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use hapscope_models::data::mnist::{self, Split};
use hapscope_models::experiment::NetFns;
use hapscope_models::experiment::detect::{Detection, ThresholdSets, detect, out_of_distribution};
use hapscope_models::experiment::fit::{Fit, LayerFit, fit};
use hapscope_models::experiment::plan::Plan;
use hapscope_models::experiment::report::{
    Fig2Report, Fig3Report, Fig5Report, OodReport, SparseReport, to_json,
};
use hapscope_models::experiment::sparse::sparse_sampling;
use hapscope_models::kernel::GemmKernel;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{Model, ReproduceArgs};
use crate::nets::{Setup, setup};
use crate::plot::{Series, heatmap_svg, histogram_svg, line_panel, stacked};

/// The run's plan, checked (every θ it asks for is on its tap's grid).
fn plan(model: Model, fast: bool) -> Result<Plan> {
    let p = match model {
        Model::Mnist => Plan::mnist(fast),
        Model::Resnet => Plan::resnet(fast),
    };
    p.check()?;
    Ok(p)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    fs::write(dir.join(name), text).with_context(|| format!("writing {}", dir.join(name).display()))
}

pub fn reproduce(args: &ReproduceArgs) -> Result<()> {
    let p = plan(args.model, args.fast)?;
    fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let t_all = Instant::now();
    let Setup {
        device,
        ad,
        net,
        frozen,
        train,
        test,
    } = setup(args.model, args.weights.as_deref(), args.data.as_deref())?;
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
        let spinner = ProgressBar::new_spinner();
        let report = sparse_sampling(&fns, &train, &test, &p, &f, &d, &kernel, &mut |m| {
            spinner.set_message(m.to_string())
        })?;
        spinner.finish_and_clear();
        sparse(&args.out, &report, p.attack_rows)?;
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
    write(
        dir,
        &format!("fig{fig}.json"),
        &to_json(&Fig2Report::new(fig, f))?,
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
    for c in &f.confusions {
        let m = &c.matrix;
        let _ = writeln!(
            md,
            "\n## {} at θ = {:.2} ({} trials)\n\n| d1 \\ d2 | {} |\n|---|{}",
            c.layer,
            c.theta,
            m.trials.iter().sum::<u64>(),
            (0..m.classes)
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(m.classes)
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
        let name = Fig3Report::svg_name(c.layer, c.theta);
        heatmap_svg(
            &dir.join(&name),
            &format!("Fig. 3: confusion index, {} θ={:.2}", c.layer, c.theta),
            m.classes,
            &m.values,
        )?;
    }
    write(dir, "fig3.md", &md)?;
    write(dir, "fig3.json", &to_json(&Fig3Report::new(f))?)
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
    write(
        dir,
        &format!("fig{fig}.json"),
        &to_json(&Fig5Report::new(fig, d, sets))?,
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
    write(dir, "ood.json", &to_json(&OodReport::new(rows, a))?)
}

/// §4.3's sparse sampling: the table, the JSON and the plot of
/// [`sparse_sampling`]'s report (`attack_rows` test digits were attacked).
fn sparse(dir: &Path, r: &SparseReport, attack_rows: usize) -> Result<()> {
    let label = |k: Option<usize>| k.map_or_else(|| "all".to_string(), |k| k.to_string());
    let names: Vec<&str> = r.rows[0].layers.iter().map(|l| l.name.as_str()).collect();
    let mut md = format!(
        "# Sparse sampling (§4.3): libraries on K random hidden units per layer\n\nSet 1 θ ({:?}); AUROC of CPL vs PGD ε = {} on {attack_rows} test digits.\n\n| K |{} AUROC Eq. 5 | AUROC top-20 softmax |\n|---:|{}---:|---:|\n",
        r.set,
        r.eps,
        names
            .iter()
            .map(|n| format!(" {n} size | {n} top-1 |"))
            .collect::<String>(),
        "---:|---:|".repeat(names.len())
    );
    for row in &r.rows {
        let cells: String = row
            .layers
            .iter()
            .map(|l| format!(" {} | {:.4} |", l.size, l.top1))
            .collect();
        let _ = writeln!(
            md,
            "| {} |{cells} {:.3} | {:.3} |",
            label(row.k),
            row.auroc_eq5,
            row.auroc_top20_softmax
        );
    }
    write(dir, "sparse.md", &md)?;
    write(dir, "sparse.json", &to_json(r)?)?;
    // Every unit plots at log2 K = 12.
    let log2_k = |k: Option<usize>| k.map_or(4096.0, |k| k as f64).log2();
    stacked(&dir.join("sparse.svg"), 2, |i, a| {
        if i == 0 {
            let series: Vec<Series> = names
                .iter()
                .enumerate()
                .map(|(l, n)| Series {
                    name: n.to_string(),
                    points: r
                        .rows
                        .iter()
                        .map(|row| (log2_k(row.k), row.layers[l].top1))
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
                    points: r
                        .rows
                        .iter()
                        .map(|row| {
                            let au = [row.auroc_eq5, row.auroc_top20_softmax];
                            (log2_k(row.k), au[v])
                        })
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
