//! What each fuzz target of hapscope-models feeds to its decoder, and the properties it
//! checks. Shared by the targets (`fuzz_targets/*.rs`) and by the cross-crate test that
//! replays the committed corpora (`tests/integration/fuzz_corpora.rs`), so a regression
//! input is checked exactly as the fuzzer checked it.
//!
//! Every function must return for any bytes — an `Err` is fine, a panic is a bug.
#![allow(dead_code)] // each target uses one function

use std::path::Path;

use hapscope_models::data::{cifar, gunzip_if_gz, idx, npy};
use hapscope_models::digit::{mnist_style, photo_ink};
use hapscope_models::image_header::check_upload;
use hapscope_models::page::build::layer_names;
use hapscope_models::page::bundle::{Bundle, parse_manifest};
use hapscope_models::page::manifest::Manifest;
use hapscope_models::page::model::PageModel;
use hapscope_models::page::passes::PassPlan;
use hapscope_models::weights::lenet_from_bytes;

const FUZZ_PATH: &str = "<fuzz>";

/// `.npy` bytes as a float matrix and as an integer vector (the two readers).
pub fn npy(data: &[u8]) {
    if let Ok(m) = npy::parse_matrix(data) {
        assert_eq!(m.data.len(), m.rows * m.cols);
        assert!(m.data.iter().all(|v| v.is_finite()), "NaN/Inf accepted");
    }
    let _ = npy::parse_ints(data);
}

/// IDX image and label files, gzipped or raw.
pub fn idx(data: &[u8]) {
    let Ok(bytes) = gunzip_if_gz(data.to_vec(), Path::new(FUZZ_PATH)) else {
        return;
    };
    if let Ok(img) = idx::parse_images(&bytes) {
        assert_eq!(img.pixels.len(), img.count * img.rows * img.cols);
        if img.count > 0 {
            assert_eq!(img.image_f32(img.count - 1).len(), img.rows * img.cols);
        }
    }
    let _ = idx::parse_labels(&bytes);
}

/// CIFAR-10 binary records.
pub fn cifar(data: &[u8]) {
    if let Ok(c) = cifar::parse(data, Path::new(FUZZ_PATH)) {
        assert!(c.labels.iter().all(|&l| l <= 9));
        if !c.is_empty() {
            assert_eq!(c.image_f32(c.len() - 1).len(), 3 * 32 * 32);
        }
    }
}

/// Safetensors bytes as LeNet weights (what the page's worker loads).
pub fn weights(data: &[u8]) {
    let _ = lenet_from_bytes(data, &Default::default());
}

