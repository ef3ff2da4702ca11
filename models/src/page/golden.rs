//! The golden files the page's fidelity tests compare against (`hapscope page-golden`):
//! native analyses of clean held-out images, and what identifies the bundle they belong to.
//!
//! What a golden file pins is **machine-independent**: the weights' SHA-256, each library's
//! θ and nodes (their source ids: membership is decided on canonical similarities), the
//! answers and every layer's top-1. The CPLs and the verdict threshold are floating-point
//! results of a forward pass, whose last bits depend on the CPU's SIMD paths (burn's CPU
//! kernels dispatch at run time); they are compared within [`CPL_TOLERANCE`], and every
//! verdict must be the same. The `.haplib` files' SHA-256s are *not* pinned for the same
//! reason: their links are computed canonically from the HAPs (`hapscope_core::hebbian`),
//! but the HAPs themselves come from those forward passes. On one machine a bundle is
//! byte-identical run to run (tested). Measured with `hapscope page` under QEMU's `Nehalem`
//! CPU (SSE4.2, no AVX) against an AVX-512 machine: identical exemplars and library
//! membership, link weights within 1.4·10⁻⁴ (relative), the verdict threshold within
//! 7.5·10⁻⁹ (`cargo xtask cross-cpu` runs the page test that way).

use serde::{Deserialize, Serialize};

use super::bundle::{Bundle, sha256_hex};

/// How far a CPL (or the verdict threshold) may differ between the native golden value and
/// another run — another CPU natively, or the page on either backend. Measured: ≤ 2.1·10⁻⁸
/// (page, CPU) and 2.6·10⁻⁵ (native on another CPU before links were made canonical).
pub const CPL_TOLERANCE: f64 = 1e-4;

/// How far a detector's score may differ between the native golden value and another run,
/// relative to `max(1, |score|)`. The MNIST page recomputes its node vectors from the
/// exemplars, so their last bits are the page's; where the 20th and 21st nearest nodes are
/// that close, the k-NN count moves by one vote and the fusions' p-values with it. Measured:
/// 2.0·10⁻² at most over the 200 golden digits (CPU and WebGPU), every verdict identical —
/// which the tests require exactly.
pub const SCORE_TOLERANCE: f64 = 0.1;

/// Images per class the golden files analyse (`hapscope page-golden --per-class`).
pub const FIDELITY_PER_CLASS: usize = 20;

/// The images a golden file analyses: for each class in turn, the first `per_class` of
/// `candidates` (image indices, in order) with that label. `hapscope page` leaves the first
/// [`FIDELITY_PER_CLASS`] of each class out of the detectors' calibration, so that the
/// fidelity tests see inputs the calibration never saw — as a visitor's are. (An image whose
/// own score is among the clean scores sits exactly on a step of its empirical p-value,
/// and the last bits of another backend's forward pass would move it across.)
pub fn fidelity_rows(
    labels: &[u8],
    candidates: &[usize],
    classes: usize,
    per_class: usize,
) -> Vec<usize> {
    let mut rows = Vec::new();
    for d in 0..classes {
        rows.extend(
            candidates
                .iter()
                .copied()
                .filter(|&i| usize::from(labels[i]) == d)
                .take(per_class),
        );
    }
    rows
}

/// One library, as the golden file identifies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldenLayer {
    /// Tap name.
    pub name: String,
    /// θ.
    pub theta: f32,
    /// Number of nodes.
    pub nodes: usize,
    /// SHA-256 of the nodes' source ids (little-endian `u32`s, creation order).
    pub source_ids_sha256: String,
}

/// One analysed image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldenImage {
    /// Image id in the bundle's image set (for MNIST, the MNIST training index).
    pub id: usize,
    /// True label.
    pub label: u8,
    /// The network's answer.
    pub answer: usize,
    /// Each layer's top-1 class, input to output.
    pub top1: Vec<usize>,
    /// CPL (Eq. 5).
    pub cpl: f64,
    /// `"consistent"` or `"suspicious"`.
    pub verdict: String,
    /// CPL's own verdict.
    #[serde(default)]
    pub cpl_verdict: String,
    /// Every detector's score, in `Detector::ALL` order (empty without detectors).
    #[serde(default)]
    pub detectors: Vec<f64>,
}

/// A golden file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Golden {
    /// The command that made it.
    pub made_by: String,
    /// SHA-256 of the network's weights.
    pub weights_sha256: String,
    /// The libraries.
    pub bundle: Vec<GoldenLayer>,
    /// The verdict's CPL threshold.
    pub threshold: f64,
    /// [`CPL_TOLERANCE`], for the browser tests to read.
    pub cpl_tolerance: f64,
    /// [`SCORE_TOLERANCE`], for the browser tests to read.
    #[serde(default)]
    pub score_tolerance: f64,
    /// The detector behind the verdict.
    #[serde(default)]
    pub verdict_by: String,
    /// The analysed images.
    pub digits: Vec<GoldenImage>,
}

