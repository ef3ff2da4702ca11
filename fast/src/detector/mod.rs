//! Detectors of inputs that fool the network, beyond CPL — all fitted, calibrated and tuned
//! on clean inputs only. One implementation, used by `hapscope detect` and the page.
//!
//! Per covered layer, [`LayerDetector`] holds the layer's library at its θ and the links
//! (Eq. 2), each node's class (the network's answer on the node's source example) and a
//! class-conditional Gaussian of the layer's features ([`features`]). For one input,
//! [`Detectors::raw`] gives the raw per-layer evidence ([`RawScores`]): CPL (Eq. 5 and the
//! code's top-20 softmax variant, exactly as `hapscope reproduce` computes them), the k-NN
//! disagreements of the top-20 nodes ([`hapscope_core::conformity`]), the squared
//! Mahalanobis distance to the answered class ([`hapscope_core::gaussian`]) and, as the
//! outside anchor, feature squeezing's score (computed by the caller from the network; the
//! models crate's `detector::squeeze`).
//!
//! The statistics ([`Detector`], higher = more anomalous) come from two disjoint clean
//! calibration sets: set A turns scores into empirical p-values ([`Components`]: each
//! layer's Gaussian distance, combined over the layers by Fisher's method and by their
//! minimum; then the four parts — k-NN, Gaussian, CPL, feature squeezing — combined by
//! Fisher's and by Tippett's method); set B fixes each statistic's thresholds
//! ([`Thresholds`]).

pub mod candidates;
pub mod features;

use hapscope_core::calibrate::{Calibration, fisher};
use hapscope_core::conformity::disagreements;
use hapscope_core::cpl::{CplVariant, cpl};
use hapscope_core::gaussian::ClassGaussian;
use hapscope_core::hebbian::Links;
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::library::Library;
use hapscope_core::predict::{Predictor, class_scores};
use serde::{Deserialize, Serialize};

pub use features::FeatureMap;

/// Nodes that vote in the k-NN conformity (the code's CPL uses as many).
pub const KNN_K: usize = 20;

/// Number of statistics ([`Detector::ALL`]).
pub const STATISTICS: usize = 8;

/// Number of set-A calibrations of [`Components`] besides the layers' own: the four parts
/// the fusions combine (k-NN sum, Gaussian Fisher, CPL, squeezing) and the layers' smallest
/// Gaussian p-value ([`Detector::MinGaussMin`]'s Gaussian part).
pub const PARTS: usize = 5;

/// One input's statistics, in [`Detector::ALL`] order.
pub type Statistics = [f64; STATISTICS];

/// One covered layer's fitted parts.
#[derive(Debug, Clone)]
pub struct LayerDetector {
    /// Tap name.
    pub name: String,
    /// Index of the tap in the network's taps.
    pub tap: usize,
    /// The library at the layer's θ.
    pub library: Library,
    /// Its links (Eq. 2).
    pub links: Links,
    /// The network's answer on each node's source example.
    pub node_classes: Vec<u32>,
    /// How the Gaussian sees the tap.
    pub features: FeatureMap,
    /// Class-conditional Gaussian of the features.
    pub gaussian: ClassGaussian,
}