/// The upload path. First the whole input as an uploaded file: the header check that runs
/// before the browser decodes it (`check_upload`). Then as pixels after the browser's
/// decoder: byte 0 and 1 give the image's width and height (1–64 each), byte 2 picks the
/// pixel encoding (bytes / 255, or raw `f32`s that can be NaN, Inf or huge), the rest are the
/// pixels. Luminance → ink (`photo_ink`) → the 28 × 28 digit (`mnist_style`), and also
/// `mnist_style` on the raw values, as a drawing.
pub fn upload(data: &[u8]) {
    if let Ok(h) = check_upload(data, data.len()) {
        assert!(h.width >= 1 && h.height >= 1);
        assert!(u64::from(h.width) * u64::from(h.height) <= 50_000_000);
    }
    let [w, h, mode, pixels @ ..] = data else {
        return;
    };
    let (w, h) = (usize::from(w % 64) + 1, usize::from(h % 64) + 1);
    let luma: Vec<f32> = if mode % 2 == 0 {
        pixels.iter().map(|&b| f32::from(b) / 255.0).collect()
    } else {
        pixels
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let digit_ok = |d: &[f32]| {
        assert_eq!(d.len(), 28 * 28);
        assert!(
            d.iter().all(|v| (0.0..=1.0).contains(v)),
            "digit outside [0, 1]"
        );
    };
    if let Ok(ink) = photo_ink(&luma) {
        assert_eq!(ink.len(), luma.len());
        assert!(
            ink.iter().all(|v| (0.0..=1.0).contains(v)),
            "ink outside [0, 1]"
        );
        if let Ok(d) = mnist_style(&ink, w, h) {
            digit_ok(&d);
        }
    }
    if let Ok(d) = mnist_style(&luma, w, h) {
        digit_ok(&d);
    }
}

/// A fuzz input of the `bundle` target cut into its parts: the manifest, the weights, the
/// exemplars and the libraries (in `manifest.layers` order).
pub struct BundleParts {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The weights file's bytes.
    pub weights: Vec<u8>,
    /// The exemplars file's bytes.
    pub exemplars: Vec<u8>,
    /// Each library file's bytes.
    pub libraries: Vec<Vec<u8>>,
}

/// The manifest's JSON, a NUL byte, then the files it names back to back in the manifest's
/// order (weights, exemplars, libraries), each cut to its declared length or to what is
/// left; `None` without a NUL or a valid manifest.
pub fn bundle_parts(data: &[u8]) -> Option<BundleParts> {
    let split = data.iter().position(|&b| b == 0)?;
    let manifest = parse_manifest(&data[..split]).ok()?;
    let mut rest = &data[split + 1..];
    let mut take = |declared: u64| {
        let n = rest
            .len()
            .min(usize::try_from(declared).unwrap_or(usize::MAX));
        let (file, tail) = rest.split_at(n);
        rest = tail;
        file.to_vec()
    };
    let weights = take(manifest.weights.bytes);
    let exemplars = take(manifest.exemplars.bytes);
    let libraries: Vec<Vec<u8>> = manifest.layers.iter().map(|l| take(l.file.bytes)).collect();
    Some(BundleParts {
        manifest,
        weights,
        exemplars,
        libraries,
    })
}

/// A page bundle: [`bundle_parts`] of the input, then [`bundle_from_parts`]. Fuzz builds
/// skip the SHA-256 (and the libraries' CRC-32) check so mutations reach the decoders; the
/// corpus replay recomputes them instead.
pub fn bundle(data: &[u8]) {
    if let Some(parts) = bundle_parts(data) {
        bundle_from_parts(parts);
    }
}

/// Assembles a bundle from its parts; an accepted bundle must also give a page model from
/// (all-ones) node HAPs as the page gathers them: one share of its planned passes
/// ([`PassPlan`], each layer its own tap), put in node order by [`PassPlan::node_rows`]; and
/// a model made of them, the same libraries again from its kept vectors (a return visit).
/// Returns whether the bundle was accepted.
pub fn bundle_from_parts(parts: BundleParts) -> bool {
    let BundleParts {
        manifest,
        weights,
        exemplars,
        libraries,
    } = parts;
    let Ok(bundle) = Bundle::assemble(manifest, weights, exemplars, libraries) else {
        return false;
    };
    // Bound the work: the node rows are nodes × dim values per layer (a header's dim can be
    // anything).
    if bundle
        .libraries
        .iter()
        .map(|a| a.nodes().saturating_mul(a.dim))
        .fold(0usize, usize::saturating_add)
        > 1 << 22
    {
        return true;
    }
    let taps = layer_names(&bundle);
    let Ok(plan) = PassPlan::new(&bundle.manifest.exemplar_ids, &bundle.libraries, &taps) else {
        return true;
    };
    // One share holds, per layer, one HAP per distinct exemplar that is a node of it.
    let share: Vec<Vec<f32>> = bundle
        .libraries
        .iter()
        .map(|a| {
            let mut ids = a.source_ids.clone();
            ids.sort_unstable();
            ids.dedup();
            ids.len().saturating_mul(a.dim)
        })
        .map(|n| vec![1.0; n])
        .collect();
    if let Ok(rows) = plan.node_rows(&[share]) {
        if let Ok(model) = PageModel::from_node_rows(&bundle, &rows) {
            // What the page keeps for a return visit rebuilds the same libraries.
            let kept = (model.computed_vectors().into_iter())
                .map(<[f32]>::to_vec)
                .collect();
            let again = PageModel::from_kept_vectors(&bundle, kept)
                .expect("an accepted model's kept vectors are accepted");
            assert!(
                (again.layers.iter().zip(&model.layers))
                    .all(|(a, b)| a.library.vectors() == b.library.vectors())
            );
        }
    }
    true
}
