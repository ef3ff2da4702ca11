//! `hapscope library`: one layer, one θ.

use std::fs;

use anyhow::{Context, Result};
use hapscope_core::artifact::LibraryArtifact;
use serde_json::json;

use crate::args::LibraryArgs;
use crate::inputs::load;
use crate::run::run;

pub fn library(args: &LibraryArgs) -> Result<()> {
    hapscope_core::library::check_theta(args.theta).context("--theta")?;
    let inputs = load(&args.data)?;
    let mut r = run(&inputs, &[args.theta], &args.data)?;
    let (library, links, agreement) = (
        r.libraries.remove(0),
        r.links.remove(0),
        r.agreements.remove(0),
    );
    let total = inputs.load_seconds + r.build_seconds + r.links_seconds + r.predict_seconds;
    println!(
        "library    θ = {}, dim {}, {} training rows -> {} nodes ({} zero rows; canonical similarities: {} for the build, {} for the links)",
        args.theta,
        inputs.train.cols,
        inputs.train.rows,
        library.len(),
        r.stats.zero_rows,
        r.stats.canonical,
        r.link_pairs
    );
    println!(
        "agreement  top-1 {:.4}  top-3 {:.4}  with the network's answers on {} test rows (a = {}, {} classes)",
        agreement.top1, agreement.top3, inputs.test.rows, args.data.top_a, inputs.classes
    );
    println!(
        "timings    load {:.2} s, build {:.2} s, links {:.2} s, predict {:.2} s, total {:.2} s",
        inputs.load_seconds, r.build_seconds, r.links_seconds, r.predict_seconds, total
    );
    if let Some(path) = &args.json {
        let doc = json!({
            "theta": args.theta,
            "dim": inputs.train.cols,
            "classes": inputs.classes,
            "top_a": args.data.top_a,
            "train_rows": inputs.train.rows,
            "test_rows": inputs.test.rows,
            "size": library.len(),
            "node_ids": library.source_ids(),
            "zero_train_rows": r.stats.zero_rows,
            "top1": agreement.top1,
            "top3": agreement.top3,
            "predictions": agreement.predictions,
            "timings_s": {
                "load": inputs.load_seconds, "build": r.build_seconds, "links": r.links_seconds,
                "predict": r.predict_seconds, "total": total,
            },
        });
        fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.artifact {
        let layer = args
            .data
            .train_haps
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("layer");
        let layer: String = layer.chars().take(64).collect();
        let art = LibraryArtifact::new(&layer, &library, &links, true)?;
        fs::write(path, art.encode()).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
