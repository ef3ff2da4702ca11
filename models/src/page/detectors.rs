//! The page's detectors (beyond CPL): what a bundle stores and how the page assembles them.
//!
//! The manifest's [`DetectorsManifest`] holds, per layer, the network's answer on each
//! node's source image and the Gaussian's feature map and shape, and the sizes of the clean
//! calibration lists. One file beside it, `detectors.bin`, holds every layer's Gaussian as
//! little-endian f32 — the Cholesky factor's lower triangle (row by row), then the whitened
//! class means — and then the calibration lists as little-endian f64, exactly: the sorted
//! clean scores of set A (each layer's Gaussian distance, then the fusions' parts) and
//! of set B (every statistic). Binary, not JSON, because a p-value counts clean scores at
//! least as high, and a float parsed back a bit off moves an image that is itself in the
//! calibration set across its own score. The page and native runs both assemble
//! [`PageDetectors`] from these, so both compute the same scores.

use hapscope_core::calibrate::Calibration;
use hapscope_core::gaussian::ClassGaussian;
use serde::{Deserialize, Serialize};

use super::bundle::{BundleError, check_file, file_ref};
use super::manifest::FileRef;
use crate::detector::{Components, Detector, FeatureMap, PARTS, STATISTICS};

/// The detectors' file name.
pub const DETECTORS_FILE: &str = "detectors.bin";

/// One layer's detector parts in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorLayer {
    /// How the Gaussian sees the tap.
    pub features: FeatureMap,
    /// Feature length.
    pub feature_dim: usize,
    /// The Ledoit–Wolf shrinkage the fit chose.
    pub shrinkage: f64,
    /// The network's answer on each node's source image (library order).
    pub node_classes: Vec<u32>,
}

/// The detectors' part of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorsManifest {
    /// [`DETECTORS_FILE`]: the Gaussians.
    pub file: FileRef,
    /// Per layer, input to output.
    pub layers: Vec<DetectorLayer>,
    /// Feature squeezing's bit depth.
    pub squeeze_bits: u32,
    /// Lengths of the calibration lists in [`DETECTORS_FILE`]: set A, each layer's Gaussian
    /// distance.
    pub calibration_gauss: Vec<usize>,
    /// Set A, the fusions' parts (k-NN, Gaussian Fisher, CPL, squeeze, the layers' smallest
    /// Gaussian p-value: `detector::PARTS`).
    pub calibration_parts: Vec<usize>,
    /// Set B, one list per detector (`Detector::ALL` order).
    pub calibration_statistics: Vec<usize>,
    /// The detector the verdict uses ([`Detector::name`]).
    pub verdict: String,
    /// The verdict's target false-positive rate on clean images.
    pub false_positive_rate: f64,
}

/// A layer's assembled parts.
#[derive(Debug, Clone, PartialEq)]
pub struct PageDetectorLayer {
    /// Node classes.
    pub node_classes: Vec<u32>,
    /// Feature map.
    pub features: FeatureMap,
    /// The Gaussian.
    pub gaussian: ClassGaussian,
}

/// The page's detectors, assembled.
#[derive(Debug, Clone)]
pub struct PageDetectors {
    /// Per layer.
    pub layers: Vec<PageDetectorLayer>,
    /// Set A.
    pub components: Components,
    /// Set B, per statistic.
    pub statistics: Vec<Calibration>,
    /// The verdict's detector.
    pub verdict: Detector,
    /// The verdict's target false-positive rate.
    pub false_positive_rate: f64,
    /// Feature squeezing's bit depth.
    pub squeeze_bits: u32,
}

fn problem(what: impl Into<String>) -> BundleError {
    BundleError::Detectors(what.into())
}

/// The calibration lists, in file order.
struct Lists<'a> {
    gauss: Vec<&'a [f64]>,
    parts: Vec<&'a [f64]>,
    statistics: Vec<&'a [f64]>,
}

