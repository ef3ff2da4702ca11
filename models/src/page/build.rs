//! Building the page's bundle natively: libraries and links for every LeNet layer from a
//! set of training digits, the CPL threshold calibrated on digits held out of them.
//!
//! The digits are split by position: every `holdout_every`-th digit (source ids
//! `k · holdout_every − 1`) is held out; the rest, in order, build the libraries
//! (sequential semantics, DESIGN.md) and the links (Eq. 2, the network's answers).

use burn::prelude::*;
use hapscope_core::artifact::LibraryArtifact;
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::library::Library;

use super::bundle::{Bundle, BundleError, DIGIT_BYTES, file_ref};
use super::manifest::{Calibration, LayerRef, MANIFEST_FORMAT, Manifest};
use super::model::{PageModel, calibrate, exemplar_pixels};
use crate::data::images::LabelledImages;
use crate::experiment::{HostTaps, to_host};
use crate::method::{LinkBuilder, library_builder};
use crate::nets::lenet::{LENET_TAP_DIMS, LENET_TAPS, LeNet};
use crate::taps::Taps;

/// Digits per forward pass.
const BATCH: usize = 256;
/// Exemplars per forward pass when a model is assembled: smaller batches keep burn-flex's
/// convolution buffers in cache (64 was fastest in the page, 1.8 s vs 2.2 s at 256 for 1,269
/// digits).
const EXEMPLAR_BATCH: usize = 64;

/// What to build.
#[derive(Debug, Clone)]
pub struct PageOptions {
    /// θ per layer (CN1, CN2, FC1, FC2).
    pub thetas: [f32; 4],
    /// Top-a nodes per prediction (Eq. 3; 3 for MNIST).
    pub top_a: usize,
    /// Every `holdout_every`-th digit is held out for calibration and fidelity tests.
    pub holdout_every: usize,
    /// Target false-positive rate of the verdict on clean held-out digits.
    pub false_positive_rate: f64,
    /// Where the digits came from, in words (goes into the manifest).
    pub source: String,
}

/// Whether digit `i` is held out.
pub fn held_out(i: usize, every: usize) -> bool {
    (i + 1) % every == 0
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> BundleError + '_ {
    move |e| BundleError(format!("{what}: {e}"))
}

/// The forward pass over digits `rows` (by index), taps on the host.
pub fn forward_rows(
    net: &LeNet,
    digits: &LabelledImages,
    rows: &[usize],
    device: &Device,
) -> HostTaps {
    let (x, _) = digits.batch(rows, device);
    to_host(net.forward_taps(x))
}