impl LayerDetector {
    /// Fits one layer from its training HAPs (`rows × dim`, row-major) and the network's
    /// answers on them: the library at `theta` (the θ-grid pass, screen allowed when
    /// `screen`), its links to `classes` answers (Eq. 2), each node's class, and the
    /// class-conditional Gaussian of the layer's `features` — what `hapscope detect` fits,
    /// from host arrays. Answers must be below `classes`.
    #[allow(clippy::too_many_arguments)]
    pub fn fit<K: SimilarityKernel + Clone + Sync>(
        name: &str,
        tap: usize,
        haps: &[f32],
        dim: usize,
        answers: &[usize],
        theta: f32,
        classes: usize,
        features: FeatureMap,
        kernel: K,
        screen: bool,
    ) -> hapscope_core::Result<Self> {
        use crate::method::{grid_links_of_rows, grid_of_rows};
        if dim == 0 || haps.len() != answers.len() * dim {
            return Err(hapscope_core::Error::DimMismatch {
                expected: answers.len() * dim.max(1),
                got: haps.len(),
            });
        }
        if !features.fits(dim) {
            return Err(hapscope_core::Error::InvalidParameter {
                name: "features",
                reason: "the channel count does not divide the HAP length",
            });
        }
        let grid = grid_of_rows(haps, dim, &[theta], kernel.clone(), screen)?;
        let links = grid_links_of_rows(&grid, haps, answers, classes, kernel)?.remove(0);
        let library = grid.library(0)?;
        let mut feats = Vec::with_capacity(answers.len() * features.len(dim));
        features.apply(haps, dim, &mut feats);
        let gaussian = ClassGaussian::fit(&feats, features.len(dim), answers, classes)?;
        Ok(LayerDetector {
            name: name.into(),
            tap,
            node_classes: hapscope_core::conformity::node_classes(library.source_ids(), answers)?,
            library,
            links,
            features,
            gaussian,
        })
    }
}

/// One input's raw evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawScores {
    /// The network's answer.
    pub answer: usize,
    /// CPL, Eq. 5 (each layer's own top-a).
    pub cpl_eq5: f64,
    /// CPL, the code's top-20 softmax variant.
    pub cpl_top20: f64,
    /// Per layer: how many of the top-20 nodes' classes differ from the answer.
    pub knn: Vec<u32>,
    /// Per layer: squared Mahalanobis distance of the features to the answered class.
    pub gauss: Vec<f64>,
    /// Feature squeezing's score (the models crate's `squeeze_scores`; 0 where the caller
    /// has none, which makes the part neutral: every clean score ties with it, p = 1).
    pub squeeze: f64,
}

/// The detectors' statistics, in reporting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detector {
    /// −CPL (Eq. 5): the paper's measure.
    CplEq5,
    /// −CPL (top-20 softmax): the paper code's measure.
    CplTop20,
    /// Library k-NN nonconformity: top-20 disagreements summed over layers.
    Knn,
    /// Fisher's combination of the layers' Gaussian p-values.
    Gauss,
    /// Feature squeezing (Xu et al. 2018), the outside anchor.
    Squeeze,
    /// Fisher's combination `−2 Σ ln p` of the p-values of k-NN, Gaussian, CPL (Eq. 5) and
    /// feature squeezing.
    Fusion,
    /// Tippett's combination of the same four: `−2 ln min p`. An input is flagged when any
    /// part is extreme, so an attacker cannot buy one part's anomaly with the others'
    /// typicality, as a sum lets it.
    FusionMin,
    /// Tippett's combination of k-NN, CPL (Eq. 5), squeezing and the Gaussian part taken at
    /// its most extreme layer: the layers' smallest Gaussian p-value, turned back into a
    /// p-value on set A (so the layers' number and dependence cost what they cost on clean
    /// inputs). Fisher's sum over the layers dilutes one layer far out (MNIST: CN2 at large
    /// ε, FC2 at small ε) with the typical others; the minimum keeps it. The page's verdict
    /// (REPORT.md: it meets the MNIST goals `fusion-min` missed and evades no more often).
    MinGaussMin,
}

impl Detector {
    /// The statistic called `name` ([`Detector::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Its index in [`Detector::ALL`] (and in [`Statistics`]).
    pub fn index(self) -> usize {
        Detector::ALL.iter().position(|&d| d == self).unwrap_or(0)
    }

    /// All statistics, in reporting order.
    pub const ALL: [Detector; STATISTICS] = [
        Detector::CplEq5,
        Detector::CplTop20,
        Detector::Knn,
        Detector::Gauss,
        Detector::Squeeze,
        Detector::Fusion,
        Detector::FusionMin,
        Detector::MinGaussMin,
    ];

    /// A short stable name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Detector::CplEq5 => "cpl-eq5",
            Detector::CplTop20 => "cpl-top20",
            Detector::Knn => "knn",
            Detector::Gauss => "gauss",
            Detector::Squeeze => "squeeze",
            Detector::Fusion => "fusion",
            Detector::FusionMin => "fusion-min",
            Detector::MinGaussMin => "min-gauss-min",
        }
    }
}

