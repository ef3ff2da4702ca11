//! `hapscope predict`: a saved library (the artifact of `hapscope library --artifact`, or of
//! the Python package's `Library.save`) predicts the network's answers on new HAPs (Eq. 3).

use std::fs;

use anyhow::{Context, Result, bail};
use hapscope_core::artifact::LibraryArtifact;
use hapscope_core::predict::{Predictor, top_k};
use hapscope_models::kernel::GemmKernel;
use hapscope_models::method::{agreement, predict_scores};
use serde_json::json;

use crate::args::PredictArgs;
use crate::inputs::{answers, matrix};

pub fn predict(args: &PredictArgs) -> Result<()> {
    if args.top_a == 0 {
        bail!("--top must be at least 1");
    }
    let path = &args.artifact;
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let art = LibraryArtifact::decode(&bytes)
        .with_context(|| format!("{}: not a readable hapscope library", path.display()))?;
    let library = match art.library() {
        Some(l) => l.with_context(|| path.display().to_string())?,
        None => bail!(
            "{}: the artifact stores links only, without node vectors; it cannot predict",
            path.display()
        ),
    };
    let haps = matrix(&args.haps)?;
    if haps.cols != library.dim() {
        bail!(
            "{}: {} columns but the library's HAPs have {} (layer {})",
            args.haps.display(),
            haps.cols,
            library.dim(),
            art.layer
        );
    }
    let classes = art.links.classes();
    let predictor = Predictor::new(&library, &art.links, args.top_a)?;
    let kernel = GemmKernel::new(args.threads);
    let scores = predict_scores(&predictor, &haps.data, haps.cols, &kernel, &mut |_| {})?;
    // Each row's top-1 class, as `agreement` ranks it (ties to the lower class).
    let predictions: Vec<usize> = scores
        .chunks_exact(classes)
        .map(|row| top_k(row, 1)[0])
        .collect();
    let agree = match &args.answers {
        Some(p) => Some(agreement(
            &scores,
            classes,
            &answers(p, haps.rows, &args.haps)?,
        )),
        None => None,
    };
    println!(
        "library    layer {}, θ = {}, dim {}, {} nodes, {} classes",
        art.layer,
        art.theta,
        library.dim(),
        library.len(),
        classes
    );
    if let Some(agree) = &agree {
        println!(
            "agreement  top-1 {:.4}  top-3 {:.4}  with the given answers on {} rows (a = {})",
            agree.top1, agree.top3, haps.rows, args.top_a
        );
    } else {
        println!("predicted  {} rows (a = {})", haps.rows, args.top_a);
    }
    if let Some(out) = &args.json {
        let mut doc = json!({
            "layer": art.layer,
            "theta": art.theta,
            "nodes": library.len(),
            "classes": classes,
            "top_a": args.top_a,
            "rows": haps.rows,
            "predictions": predictions,
        });
        if let Some(agree) = &agree {
            doc["top1"] = json!(agree.top1);
            doc["top3"] = json!(agree.top3);
        }
        fs::write(out, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