/// Builds the bundle: libraries (pass 1), links (pass 2), exemplars, then the calibration
/// on the held-out digits with the model exactly as the page assembles it (node HAPs
/// recomputed from the exemplars). `progress(stage, done, total)` reports digits processed.
pub fn build_bundle<K: SimilarityKernel + Clone>(
    net: &LeNet,
    weights: Vec<u8>,
    digits: &LabelledImages,
    opts: &PageOptions,
    kernel: K,
    device: &Device,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Bundle, BundleError> {
    if digits.shape != [1, 28, 28] {
        return Err(BundleError(format!(
            "digits are {:?}, not 1×28×28",
            digits.shape
        )));
    }
    let train: Vec<usize> = (0..digits.count)
        .filter(|&i| !held_out(i, opts.holdout_every))
        .collect();
    // Pass 1: libraries (source ids count training rows; mapped to digit ids below).
    let mut builders = Vec::new();
    for (&dim, &theta) in LENET_TAP_DIMS.iter().zip(&opts.thetas) {
        builders.push(library_builder(dim, theta, kernel.clone(), true).map_err(err("library"))?);
    }
    for (b, rows) in train.chunks(BATCH).enumerate() {
        let taps = forward_rows(net, digits, rows, device);
        for (builder, (_, _, values)) in builders.iter_mut().zip(&taps.layers) {
            builder.push(values).map_err(err("library"))?;
        }
        progress(
            "libraries",
            (b * BATCH + rows.len()).min(train.len()),
            train.len(),
        );
    }
    let libraries: Vec<Library> = builders.into_iter().map(|b| b.finish()).collect();
    // Pass 2: links from every training digit, with the network's answers.
    let mut links: Vec<LinkBuilder> = libraries
        .iter()
        .map(|l| LinkBuilder::new(l, 10))
        .collect::<Result<_, _>>()
        .map_err(err("links"))?;
    for (b, rows) in train.chunks(BATCH).enumerate() {
        let taps = forward_rows(net, digits, rows, device);
        for (lb, (_, _, values)) in links.iter_mut().zip(&taps.layers) {
            lb.add(values, &taps.answers, &kernel)
                .map_err(err("links"))?;
        }
        progress(
            "links",
            (b * BATCH + rows.len()).min(train.len()),
            train.len(),
        );
    }
    let links: Vec<_> = links.into_iter().map(|l| l.finish()).collect();
    // Exemplars: every digit that is a node of some layer.
    let to_id = |row: u32| train[row as usize] as u32;
    let mut ids: Vec<u32> = libraries
        .iter()
        .flat_map(|l| l.source_ids().iter().map(|&r| to_id(r)))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut exemplars = Vec::with_capacity(ids.len() * DIGIT_BYTES);
    for &id in &ids {
        exemplars.extend_from_slice(&digits.pixels[id as usize * DIGIT_BYTES..][..DIGIT_BYTES]);
    }
    let mut artifacts = Vec::new();
    let mut layer_refs = Vec::new();
    for ((lib, l), name) in libraries.iter().zip(&links).zip(LENET_TAPS) {
        let mapped: Vec<u32> = lib.source_ids().iter().map(|&r| to_id(r)).collect();
        let lib = Library::from_parts(lib.dim(), lib.theta(), lib.vectors().to_vec(), mapped)
            .map_err(err(name))?;
        let a = LibraryArtifact::new(name, &lib, l, false).map_err(err(name))?;
        let bytes = a.encode();
        layer_refs.push(LayerRef {
            name: name.to_string(),
            theta: lib.theta(),
            nodes: lib.len(),
            file: file_ref(&format!("{name}.haplib"), &bytes),
        });
        artifacts.push(a);
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        source: opts.source.clone(),
        weights: file_ref("lenet.safetensors", &weights),
        exemplars: file_ref("exemplars.u8", &exemplars),
        exemplar_labels: ids.iter().map(|&i| digits.labels[i as usize]).collect(),
        exemplar_ids: ids,
        layers: layer_refs,
        top_a: opts.top_a,
        calibration: Calibration {
            variant: "eq5".into(),
            threshold: f64::NEG_INFINITY,
            false_positive_rate: 0.0,
            digits: 0,
        },
        holdout_every: opts.holdout_every,
    };
    let mut bundle = Bundle {
        manifest,
        weights,
        exemplars,
        libraries: artifacts,
    };
    // Calibration, on the model as the page will assemble it.
    let model = page_model(net, &bundle, device)?;
    let holdout: Vec<usize> = (0..digits.count)
        .filter(|&i| held_out(i, opts.holdout_every))
        .collect();
    let mut cpls = Vec::with_capacity(holdout.len());
    for (b, rows) in holdout.chunks(BATCH).enumerate() {
        for a in analyze_rows(&model, net, digits, rows, device)? {
            cpls.push(a.cpl);
        }
        progress(
            "calibration",
            (b * BATCH + rows.len()).min(holdout.len()),
            holdout.len(),
        );
    }
    let (threshold, fpr) = calibrate(&cpls, opts.false_positive_rate);
    bundle.manifest.calibration = Calibration {
        variant: "eq5".into(),
        threshold,
        false_positive_rate: fpr,
        digits: cpls.len(),
    };
    Ok(bundle)
}

/// The forward passes over rows `rows` of `exemplars` (784 bytes each, as a bundle ships
/// them), in order, a batch at a time: each item holds the batch's taps on `device`, for the
/// caller to read (synchronously natively, asynchronously in the page, which splits the rows
/// across workers).
pub fn exemplar_taps<'a>(
    net: &'a LeNet,
    exemplars: &'a [u8],
    rows: std::ops::Range<usize>,
    device: &'a Device,
) -> impl Iterator<Item = Taps> + 'a {
    let n = rows.end.min(exemplars.len() / DIGIT_BYTES);
    (rows.start.min(n)..n)
        .step_by(EXEMPLAR_BATCH)
        .map(move |start| {
            let end = (start + EXEMPLAR_BATCH).min(n);
            let px = exemplar_pixels(exemplars, start..end);
            let x = Tensor::<4>::from_data(TensorData::new(px, [end - start, 1, 28, 28]), device);
            net.forward_taps(x)
        })
}

/// The HAPs of rows `rows` of `digits` (784 bytes each), per layer (`rows × dim` values
/// each), read back synchronously (native, or the CPU in wasm).
pub fn digit_haps(
    net: &LeNet,
    digits: &[u8],
    rows: std::ops::Range<usize>,
    device: &Device,
) -> Vec<Vec<f32>> {
    let mut haps: Vec<Vec<f32>> = Vec::new();
    for taps in exemplar_taps(net, digits, rows, device) {
        let layers = to_host(taps).layers;
        haps.resize(layers.len(), Vec::new());
        for (h, (_, _, values)) in haps.iter_mut().zip(layers) {
            h.extend(values);
        }
    }
    haps
}

/// The HAPs of every exemplar, per layer (`exemplars × dim` values each).
pub fn exemplar_haps(net: &LeNet, bundle: &Bundle, device: &Device) -> Vec<Vec<f32>> {
    let all = 0..bundle.manifest.exemplar_ids.len();
    digit_haps(net, &bundle.exemplars, all, device)
}

/// The page's model, assembled exactly as the page does it: the exemplars' HAPs from a
/// forward pass, then [`PageModel::from_exemplar_haps`].
pub fn page_model(net: &LeNet, bundle: &Bundle, device: &Device) -> Result<PageModel, BundleError> {
    PageModel::from_exemplar_haps(bundle, &exemplar_haps(net, bundle, device))
}

/// Native analyses of digits `rows`.
pub fn analyze_rows(
    model: &PageModel,
    net: &LeNet,
    digits: &LabelledImages,
    rows: &[usize],
    device: &Device,
) -> Result<Vec<super::model::Analysis>, BundleError> {
    let taps = forward_rows(net, digits, rows, device);
    (0..rows.len())
        .map(|i| {
            let haps: Vec<&[f32]> = taps
                .layers
                .iter()
                .map(|(_, dim, v)| &v[i * dim..][..*dim])
                .collect();
            model.analyze(&haps, taps.answers[i])
        })
        .collect()
}