/// Calibration set A: the clean distribution of each per-layer Gaussian score, of the
/// four parts the fusions combine (k-NN sum, Gaussian Fisher, CPL, feature squeezing) and of
/// the layers' smallest Gaussian p-value.
#[derive(Debug, Clone)]
pub struct Components {
    gauss: Vec<Calibration>,
    parts: [Calibration; PARTS],
}

impl Components {
    /// From the raw scores of clean calibration inputs (set A).
    pub fn new(clean: &[RawScores]) -> hapscope_core::Result<Self> {
        let layers = clean.first().map_or(0, |r| r.gauss.len());
        let per = |f: &dyn Fn(&RawScores) -> f64| -> hapscope_core::Result<Calibration> {
            Calibration::new(&clean.iter().map(f).collect::<Vec<_>>())
        };
        let gauss: Vec<Calibration> = (0..layers)
            .map(|l| per(&|r| r.gauss[l]))
            .collect::<hapscope_core::Result<_>>()?;
        let layer_p = clean
            .iter()
            .map(|r| layer_p_values(&gauss, r))
            .collect::<hapscope_core::Result<Vec<_>>>()?;
        let gauss_fisher = layer_p
            .iter()
            .map(|p| fisher(p))
            .collect::<hapscope_core::Result<Vec<_>>>()?;
        let gauss_min: Vec<f64> = layer_p.iter().map(|p| tippett(p)).collect();
        Ok(Components {
            parts: [
                per(&|r| knn_sum(r))?,
                Calibration::new(&gauss_fisher)?,
                per(&|r| -r.cpl_eq5)?,
                per(&|r| r.squeeze)?,
                Calibration::new(&gauss_min)?,
            ],
            gauss,
        })
    }

    /// The sorted clean scores: per layer's Gaussian, then the [`PARTS`] parts.
    pub fn sorted(&self) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        (
            self.gauss.iter().map(|c| c.scores().to_vec()).collect(),
            self.parts.iter().map(|c| c.scores().to_vec()).collect(),
        )
    }

    /// Reassembles [`Components::sorted`]'s output (e.g. read from a manifest).
    pub fn from_sorted(gauss: &[Vec<f64>], parts: &[Vec<f64>]) -> hapscope_core::Result<Self> {
        let parts: Vec<Calibration> = parts
            .iter()
            .map(|p| Calibration::new(p))
            .collect::<hapscope_core::Result<_>>()?;
        let parts: [Calibration; PARTS] =
            parts
                .try_into()
                .map_err(|v: Vec<Calibration>| hapscope_core::Error::DimMismatch {
                    expected: PARTS,
                    got: v.len(),
                })?;
        Ok(Components {
            gauss: gauss
                .iter()
                .map(|g| Calibration::new(g))
                .collect::<hapscope_core::Result<_>>()?,
            parts,
        })
    }

    /// Number of layers calibrated.
    pub fn layers(&self) -> usize {
        self.gauss.len()
    }

    /// Each layer's Gaussian p-value of one input (set A), input to output.
    pub fn layer_p_values(&self, r: &RawScores) -> hapscope_core::Result<Vec<f64>> {
        layer_p_values(&self.gauss, r)
    }

    /// The four parts' p-values of one input (set A): k-NN, Gaussian (Fisher over the
    /// layers' p-values `layer_p`, [`Components::layer_p_values`], taken as arguments so
    /// callers that need both compute them once), CPL (Eq. 5), feature squeezing.
    pub fn part_p_values(&self, r: &RawScores, layer_p: &[f64]) -> hapscope_core::Result<[f64; 4]> {
        let scores = [knn_sum(r), fisher(layer_p)?, -r.cpl_eq5, r.squeeze];
        Ok(core::array::from_fn(|k| self.parts[k].p_value(scores[k])))
    }

    /// The p-value (set A) of the layers' smallest Gaussian p-value `layer_p`
    /// ([`Components::layer_p_values`]).
    pub fn gauss_min_p_value(&self, layer_p: &[f64]) -> f64 {
        self.parts[4].p_value(tippett(layer_p))
    }

    /// The statistics of one input, in [`Detector::ALL`] order.
    pub fn statistics(&self, r: &RawScores) -> hapscope_core::Result<Statistics> {
        let layer_p = self.layer_p_values(r)?;
        let p = self.part_p_values(r, &layer_p)?;
        let [knn, _, cpl, squeeze] = p;
        Ok([
            -r.cpl_eq5,
            -r.cpl_top20,
            knn_sum(r),
            fisher(&layer_p)?,
            r.squeeze,
            fisher(&p)?,
            tippett(&p),
            tippett(&[knn, self.gauss_min_p_value(&layer_p), cpl, squeeze]),
        ])
    }
}

