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
    println!("| θ | size | top-1 | top-3 | build s | links s | predict s |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut points = Vec::new();
    let mut rows = Vec::new();
    for &theta in &thetas {
        let r = run(&inputs, theta, &args.data)?;
        println!(
            "| {theta:.2} | {} | {:.4} | {:.4} | {:.2} | {:.2} | {:.2} |",
            r.library.len(),
            r.agreement.top1,
            r.agreement.top3,
            r.build_seconds,
            r.links_seconds,
            r.predict_seconds
        );
        rows.push(json!({
            "theta": theta, "size": r.library.len(), "top1": r.agreement.top1, "top3": r.agreement.top3,
            "build_s": r.build_seconds, "links_s": r.links_seconds, "predict_s": r.predict_seconds,
        }));
        points.push(SweepPoint {
            theta,
            size: r.library.len(),
            top1: r.agreement.top1,
            top3: r.agreement.top3,
        });
    }
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
        let doc = json!({ "dim": inputs.train.cols, "top_a": args.data.top_a, "classes": inputs.classes, "rows": rows });
        fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