/// The golden file's identification of `bundle`'s libraries.
pub fn golden_layers(bundle: &Bundle) -> Vec<GoldenLayer> {
    bundle
        .libraries
        .iter()
        .zip(&bundle.manifest.layers)
        .map(|(lib, l)| {
            let ids: Vec<u8> = lib
                .source_ids
                .iter()
                .flat_map(|i| i.to_le_bytes())
                .collect();
            GoldenLayer {
                name: l.name.clone(),
                theta: l.theta,
                nodes: l.nodes,
                source_ids_sha256: sha256_hex(&ids),
            }
        })
        .collect()
}

impl Golden {
    /// Whether `other` (the same command run elsewhere, or later) agrees with `self`: the
    /// same weights, libraries, images, answers, top-1s and verdicts, and CPLs and threshold
    /// within [`CPL_TOLERANCE`]. The error lists the first few differences.
    pub fn check(&self, other: &Golden) -> Result<(), String> {
        let mut diffs = Vec::new();
        if self.verdict_by != other.verdict_by {
            diffs.push(format!(
                "verdict by {} vs {}",
                self.verdict_by, other.verdict_by
            ));
        }
        if self.weights_sha256 != other.weights_sha256 {
            diffs.push("the weights differ".to_string());
        }
        if self.bundle != other.bundle {
            diffs.push(format!(
                "the libraries differ: {:?} vs {:?}",
                self.bundle, other.bundle
            ));
        }
        if (self.threshold - other.threshold).abs() > CPL_TOLERANCE {
            diffs.push(format!(
                "threshold {} vs {}",
                self.threshold, other.threshold
            ));
        }
        if self.digits.len() != other.digits.len() {
            diffs.push(format!(
                "{} vs {} images",
                self.digits.len(),
                other.digits.len()
            ));
        }
        for (a, b) in self.digits.iter().zip(&other.digits) {
            let same = a.id == b.id
                && a.label == b.label
                && a.answer == b.answer
                && a.top1 == b.top1
                && a.verdict == b.verdict
                && a.cpl_verdict == b.cpl_verdict
                && (a.cpl - b.cpl).abs() <= CPL_TOLERANCE
                && a.detectors.len() == b.detectors.len()
                && a.detectors
                    .iter()
                    .zip(&b.detectors)
                    .all(|(x, y)| (x - y).abs() <= SCORE_TOLERANCE * x.abs().max(1.0));
            if !same {
                diffs.push(format!("image {}: {a:?} vs {b:?}", a.id));
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            let n = diffs.len();
            diffs.truncate(5);
            Err(format!("{n} differences: {}", diffs.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden() -> Golden {
        Golden {
            made_by: "test".into(),
            weights_sha256: "w".into(),
            bundle: vec![GoldenLayer {
                name: "CN1".into(),
                theta: 0.5,
                nodes: 3,
                source_ids_sha256: "s".into(),
            }],
            threshold: 0.8,
            cpl_tolerance: CPL_TOLERANCE,
            score_tolerance: SCORE_TOLERANCE,
            verdict_by: "min-gauss-min".into(),
            digits: vec![GoldenImage {
                id: 9,
                label: 4,
                answer: 4,
                top1: vec![4, 9],
                cpl: 0.9,
                verdict: "consistent".into(),
                cpl_verdict: "consistent".into(),
                detectors: vec![100.0, 0.5],
            }],
        }
    }

    #[test]
    fn agrees_within_the_tolerance_and_names_what_differs() {
        let a = golden();
        let mut b = a.clone();
        b.digits[0].cpl += CPL_TOLERANCE / 2.0;
        b.threshold -= CPL_TOLERANCE / 2.0;
        assert_eq!(a.check(&b), Ok(()));
        b.digits[0].cpl += CPL_TOLERANCE;
        assert!(a.check(&b).unwrap_err().contains("image 9"));
        let mut c = a.clone();
        c.digits[0].verdict = "suspicious".into();
        assert!(a.check(&c).is_err());
        let mut d = a.clone();
        d.bundle[0].source_ids_sha256 = "t".into();
        assert!(a.check(&d).unwrap_err().contains("libraries"));
        let mut e = a.clone();
        e.digits[0].top1[1] = 7;
        assert!(a.check(&e).is_err());
        // Scores: relative to max(1, |score|).
        let mut f = a.clone();
        f.digits[0].detectors = vec![100.0 + 50.0 * SCORE_TOLERANCE, 0.5 + SCORE_TOLERANCE / 2.0];
        assert_eq!(a.check(&f), Ok(()));
        f.digits[0].detectors[1] += SCORE_TOLERANCE;
        assert!(a.check(&f).is_err());
        let mut g = a.clone();
        g.digits[0].cpl_verdict = "suspicious".into();
        assert!(a.check(&g).is_err());
    }
}