/// Tippett's `−2 ln min p` (0 for no p-values).
pub fn tippett(p: &[f64]) -> f64 {
    p.iter().map(|&x| -2.0 * x.ln()).fold(0.0, f64::max)
}

fn knn_sum(r: &RawScores) -> f64 {
    r.knn.iter().map(|&k| f64::from(k)).sum()
}

/// Each layer's Gaussian p-value of `r` under the layers' calibrations; the layer counts
/// must agree.
fn layer_p_values(layers: &[Calibration], r: &RawScores) -> hapscope_core::Result<Vec<f64>> {
    if r.gauss.len() != layers.len() {
        return Err(hapscope_core::Error::DimMismatch {
            expected: layers.len(),
            got: r.gauss.len(),
        });
    }
    Ok(layers
        .iter()
        .zip(&r.gauss)
        .map(|(c, &s)| c.p_value(s))
        .collect())
}

/// Calibration set B: each statistic's clean distribution, for p-values and thresholds.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Per statistic, in [`Detector::ALL`] order.
    pub calibrations: Vec<Calibration>,
}

impl Thresholds {
    /// From the statistics of clean calibration inputs (set B).
    pub fn new(clean: &[Statistics]) -> hapscope_core::Result<Self> {
        Ok(Thresholds {
            calibrations: (0..STATISTICS)
                .map(|d| Calibration::new(&clean.iter().map(|s| s[d]).collect::<Vec<_>>()))
                .collect::<hapscope_core::Result<_>>()?,
        })
    }
}

/// The fitted detectors of a network.
#[derive(Debug, Clone)]
pub struct Detectors {
    /// Covered layers, input to output (≥ 2, for CPL).
    pub layers: Vec<LayerDetector>,
    /// The top-a nodes of Eq. 3.
    pub top_a: usize,
    /// Number of classes.
    pub classes: usize,
}

/// One covered layer's parts, borrowed: what [`layer_evidence`] needs.
#[derive(Debug, Clone, Copy)]
pub struct LayerView<'a> {
    /// The library.
    pub library: &'a Library,
    /// Its links.
    pub links: &'a Links,
    /// The k-NN and Gaussian parts; `None` computes the library's predictions only (a
    /// bundle without detectors), leaving [`LayerEvidence::knn`] 0 and `gauss` NaN.
    pub detector: Option<LayerParts<'a>>,
}

/// A layer's k-NN and Gaussian parts, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct LayerParts<'a> {
    /// The network's answer on each node's source example.
    pub node_classes: &'a [u32],
    /// How the Gaussian sees the tap.
    pub features: FeatureMap,
    /// The Gaussian.
    pub gaussian: &'a ClassGaussian,
}

impl<'a> From<&'a LayerDetector> for LayerView<'a> {
    fn from(l: &'a LayerDetector) -> Self {
        LayerView {
            library: &l.library,
            links: &l.links,
            detector: Some(LayerParts {
                node_classes: &l.node_classes,
                features: l.features,
                gaussian: &l.gaussian,
            }),
        }
    }
}

/// What one layer says about one input.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerEvidence {
    /// Class scores `P` (Eq. 3) from the top-a nodes.
    pub scores: Vec<f32>,
    /// Class scores from the top-20 nodes (the code's CPL).
    pub scores_20: Vec<f32>,
    /// The top `max(a, 20)` nodes (index, canonical cosine), best first. Their first `a`
    /// are exactly Eq. 3's top-a: [`hapscope_core::predict::top_nodes`] ranks by canonical
    /// cosine, ties to the lower index, whatever the count asked for.
    pub nodes: Vec<(usize, f32)>,
    /// Whether the HAP had a direction.
    pub nonzero: bool,
    /// How many of the top-20 nodes' classes differ from the answer.
    pub knn: u32,
    /// Squared Mahalanobis distance of the features to the answered class.
    pub gauss: f64,
}

