//! `hapscope sweep`: library size and agreement over a range of θ — a Markdown table on
//! stdout, an SVG plot, optionally JSON.

use std::fs;

use anyhow::{Context, Result};
use serde_json::json;

use crate::args::{SweepArgs, parse_theta_range};
use crate::inputs::load;
use crate::plot::{SweepPoint, sweep_svg};
use crate::run::run;

pub fn sweep(args: &SweepArgs) -> Result<()> {
    let thetas = parse_theta_range(&args.theta)
        .map_err(anyhow::Error::msg)
        .context("--theta")?;
    for &t in &thetas {
        hapscope_core::library::check_theta(t).with_context(|| format!("--theta value {t}"))?;
    }
    let inputs = load(&args.data)?;
    let r = run(&inputs, &thetas, &args.data)?;
    println!("| θ | size | top-1 | top-3 |");
    println!("|---:|---:|---:|---:|");
    let mut points = Vec::new();
    let mut rows = Vec::new();
    for ((&theta, lib), a) in thetas.iter().zip(&r.libraries).zip(&r.agreements) {
        println!(
            "| {theta:.2} | {} | {:.4} | {:.4} |",
            lib.len(),
            a.top1,
            a.top3
        );
        rows.push(json!({
            "theta": theta, "size": lib.len(), "top1": a.top1, "top3": a.top3,
        }));
        points.push(SweepPoint {
            theta,
            size: lib.len(),
            top1: a.top1,
            top3: a.top3,
        });
    }
    println!(
        "\nthe whole grid in one pass: {} distinct nodes; build {:.2} s, links {:.2} s, predict {:.2} s",
        r.union, r.build_seconds, r.links_seconds, r.predict_seconds
    );
    let title = args
        .data
        .train_haps
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("sweep")
        .to_string();
    sweep_svg(&args.plot, &title, &points)?;
    eprintln!("wrote {}", args.plot.display());
    if let Some(path) = &args.json {
        let doc = json!({ "dim": inputs.train.cols, "top_a": args.data.top_a, "classes": inputs.classes, "rows": rows,
            "union": r.union, "timings_s": { "build": r.build_seconds, "links": r.links_seconds, "predict": r.predict_seconds } });
        fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
