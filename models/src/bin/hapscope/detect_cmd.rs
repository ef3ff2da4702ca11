//! `hapscope detect mnist|resnet [--fast] [--out DIR]`: the detectors of
//! `hapscope_models::detector` against CPL and feature squeezing on the same inputs —
//! PGD-40 at each ε, the adaptive attacker, out-of-training images — written as
//! `detect.json.gz` (the report with every input's scores, so each AUROC can be recomputed),
//! `detect.md` (tables) and SVG ROC curves and evasion plots.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use hapscope_core::auroc::roc_points;
use hapscope_models::data::mnist::{self, Split};
use hapscope_models::experiment::NetFns;
use hapscope_models::experiment::candidates::{CandidateReport, evaluate};
use hapscope_models::experiment::detection::{
    AdaptiveRow, DetectNet, DetectPlan, DetectReport, Setting, detect_run, half_evasion_eps,
    rescore, statistic_names,
};
use hapscope_models::kernel::GemmKernel;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{DetectArgs, Model};
use crate::nets::{Setup, setup};
use crate::plot::{Series, line_panel, stacked};

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    fs::write(dir.join(name), text).with_context(|| format!("writing {}", dir.join(name).display()))
}

/// Reads a report `detect` wrote.
fn read_report(path: &Path) -> Result<DetectReport> {
    use std::io::Read as _;
    let file = fs::File::open(path).with_context(|| path.display().to_string())?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

/// Writes `detect.json.gz` (gzipped: every input's scores and raw evidence make it a few
/// MB), `detect.md` and the plots.
fn write_all(dir: &Path, report: &DetectReport) -> Result<()> {
    let path = dir.join("detect.json.gz");
    let file = fs::File::create(&path).with_context(|| path.display().to_string())?;
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    serde_json::to_writer(&mut gz, report)?;
    gz.finish().with_context(|| path.display().to_string())?;
    render(dir, report)
}

/// Writes `detect.md` and the plots of `report`.
fn render(dir: &Path, report: &DetectReport) -> Result<()> {
    let cand = evaluate(report)?;
    write(dir, "detect.md", &markdown(report, cand.as_ref()))?;
    plots(dir, report)
}

pub fn detect(args: &DetectArgs) -> Result<()> {
    let stored = args.out.join("detect.json.gz");
    if args.rescore {
        let report = rescore(&read_report(&stored)?)
            .with_context(|| format!("rescoring {}", stored.display()))?;
        write_all(&args.out, &report)?;
        println!(
            "rescored {} from its raw evidence; rewrote it, detect.md and the plots",
            stored.display()
        );
        return Ok(());
    }
    if args.render_only {
        let report = read_report(&stored)?;
        if !report.is_current() {
            anyhow::bail!(
                "{} predates some of this build's statistics ({}): `hapscope detect {} --rescore --out {}` recomputes them from its raw evidence",
                stored.display(),
                statistic_names().join(", "),
                report.plan.model,
                args.out.display()
            );
        }
        render(&args.out, &report)?;
        println!(
            "re-rendered detect.md and the plots in {}",
            args.out.display()
        );
        return Ok(());
    }
    let plan = match args.model {
        Model::Mnist => DetectPlan::mnist(args.fast),
        Model::Resnet => DetectPlan::resnet(args.fast),
    };
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
    let fashion = if plan.ood_rows > 0 {
        Some(
            mnist::load_fashion(&args.fashion, Split::Test)
                .with_context(|| format!("Fashion-MNIST in {}", args.fashion.display()))?,
        )
    } else {
        None
    };
    let taps = |x| net.forward_taps(x);
    let taps_ad = |x| frozen.forward_taps(x);
    let logits_ad = |x| frozen.forward(x);
    let fns = NetFns {
        taps: &taps,
        logits_ad: &logits_ad,
        device: device.clone(),
        ad: ad.clone(),
    };
    let dnet = DetectNet {
        taps: &taps,
        taps_ad: &taps_ad,
        device,
        ad,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos} rows (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let report = detect_run(
        &dnet,
        &fns,
        &train,
        &test,
        fashion.as_ref(),
        &plan,
        GemmKernel::new(0),
        &mut |stage, n| {
            if bar.message() != stage {
                bar.suspend(|| {
                    eprintln!("detect: {stage} ({:.0} s)", t_all.elapsed().as_secs_f64())
                });
                bar.set_message(stage.to_string());
                bar.set_position(0);
            }
            bar.inc(n as u64);
        },
    )?;
    bar.finish_and_clear();
    write_all(&args.out, &report)?;
    println!(
        "wrote detect.json.gz, detect.md and the ROC plots to {} in {:.0} s",
        args.out.display(),
        t_all.elapsed().as_secs_f64()
    );
    Ok(())
}

/// ε as the literature writes it: a fraction of the pixel range for MNIST, k/255 for
/// CIFAR-10.
fn eps_text(p: &DetectPlan, eps: f32) -> String {
    if p.model == "resnet" {
        format!("{}/255", (eps * 255.0).round())
    } else {
        format!("{eps}")
    }
}

fn label(p: &DetectPlan, s: &Setting) -> String {
    match s.kind.as_str() {
        "ood" => "Fashion-MNIST".to_string(),
        "pgd" => format!("PGD ε {}", eps_text(p, s.eps)),
        _ => format!(
            "adaptive {} λ {} ε {}",
            s.target.map_or("", |t| t.name()),
            s.lambda.unwrap_or(0.0),
            eps_text(p, s.eps)
        ),
    }
}

/// The Markdown tables, with the candidate combinations' where the report stores raw
/// evidence.
pub fn markdown(r: &DetectReport, cand: Option<&CandidateReport>) -> String {
    let p = &r.plan;
    let names = statistic_names();
    let mut md = format!(
        "# Detectors of attacks: {}{}\n\nFitted on {} training images; per-layer p-values calibrated on {} clean test images (set A), thresholds on {} others (set B); evaluated on {} correctly answered test images. Every fit, threshold and parameter comes from clean inputs. Scores: higher = flagged.\n\n",
        p.model,
        if p.fast { " (fast)" } else { "" },
        p.train_rows,
        r.calibration[0],
        r.calibration[1],
        r.clean.len()
    );
    let _ = writeln!(
        md,
        "| layer | θ | nodes | Gaussian features shrinkage γ |\n|---|---:|---:|---:|"
    );
    for (k, name) in r.layer_names.iter().enumerate() {
        let _ = writeln!(
            md,
            "| {name} | {:.2} | {} | {:.4} |",
            p.thetas[p.layers[k]], r.library_sizes[k], r.shrinkage[k]
        );
    }
    let main: Vec<&Setting> = r.settings.iter().filter(|s| s.kind != "adaptive").collect();
    let _ = write!(
        md,
        "\n## AUROC (bootstrap 95 % interval), successful attacks only\n\n| detector |"
    );
    for s in &main {
        let _ = write!(md, " {} ({} of {}) |", label(p, s), s.successes, s.inputs);
    }
    let _ = write!(md, "\n|---|{}\n", "---:|".repeat(main.len()));
    for (d, name) in names.iter().enumerate() {
        let _ = write!(md, "| {name} |");
        for s in &main {
            let x = &s.results[d];
            match (x.auroc, x.ci) {
                (Some(a), Some(ci)) => {
                    let _ = write!(md, " {a:.3} [{:.3}, {:.3}] |", ci[0], ci[1]);
                }
                _ => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    let _ = write!(
        md,
        "\n## TPR at 1 % / 5 % FPR (thresholds from set B; realised FPR on the clean evaluation images)\n\n| detector | realised FPR |"
    );
    for s in &main {
        let _ = write!(md, " {} |", label(p, s));
    }
    let _ = write!(md, "\n|---|---:|{}\n", "---:|".repeat(main.len()));
    for (d, name) in names.iter().enumerate() {
        let _ = write!(
            md,
            "| {name} | {:.3} / {:.3} |",
            r.realised_fpr[d][0], r.realised_fpr[d][1]
        );
        for s in &main {
            let x = &s.results[d];
            let _ = write!(md, " {:.3} / {:.3} |", x.tpr[0], x.tpr[1]);
        }
        md.push('\n');
    }
    let _ = write!(
        md,
        "\n## Per-layer evidence: AUROC of each layer's k-NN disagreements / Gaussian distance\n\n| setting |"
    );
    for n in &r.layer_names {
        let _ = write!(md, " {n} |");
    }
    let _ = write!(md, "\n|---|{}\n", "---:|".repeat(r.layer_names.len()));
    for s in &main {
        let _ = write!(md, "| {} |", label(p, s));
        for v in &s.per_layer {
            match v {
                Some(v) => {
                    let _ = write!(md, " {:.3} / {:.3} |", v[0], v[1]);
                }
                None => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    if !r.adaptive.is_empty() {
        let _ = write!(
            md,
            "\n## Adaptive PGD-40\n\nPGD-40 on Carlini & Wagner's margin (capped at κ = 5) plus λ times the detectors' differentiable terms (targets knn, gauss, cpl, squeeze and all of them; λ ∈ {:?}); per input, the attacker's best of all those attempts and plain PGD. Per ε: the fraction of the {} attacked images some attempt flipped / flipped *and* passed the detector at its 5 % FPR threshold / TPR at 5 % FPR among the flipped.\n\n| detector |",
            p.lambdas,
            r.adaptive.first().map_or(0, |a| a.inputs)
        );
        adaptive_table(&mut md, p, &r.adaptive, &names);
        let _ = write!(
            md,
            "\n### Each adaptive attack: AUROC / TPR at 5 % FPR, successful attacks only\n\n| attack | flipped |"
        );
        for n in &names {
            let _ = write!(md, " {n} |");
        }
        let _ = write!(md, "\n|---|---:|{}\n", "---:|".repeat(names.len()));
        for s in r.settings.iter().filter(|s| s.kind == "adaptive") {
            let _ = write!(md, "| {} | {} of {} |", label(p, s), s.successes, s.inputs);
            for x in &s.results {
                match x.auroc {
                    Some(a) => {
                        let _ = write!(md, " {a:.3} / {:.3} |", x.tpr[1]);
                    }
                    None => md.push_str(" – |"),
                }
            }
            md.push('\n');
        }
    }
    if let Some(c) = cand {
        candidates_markdown(&mut md, p, c);
    }
    let _ = write!(md, "\n## Timings\n\n| stage | s |\n|---|---:|\n");
    for (stage, s) in &r.seconds {
        let _ = writeln!(md, "| {stage} | {s:.1} |");
    }
    md
}

/// "ε where half evade" as the tables write it.
fn half_text(p: &DetectPlan, rows: &[AdaptiveRow], name: &str) -> String {
    // Half evade already at the smallest ε tried: all the table can say is "≤ it".
    let first = p.eps.first().copied().unwrap_or(0.0);
    half_evasion_eps(rows, name).map_or_else(
        || format!("> {}", eps_text(p, *p.eps.last().unwrap_or(&0.0))),
        |e| match (e <= first, p.model.as_str()) {
            (true, _) => format!("≤ {}", eps_text(p, first)),
            (false, "resnet") => format!("{:.1}/255", e * 255.0),
            (false, _) => format!("{e:.3}"),
        },
    )
}

/// The candidate combinations' section (`hapscope_fast::detector::candidates`).
fn candidates_markdown(md: &mut String, p: &DetectPlan, c: &CandidateReport) {
    let _ = write!(
        md,
        "\n## Candidate combinations of the same parts (from the stored raw evidence; not on the page)\n\nThe parts' p-values from set A, thresholds from set B, as above; only the combination differs. min-7: Tippett over each layer's Gaussian p-value, k-NN, CPL and squeezing; fisher-7: Fisher over the seven. AUROC [bootstrap 95 %] / TPR at 5 % FPR, successful attacks only.\n\n| candidate | realised FPR 1 % / 5 % |"
    );
    for (kind, eps, n, _) in &c.settings {
        let what = if kind == "ood" {
            "Fashion-MNIST".to_string()
        } else {
            format!("PGD ε {}", eps_text(p, *eps))
        };
        let _ = write!(md, " {what} ({n}) |");
    }
    let _ = write!(md, "\n|---|---:|{}\n", "---:|".repeat(c.settings.len()));
    for (k, name) in c.names.iter().enumerate() {
        let f = c.realised_fpr[k];
        let _ = write!(md, "| {name} | {:.3} / {:.3} |", f[0], f[1]);
        for (_, _, _, res) in &c.settings {
            let x = &res[k];
            match (x.auroc, x.ci) {
                (Some(a), Some(ci)) => {
                    let _ = write!(
                        md,
                        " {a:.3} [{:.3}, {:.3}] / {:.3} |",
                        ci[0], ci[1], x.tpr[1]
                    );
                }
                _ => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    if c.adaptive.is_empty() {
        return;
    }
    let _ = write!(
        md,
        "\nThe adaptive attacker (the same attempts as above, scored by each candidate): flipped / flipped *and* passed at 5 % FPR / TPR at 5 % FPR among the flipped.\n\n| candidate |"
    );
    let names: Vec<&str> = c.names.iter().map(String::as_str).collect();
    adaptive_table(md, p, &c.adaptive, &names);
}

/// The adaptive summary's columns (ε…, where half evade) after a table's first header cell,
/// and one row per name.
fn adaptive_table(md: &mut String, p: &DetectPlan, rows: &[AdaptiveRow], names: &[&str]) {
    for e in &p.eps {
        let _ = write!(md, " ε {} |", eps_text(p, *e));
    }
    let _ = write!(
        md,
        " ε where half evade |\n|---|{}---:|\n",
        "---:|".repeat(p.eps.len())
    );
    for name in names {
        let _ = write!(md, "| {name} |");
        for e in &p.eps {
            match rows
                .iter()
                .find(|a| a.detector == *name && (a.eps - e).abs() < 1e-6)
            {
                Some(a) => {
                    let tpr = a.tpr5.map_or("–".to_string(), |t| format!("{t:.2}"));
                    let _ = write!(md, " {:.2} / {:.2} / {tpr} |", a.flipped, a.evaded);
                }
                None => md.push_str(" – |"),
            }
        }
        let _ = writeln!(md, " {} |", half_text(p, rows, name));
    }
}

/// The points of a curve that move it by at least `step` in either coordinate since the last
/// one kept, and the last point: a ROC of thousands of distinct scores drawn in a few hundred
/// points (the SVG stays small; the curve is unchanged to the eye).
fn thin(points: Vec<(f64, f64)>, step: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (i, &p) in points.iter().enumerate() {
        let keep = match out.last() {
            None => true,
            Some(&(x, y)) => {
                (p.0 - x).abs() >= step || (p.1 - y).abs() >= step || i + 1 == points.len()
            }
        };
        if keep {
            out.push(p);
        }
    }
    out
}

fn plots(dir: &Path, r: &DetectReport) -> Result<()> {
    let p = &r.plan;
    let names = statistic_names();
    let main: Vec<&Setting> = r
        .settings
        .iter()
        .filter(|s| s.kind != "adaptive" && s.successes > 0)
        .collect();
    stacked(&dir.join("detect-roc.svg"), main.len(), |i, area| {
        let s = main[i];
        let series = names
            .iter()
            .enumerate()
            .map(|(d, name)| {
                let clean: Vec<f64> = r.clean.iter().map(|c| c[d]).collect();
                let hit: Vec<f64> = s.scores.iter().filter(|x| x.1).map(|x| x.0[d]).collect();
                Ok(Series {
                    name: format!("{name} ({:.3})", s.results[d].auroc.unwrap_or(f64::NAN)),
                    points: thin(roc_points(&hit, &clean)?, 0.005),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        line_panel(
            area,
            &format!("ROC: {}", label(p, s)),
            "FPR",
            "TPR",
            &series,
            false,
            Some((0.0, 1.0)),
        )
    })?;
    if !r.adaptive.is_empty() {
        stacked(&dir.join("detect-adaptive.svg"), 1, |_, area| {
            let series: Vec<Series> = names
                .iter()
                .map(|name| Series {
                    name: name.to_string(),
                    points: r
                        .adaptive
                        .iter()
                        .filter(|a| a.detector == *name)
                        .map(|a| (f64::from(a.eps), a.evaded))
                        .collect(),
                })
                .collect();
            line_panel(
                area,
                "Adaptive PGD-40: flipped and passed at 5 % FPR",
                "ε",
                "fraction evading",
                &series,
                false,
                Some((0.0, 1.0)),
            )
        })?;
    }
    Ok(())
}