/// One layer's evidence for a block of HAPs (`rows × dim`) with the network's answers, from
/// one similarity pass (top `max(a, 20)` nodes; the top-a are their prefix).
pub fn layer_evidence<K: SimilarityKernel>(
    layer: LayerView<'_>,
    top_a: usize,
    haps: &[f32],
    answers: &[usize],
    kernel: &K,
) -> hapscope_core::Result<Vec<LayerEvidence>> {
    let dim = layer.library.dim();
    let m = answers.len();
    if haps.len() != m * dim {
        return Err(hapscope_core::Error::DimMismatch {
            expected: m * dim,
            got: haps.len(),
        });
    }
    let c = layer.links.classes();
    let k = top_a.max(KNN_K);
    let p = Predictor::new(layer.library, layer.links, k)?;
    let mut scores = vec![0.0; m * c];
    let mut nz = vec![false; m];
    let mut tops: Vec<Vec<(usize, f32)>> = vec![Vec::new(); m];
    p.scores_with_nodes(haps, kernel, &mut scores, &mut nz, |i, nodes| {
        tops[i] = nodes.to_vec();
    })?;
    let mut feats = Vec::new();
    let fd = layer.detector.map_or(0, |d| d.features.len(dim));
    if let Some(d) = layer.detector {
        if !d.features.fits(dim) {
            return Err(hapscope_core::Error::InvalidParameter {
                name: "features",
                reason: "the channel count does not divide the HAP length",
            });
        }
        d.features.apply(haps, dim, &mut feats);
    }
    tops.into_iter()
        .enumerate()
        .map(|(i, nodes)| {
            let mut s_a = vec![0.0; c];
            class_scores(layer.links, &nodes[..top_a.min(nodes.len())], &mut s_a);
            let mut s_20 = vec![0.0; c];
            class_scores(layer.links, &nodes[..KNN_K.min(nodes.len())], &mut s_20);
            let (knn, gauss) = match layer.detector {
                Some(d) => (
                    disagreements(&nodes[..KNN_K.min(nodes.len())], d.node_classes, answers[i])?
                        as u32,
                    d.gaussian.score(&feats[i * fd..][..fd], answers[i])?,
                ),
                None => (0, f64::NAN),
            };
            Ok(LayerEvidence {
                scores: s_a,
                scores_20: s_20,
                gauss,
                knn,
                nodes,
                nonzero: nz[i],
            })
        })
        .collect()
}

/// One input's raw scores from its layers' evidence (input to output, ≥ 2 layers).
pub fn raw_scores(
    layers: &[&LayerEvidence],
    answer: usize,
    squeeze: f64,
) -> hapscope_core::Result<RawScores> {
    let a: Vec<&[f32]> = layers.iter().map(|e| e.scores.as_slice()).collect();
    let b: Vec<&[f32]> = layers.iter().map(|e| e.scores_20.as_slice()).collect();
    Ok(RawScores {
        answer,
        cpl_eq5: cpl(&a, CplVariant::Eq5)?,
        cpl_top20: cpl(&b, CplVariant::Top20Softmax)?,
        knn: layers.iter().map(|e| e.knn).collect(),
        gauss: layers.iter().map(|e| e.gauss).collect(),
        squeeze,
    })
}