/// [`DETECTORS_FILE`]'s bytes: every layer's Gaussian (f32), then the lists (f64).
fn encode(gaussians: &[&ClassGaussian], lists: &Lists<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    for g in gaussians {
        let d = g.dim();
        for i in 0..d {
            for &v in &g.factor()[i * d..][..=i] {
                out.extend_from_slice(&(v as f32).to_le_bytes());
            }
        }
        for &v in g.whitened_means() {
            out.extend_from_slice(&(v as f32).to_le_bytes());
        }
    }
    for list in lists
        .gauss
        .iter()
        .chain(&lists.parts)
        .chain(&lists.statistics)
    {
        for &v in *list {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Sorted clean scores, one list per layer, part or statistic.
type CleanLists = Vec<Vec<f64>>;

/// A cursor over the file's little-endian numbers.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn f32(&mut self) -> f64 {
        let b = &self.bytes[self.at..self.at + 4];
        self.at += 4;
        f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64s(&mut self, n: usize) -> Vec<f64> {
        let out = self.bytes[self.at..self.at + 8 * n]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        self.at += 8 * n;
        out
    }
}

/// Reads [`DETECTORS_FILE`] for the manifest part `m` and `classes` classes: the Gaussians
/// and the calibration lists (set A's per-layer and part lists, set B's per statistic).
fn decode(
    m: &DetectorsManifest,
    classes: usize,
    bytes: &[u8],
) -> Result<(Vec<ClassGaussian>, [CleanLists; 3]), BundleError> {
    // Saturating: a manifest may claim any size; the file's length must match it anyway.
    let gaussians: usize = m
        .layers
        .iter()
        .map(|l| {
            let d = l.feature_dim;
            let tri = d.saturating_mul(d.saturating_add(1)) / 2;
            tri.saturating_add(classes.saturating_mul(d))
                .saturating_mul(4)
        })
        .fold(0, usize::saturating_add);
    let lists: usize = m
        .calibration_gauss
        .iter()
        .chain(&m.calibration_parts)
        .chain(&m.calibration_statistics)
        .fold(0, |a, &n| a.saturating_add(n.saturating_mul(8)));
    let need = gaussians.saturating_add(lists);
    if bytes.len() != need {
        return Err(problem(format!(
            "{DETECTORS_FILE} holds {} bytes, the manifest needs {need}",
            bytes.len()
        )));
    }
    let mut r = Reader { bytes, at: 0 };
    let gs = m
        .layers
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let d = l.feature_dim;
            let mut factor = vec![0.0; d * d];
            for i in 0..d {
                for j in 0..=i {
                    factor[i * d + j] = r.f32();
                }
            }
            let means: Vec<f64> = (0..classes * d).map(|_| r.f32()).collect();
            ClassGaussian::from_parts(d, classes, factor, means, l.shrinkage)
                .map_err(|e| problem(format!("layer {}: Gaussian: {e}", k + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut read =
        |sizes: &[usize]| -> Vec<Vec<f64>> { sizes.iter().map(|&n| r.f64s(n)).collect() };
    let a = read(&m.calibration_gauss);
    let p = read(&m.calibration_parts);
    let st = read(&m.calibration_statistics);
    Ok((gs, [a, p, st]))
}

impl PageDetectors {
    /// Assembles the detectors from the manifest's part and [`DETECTORS_FILE`]'s bytes, for
    /// layers of HAP lengths `dims` and library sizes `nodes`, with `classes` classes.
    pub fn assemble(
        m: &DetectorsManifest,
        bytes: &[u8],
        dims: &[usize],
        nodes: &[usize],
        classes: usize,
    ) -> Result<Self, BundleError> {
        check_file(&m.file, bytes)?;
        Self::assemble_checked(m, bytes, dims, nodes, classes)
    }

    /// [`PageDetectors::assemble`] of bytes already checked against `m.file` (a bundle's,
    /// by [`super::bundle::Bundle::with_detectors`]): not hashed a second time.
    pub(crate) fn assemble_checked(
        m: &DetectorsManifest,
        bytes: &[u8],
        dims: &[usize],
        nodes: &[usize],
        classes: usize,
    ) -> Result<Self, BundleError> {
        if m.layers.len() != dims.len() {
            return Err(problem(format!(
                "{} detector layers for {} libraries",
                m.layers.len(),
                dims.len()
            )));
        }
        for (k, (l, (&dim, &n))) in m.layers.iter().zip(dims.iter().zip(nodes)).enumerate() {
            if !l.features.fits(dim) || l.features.len(dim) != l.feature_dim {
                return Err(problem(format!(
                    "layer {}: features {:?} of length {} do not fit a HAP of {dim}",
                    k + 1,
                    l.features,
                    l.feature_dim
                )));
            }
            if l.node_classes.len() != n || l.node_classes.iter().any(|&c| c as usize >= classes) {
                return Err(problem(format!(
                    "layer {}: node classes are not {n} classes below {classes}",
                    k + 1
                )));
            }
        }
        if m.calibration_gauss.len() != dims.len()
            || m.calibration_parts.len() != PARTS
            || m.calibration_statistics.len() != STATISTICS
        {
            return Err(problem("calibration lists of the wrong count"));
        }
        let verdict = Detector::from_name(&m.verdict)
            .ok_or_else(|| problem(format!("unknown verdict detector '{}'", m.verdict)))?;
        if !(0.0..1.0).contains(&m.false_positive_rate) {
            return Err(problem("false-positive rate outside [0, 1)"));
        }
        if !(1..=8).contains(&m.squeeze_bits) {
            return Err(problem("squeeze bit depth outside 1..=8"));
        }
        let (gaussians, [gauss, parts, stats]) = decode(m, classes, bytes)?;
        let components = Components::from_sorted(&gauss, &parts)
            .map_err(|e| problem(format!("calibration: {e}")))?;
        let statistics = stats
            .iter()
            .map(|s| Calibration::new(s))
            .collect::<hapscope_core::Result<_>>()
            .map_err(|e| problem(format!("calibration: {e}")))?;
        Ok(PageDetectors {
            layers: m
                .layers
                .iter()
                .zip(gaussians)
                .map(|(l, gaussian)| PageDetectorLayer {
                    node_classes: l.node_classes.clone(),
                    features: l.features,
                    gaussian,
                })
                .collect(),
            components,
            statistics,
            verdict,
            false_positive_rate: m.false_positive_rate,
            squeeze_bits: m.squeeze_bits,
        })
    }

    /// Stores the Gaussians as the page reads them (f32), so that what is calibrated on them
    /// natively is what the page computes: `gaussians` fitted in f64, returned rounded.
    pub fn stored_gaussians(
        layers: &[DetectorLayer],
        gaussians: &[&ClassGaussian],
        classes: usize,
    ) -> Result<Vec<ClassGaussian>, BundleError> {
        let empty = Lists {
            gauss: Vec::new(),
            parts: Vec::new(),
            statistics: Vec::new(),
        };
        let m = DetectorsManifest {
            file: file_ref(DETECTORS_FILE, &[]),
            layers: layers.to_vec(),
            squeeze_bits: 1,
            calibration_gauss: Vec::new(),
            calibration_parts: Vec::new(),
            calibration_statistics: Vec::new(),
            verdict: String::new(),
            false_positive_rate: 0.0,
        };
        decode(&m, classes, &encode(gaussians, &empty)).map(|(g, _)| g)
    }

    /// The manifest part and file bytes that [`PageDetectors::assemble`] reads back.
    pub fn to_manifest(&self) -> (DetectorsManifest, Vec<u8>) {
        let gaussians: Vec<&ClassGaussian> = self.layers.iter().map(|l| &l.gaussian).collect();
        let (gauss, parts) = self.components.sorted();
        let stats: Vec<&[f64]> = self.statistics.iter().map(|c| c.scores()).collect();
        let bytes = encode(
            &gaussians,
            &Lists {
                gauss: gauss.iter().map(Vec::as_slice).collect(),
                parts: parts.iter().map(Vec::as_slice).collect(),
                statistics: stats.clone(),
            },
        );
        (
            DetectorsManifest {
                file: file_ref(DETECTORS_FILE, &bytes),
                layers: self
                    .layers
                    .iter()
                    .map(|l| DetectorLayer {
                        features: l.features,
                        feature_dim: l.gaussian.dim(),
                        shrinkage: l.gaussian.shrinkage(),
                        node_classes: l.node_classes.clone(),
                    })
                    .collect(),
                squeeze_bits: self.squeeze_bits,
                calibration_gauss: gauss.iter().map(Vec::len).collect(),
                calibration_parts: parts.iter().map(Vec::len).collect(),
                calibration_statistics: stats.iter().map(|s| s.len()).collect(),
                verdict: self.verdict.name().to_string(),
                false_positive_rate: self.false_positive_rate,
            },
            bytes,
        )
    }

    /// Threshold of detector `d` at the verdict's false-positive rate (set B).
    pub fn threshold(&self, d: Detector) -> f64 {
        self.statistics[d.index()]
            .threshold(self.false_positive_rate)
            .unwrap_or(f64::INFINITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::RawScores;

    fn raw(i: usize) -> RawScores {
        let x = i as f64;
        RawScores {
            answer: i % 3,
            cpl_eq5: 0.9 - 0.01 * x,
            cpl_top20: 0.8 - 0.01 * x,
            knn: vec![(i % 5) as u32, (i % 7) as u32],
            gauss: vec![x, 2.0 * x + 1.0],
            squeeze: 0.01 * x,
        }
    }

    fn detectors() -> PageDetectors {
        let feats: Vec<f32> = (0..60).map(|i| ((i * 13 % 17) as f32) / 7.0).collect();
        let labels: Vec<usize> = (0..20).map(|i| i % 3).collect();
        let g1 = ClassGaussian::fit(&feats[..40], 2, &labels, 3).unwrap();
        let g2 = ClassGaussian::fit(&feats, 3, &labels, 3).unwrap();
        let a: Vec<RawScores> = (0..30).map(raw).collect();
        let components = Components::new(&a).unwrap();
        let stats: Vec<_> = (30..60)
            .map(|i| components.statistics(&raw(i)).unwrap())
            .collect();
        // Stored as f32: what the page reads.
        let layers = vec![
            DetectorLayer {
                features: FeatureMap::ChannelMeans { channels: 2 },
                feature_dim: 2,
                shrinkage: g1.shrinkage(),
                node_classes: vec![0, 2],
            },
            DetectorLayer {
                features: FeatureMap::Full,
                feature_dim: 3,
                shrinkage: g2.shrinkage(),
                node_classes: vec![1],
            },
        ];
        let stored = PageDetectors::stored_gaussians(&layers, &[&g1, &g2], 3).unwrap();
        PageDetectors {
            layers: layers
                .into_iter()
                .zip(stored)
                .map(|(l, gaussian)| PageDetectorLayer {
                    node_classes: l.node_classes,
                    features: l.features,
                    gaussian,
                })
                .collect(),
            components,
            statistics: crate::detector::Thresholds::new(&stats)
                .unwrap()
                .calibrations,
            verdict: Detector::MinGaussMin,
            false_positive_rate: 0.05,
            squeeze_bits: 1,
        }
    }

    #[test]
    fn the_manifest_part_and_file_reassemble_the_same_detectors() {
        let d = detectors();
        let (m, bytes) = d.to_manifest();
        let back = PageDetectors::assemble(&m, &bytes, &[6, 3], &[2, 1], 3).unwrap();
        assert_eq!(back.layers, d.layers);
        assert_eq!(back.components.sorted(), d.components.sorted());
        assert_eq!(back.statistics, d.statistics);
        assert_eq!(back.verdict, Detector::MinGaussMin);
        for i in 0..5 {
            assert_eq!(
                back.components.statistics(&raw(i)).unwrap(),
                d.components.statistics(&raw(i)).unwrap()
            );
        }
        // JSON round trip of the manifest part (the clean scores are in the file, exact).
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<DetectorsManifest>(&json).unwrap(), m);
    }

    #[test]
    fn damaged_or_inconsistent_detectors_are_refused_with_a_reason() {
        let (m, bytes) = detectors().to_manifest();
        let assemble = |m: &DetectorsManifest, b: &[u8]| {
            PageDetectors::assemble(m, b, &[6, 3], &[2, 1], 3)
                .unwrap_err()
                .to_string()
        };
        // A flipped byte or a short file: the checksum or length names the file.
        let mut bad = bytes.clone();
        bad[5] ^= 1;
        assert!(assemble(&m, &bad).contains(DETECTORS_FILE));
        assert!(assemble(&m, &bytes[..bytes.len() - 4]).contains(DETECTORS_FILE));
        let with = |f: &dyn Fn(&mut DetectorsManifest)| {
            let mut m = m.clone();
            f(&mut m);
            assemble(&m, &bytes)
        };
        assert!(with(&|m| m.verdict = "vibes".into()).contains("unknown verdict"));
        assert!(with(&|m| m.layers[0].node_classes = vec![0, 9]).contains("node classes"));
        assert!(with(&|m| m.layers[1].node_classes.clear()).contains("node classes"));
        assert!(with(&|m| m.layers[0].feature_dim = 4).contains("features"));
        assert!(
            with(&|m| m.calibration_parts.pop().map(|_| ()).unwrap_or(())).contains("calibration")
        );
        // A list of another length no longer matches the file's; nor does a huge one.
        assert!(with(&|m| m.calibration_statistics[0] -= 1).contains("bytes"));
        assert!(with(&|m| m.calibration_gauss[0] = usize::MAX).contains("bytes"));
        // A NaN among the clean scores (the file's last f64) is refused.
        let mut nan = bytes.clone();
        let at = nan.len() - 8;
        nan[at..].copy_from_slice(&f64::NAN.to_le_bytes());
        let mut m3 = m.clone();
        m3.file = file_ref(DETECTORS_FILE, &nan);
        assert!(assemble(&m3, &nan).contains("calibration"));
        assert!(with(&|m| m.false_positive_rate = 1.5).contains("false-positive"));
        assert!(with(&|m| m.squeeze_bits = 0).contains("bit depth"));
        assert!(with(&|m| m.layers.pop().map(|_| ()).unwrap_or(())).contains("detector layers"));
        // A Gaussian whose factor is not a factor.
        let mut zero = bytes.clone();
        zero[..4].copy_from_slice(&0f32.to_le_bytes());
        let mut m2 = m.clone();
        m2.file = file_ref(DETECTORS_FILE, &zero);
        assert!(assemble(&m2, &zero).contains("Gaussian"));
    }
}