impl Detectors {
    /// Raw evidence for a block of inputs: `haps[tap]` holds `(dim, rows × dim values)` for
    /// every tap of the network (uncovered taps are ignored), `answers` the network's answer
    /// per row, `squeeze` feature squeezing's score per row (0 where there is none).
    pub fn raw<K: SimilarityKernel>(
        &self,
        haps: &[(usize, &[f32])],
        answers: &[usize],
        squeeze: &[f64],
        kernel: &K,
    ) -> hapscope_core::Result<Vec<RawScores>> {
        let m = answers.len();
        if squeeze.len() != m {
            return Err(hapscope_core::Error::DimMismatch {
                expected: m,
                got: squeeze.len(),
            });
        }
        let evidence = self
            .layers
            .iter()
            .map(|layer| {
                let &(_, values) =
                    haps.get(layer.tap)
                        .ok_or(hapscope_core::Error::DimMismatch {
                            expected: layer.tap + 1,
                            got: haps.len(),
                        })?;
                layer_evidence(layer.into(), self.top_a, values, answers, kernel)
            })
            .collect::<hapscope_core::Result<Vec<_>>>()?;
        (0..m)
            .map(|i| {
                let per: Vec<&LayerEvidence> = evidence.iter().map(|e| &e[i]).collect();
                raw_scores(&per, answers[i], squeeze[i])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hapscope_core::hebbian::HebbianAccumulator;
    use hapscope_core::kernel::PlainKernel;

    /// Uniform values in [−1, 1), seeded.
    fn stream(seed: u64) -> impl FnMut() -> f32 {
        let mut rng = hapscope_core::bootstrap::SplitMix64::new(seed);
        move || rng.symmetric()
    }

    /// Two layers (dims 12 and 6) of a 3-class problem: libraries, links, Gaussians.
    fn detectors() -> (Detectors, Vec<f32>, Vec<f32>, Vec<usize>) {
        let mut r = stream(11);
        let (n, classes) = (300, 3);
        let answers: Vec<usize> = (0..n).map(|i| i % classes).collect();
        let mut layers = Vec::new();
        let mut rows = Vec::new();
        for (tap, dim, theta) in [(0usize, 12usize, 0.6f32), (1, 6, 0.8)] {
            let haps: Vec<f32> = (0..n * dim)
                .map(|i| {
                    r() + if i % dim == answers[i / dim] {
                        2.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let library = Library::build_sequential(&haps, dim, theta).unwrap();
            let mut acc = HebbianAccumulator::new(library.len(), classes).unwrap();
            let mut sims = vec![0.0; library.len()];
            let mut unit = vec![0.0; dim];
            let mut nz = [false];
            for (row, &a) in haps.chunks_exact(dim).zip(&answers) {
                hapscope_core::library::normalize_rows(row, dim, &mut unit, &mut nz);
                library
                    .similarities(&unit, &PlainKernel, &mut sims)
                    .unwrap();
                acc.add(&sims, a).unwrap();
            }
            let features = FeatureMap::for_tap(dim, if dim == 12 { 3 } else { 1 });
            let mut feats = Vec::new();
            features.apply(&haps, dim, &mut feats);
            let gaussian =
                ClassGaussian::fit(&feats, features.len(dim), &answers, classes).unwrap();
            let node_classes =
                hapscope_core::conformity::node_classes(library.source_ids(), &answers).unwrap();
            layers.push(LayerDetector {
                name: format!("L{tap}"),
                tap,
                links: acc.finish(),
                library,
                node_classes,
                features,
                gaussian,
            });
            rows.push(haps);
        }
        let d = Detectors {
            layers,
            top_a: 3,
            classes,
        };
        let [a, b]: [Vec<f32>; 2] = rows.try_into().unwrap();
        (d, a, b, answers)
    }

    #[test]
    fn cpl_from_one_similarity_pass_equals_the_two_predictor_calls_of_reproduce() {
        // `experiment::detect` scores Eq. 5 with a top-a Predictor and the code's CPL with a
        // top-20 one; the detectors take both from one top-20 pass. Bit for bit the same.
        let (d, a, b, answers) = detectors();
        let m = 40;
        let (a, b) = (&a[..m * 12], &b[..m * 6]);
        let answers = &answers[..m];
        let raw = d
            .raw(&[(12, a), (6, b)], answers, &vec![0.0; m], &PlainKernel)
            .unwrap();
        for (variant, got) in [
            (
                CplVariant::Eq5,
                raw.iter().map(|r| r.cpl_eq5).collect::<Vec<_>>(),
            ),
            (
                CplVariant::Top20Softmax,
                raw.iter().map(|r| r.cpl_top20).collect(),
            ),
        ] {
            let per_layer: Vec<Vec<f32>> = d
                .layers
                .iter()
                .zip([a, b])
                .map(|(l, haps)| {
                    let p = Predictor::new(&l.library, &l.links, variant.top_a(3)).unwrap();
                    let mut s = vec![0.0; m * 3];
                    p.scores(haps, &PlainKernel, &mut s, &mut vec![false; m])
                        .unwrap();
                    s
                })
                .collect();
            for (i, &g) in got.iter().enumerate() {
                let rows: Vec<&[f32]> = per_layer.iter().map(|s| &s[i * 3..][..3]).collect();
                assert_eq!(
                    g.to_bits(),
                    cpl(&rows, variant).unwrap().to_bits(),
                    "row {i}"
                );
            }
        }
        // The k-NN votes count the top-20 nodes of other classes; Gaussians score the answer.
        for r in &raw {
            assert!(r.knn.iter().all(|&k| k as usize <= KNN_K));
            assert!(r.gauss.iter().all(|g| g.is_finite() && *g >= 0.0));
        }
    }

    #[test]
    fn an_input_of_another_class_scores_as_more_anomalous() {
        // The same HAPs under a wrong answer: more k-NN disagreements and a larger distance.
        let (d, a, b, answers) = detectors();
        let m = 60;
        let wrong: Vec<usize> = answers[..m].iter().map(|&c| (c + 1) % 3).collect();
        let zeros = vec![0.0; m];
        let right = d
            .raw(
                &[(12, &a[..m * 12]), (6, &b[..m * 6])],
                &answers[..m],
                &zeros,
                &PlainKernel,
            )
            .unwrap();
        let off = d
            .raw(
                &[(12, &a[..m * 12]), (6, &b[..m * 6])],
                &wrong,
                &zeros,
                &PlainKernel,
            )
            .unwrap();
        let comp = Components::new(&right).unwrap();
        let (mut knn, mut gauss) = (0, 0);
        for (r, o) in right.iter().zip(&off) {
            let (sr, so) = (comp.statistics(r).unwrap(), comp.statistics(o).unwrap());
            knn += usize::from(so[Detector::Knn.index()] > sr[Detector::Knn.index()]);
            gauss += usize::from(so[Detector::Gauss.index()] > sr[Detector::Gauss.index()]);
        }
        assert!(
            knn >= m * 9 / 10 && gauss >= m * 9 / 10,
            "knn {knn}, gauss {gauss} of {m}"
        );
        // Bad input is refused, not a panic.
        assert!(
            d.raw(&[(12, &a[..12])], &[0], &[0.0], &PlainKernel)
                .is_err()
        );
        assert!(
            d.raw(&[(12, &a[..12]), (6, &b[..6])], &[0], &[], &PlainKernel)
                .is_err()
        );
        assert!(
            d.raw(&[(12, &a[..12]), (6, &b[..6])], &[7], &[0.0], &PlainKernel)
                .is_err()
        );
    }

    #[test]
    fn fit_from_host_arrays_equals_the_sequential_definitions() {
        // LayerDetector::fit (the θ-grid pass, the Python package's path) against the
        // definitions: Library::build_sequential, Eq. 2 row by row, the Gaussian's own fit.
        let (d, a, _, answers) = detectors();
        let want = &d.layers[0];
        let got = LayerDetector::fit(
            "L0",
            0,
            &a,
            12,
            &answers,
            0.6,
            3,
            want.features,
            PlainKernel,
            true,
        )
        .unwrap();
        assert_eq!(got.library, want.library);
        assert_eq!(got.links, want.links);
        assert_eq!(got.node_classes, want.node_classes);
        assert_eq!(
            got.gaussian.whitened_means(),
            want.gaussian.whitened_means()
        );
        assert!(
            LayerDetector::fit(
                "L0",
                0,
                &a[1..],
                12,
                &answers,
                0.6,
                3,
                want.features,
                PlainKernel,
                true
            )
            .is_err()
        );
        assert!(
            LayerDetector::fit(
                "L0",
                0,
                &a,
                12,
                &answers,
                0.6,
                3,
                FeatureMap::ChannelMeans { channels: 5 },
                PlainKernel,
                true
            )
            .is_err()
        );
    }

    /// 20 clean inputs of two layers whose parts are independent-looking permutations of
    /// 0..20 (set A of this module's and [`super::candidates`]' tests).
    pub(super) fn clean_parts() -> Vec<RawScores> {
        (0..20u32)
            .map(|i| RawScores {
                answer: 0,
                cpl_eq5: -f64::from((i * 11) % 20),
                cpl_top20: 0.0,
                knn: vec![(i * 7) % 20, 0],
                gauss: vec![f64::from(i), f64::from((i * 3) % 20)],
                squeeze: f64::from((i * 13) % 20),
            })
            .collect()
    }

    #[test]
    fn min_gauss_min_recalibrates_the_layer_minimum_on_set_a_and_sees_one_far_layer() {
        let set = clean_parts();
        let c = Components::new(&set).unwrap();
        // On set A itself, the layers' minimum is a conformal p-value of its own sample:
        // (1 + #{set A's minima at least as extreme}) / (n + 1) — not the raw minimum, which
        // is smaller (two layers give two chances to look extreme).
        let layer_p: Vec<Vec<f64>> = set.iter().map(|r| c.layer_p_values(r).unwrap()).collect();
        let mins: Vec<f64> = layer_p.iter().map(|p| tippett(p)).collect();
        let mut below_raw = 0;
        for (p, &m) in layer_p.iter().zip(&mins) {
            let at_least = mins.iter().filter(|&&x| x >= m).count();
            let recal = c.gauss_min_p_value(p);
            assert_eq!(recal, (1 + at_least) as f64 / 21.0);
            below_raw += usize::from(p.iter().copied().fold(1.0, f64::min) < recal);
        }
        assert!(below_raw > 10, "{below_raw} of 20");
        // The statistic is Tippett over k-NN, the recalibrated minimum, CPL and squeezing.
        let m = Detector::MinGaussMin.index();
        for r in &set {
            let lp = c.layer_p_values(r).unwrap();
            let [knn, _, cpl, sq] = c.part_p_values(r, &lp).unwrap();
            let want = tippett(&[knn, c.gauss_min_p_value(&lp), cpl, sq]);
            assert_eq!(c.statistics(r).unwrap()[m], want);
        }
        // One layer far beyond every clean score: Fisher over two layers and the minimum both
        // grow, and the minimum's part goes below set A's floor 1/21 (the calibration's tail
        // continues beyond its largest clean score, so a far layer stays distinguishable).
        let typical = RawScores {
            gauss: vec![0.0, 0.0],
            knn: vec![0, 0],
            cpl_eq5: 0.0,
            squeeze: 0.0,
            ..set[0].clone()
        };
        let far = RawScores {
            gauss: vec![1e3, 0.0],
            ..typical.clone()
        };
        let (st, sf) = (c.statistics(&typical).unwrap(), c.statistics(&far).unwrap());
        assert!(sf[m] > st[m] && sf[Detector::Gauss.index()] > st[Detector::Gauss.index()]);
        assert!(c.gauss_min_p_value(&c.layer_p_values(&far).unwrap()) < 1.0 / 21.0);
        // Through the sorted lists (a page bundle) the same statistics.
        let (g, parts) = c.sorted();
        assert_eq!(parts.len(), PARTS);
        let back = Components::from_sorted(&g, &parts).unwrap();
        assert_eq!(back.statistics(&far).unwrap(), sf);
        assert!(Components::from_sorted(&g, &parts[..4]).is_err());
        assert_eq!(tippett(&[]), 0.0);
        assert_eq!(tippett(&[0.5, 0.25, 1.0]), -2.0 * 0.25f64.ln());
    }

    #[test]
    fn names_and_indices_round_trip() {
        for (i, d) in Detector::ALL.iter().enumerate() {
            assert_eq!(d.index(), i);
            assert_eq!(Detector::from_name(d.name()), Some(*d));
        }
        assert_eq!(Detector::from_name("nope"), None);
    }
}
