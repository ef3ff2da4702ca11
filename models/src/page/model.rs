//! The page's analysis, on the host: per-layer predictions (Eq. 3) with the exemplars that
//! cast them, CPL (Eq. 5) and the verdict. Native runs and the wasm page call this same code;
//! only the forward pass that produces the HAPs differs by device.

use hapscope_core::artifact::LibraryArtifact;
use hapscope_core::first_non_finite;
use hapscope_core::hebbian::Links;
use hapscope_core::kernel::PlainKernel;
use hapscope_core::library::{Library, normalize_rows};
use hapscope_core::predict::top_k;
use serde::Serialize;

use super::bundle::{Bundle, BundleError};
use super::detectors::PageDetectors;
use super::manifest::Calibration;
use crate::detector::{
    Detector, LayerEvidence, LayerParts, LayerView, RawScores, layer_evidence, raw_scores,
};

/// One layer's library network: nodes (unit HAPs of exemplar digits) and links.
#[derive(Debug, Clone)]
pub struct PageLayer {
    /// Tap name.
    pub name: String,
    /// The library (its node vectors stored in the bundle, or made from the exemplars).
    pub library: Library,
    /// Hebbian links (Eq. 2).
    pub links: Links,
    /// Whether the library was made from node HAPs or kept vectors, not from vectors the
    /// bundle stores: what the page keeps between visits ([`PageModel::computed_vectors`]).
    pub computed: bool,
}

/// One layer's view of an input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerAnalysis {
    /// Tap name.
    pub name: String,
    /// The three best digits and their scores `P` (Eq. 3), best first.
    pub top3: Vec<(usize, f32)>,
    /// Source ids of the top-a nodes (the nearest stored exemplars), nearest first.
    pub exemplars: Vec<u32>,
    /// Their cosine similarity to the input's HAP.
    pub similarity: Vec<f32>,
    /// Whether the layer's top prediction equals the network's answer.
    pub agrees: bool,
    /// All class scores `P`.
    pub scores: Vec<f32>,
}

/// One detector's reading of an input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectorReading {
    /// [`Detector::name`].
    pub name: &'static str,
    /// Its statistic (higher = more anomalous).
    pub score: f64,
    /// The threshold at the verdict's false-positive rate (clean calibration set B).
    pub threshold: f64,
    /// The share of clean calibration images scoring at least as high.
    pub p_value: f64,
    /// Whether the score is above the threshold.
    pub flagged: bool,
}

/// The whole analysis of one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The network's answer.
    pub answer: usize,
    /// CPL (Eq. 5) across the layers.
    pub cpl: f64,
    /// `"consistent"` or `"suspicious"`: the verdict of `verdict_by`.
    pub verdict: &'static str,
    /// The detector that gives the verdict ([`Detector::name`]; `cpl-eq5` in a bundle
    /// without detectors).
    pub verdict_by: &'static str,
    /// CPL's own verdict (below its calibrated threshold: `"suspicious"`), the paper's
    /// measure beside the verdict.
    pub cpl_verdict: &'static str,
    /// Every detector's reading (empty in a bundle without detectors).
    pub detectors: Vec<DetectorReading>,
    /// Per layer, input to output.
    pub layers: Vec<LayerAnalysis>,
}

/// The page's model on the host side.
#[derive(Debug, Clone)]
pub struct PageModel {
    /// Layers, input to output.
    pub layers: Vec<PageLayer>,
    /// Top-a nodes per prediction.
    pub top_a: usize,
    /// The CPL verdict's threshold.
    pub calibration: Calibration,
    /// The detectors beyond CPL, when the bundle has them.
    pub detectors: Option<PageDetectors>,
}

/// Exemplar rows `rows` of `exemplars` (`per` bytes each: 784 for a digit) as pixels in
/// [0, 1] (byte / 255), in the order given (a range, or a planned batch's rows), ready for
/// a forward pass.
pub fn exemplar_pixels(
    exemplars: &[u8],
    per: usize,
    rows: impl IntoIterator<Item = usize>,
) -> Vec<f32> {
    rows.into_iter()
        .flat_map(|r| &exemplars[r * per..][..per])
        .map(|&b| f32::from(b) / 255.0)
        .collect()
}

/// A core error on layer `layer`.
pub(crate) fn layer_err(layer: &str) -> impl FnOnce(hapscope_core::Error) -> BundleError + '_ {
    move |error| BundleError::Layer {
        layer: layer.to_string(),
        error,
    }
}

/// Library `a` (without stored vectors) from its node HAPs `raw` as computed: `nodes × dim`
/// values, finite, no row all zero; made unit length.
fn unit_library(a: &LibraryArtifact, raw: &[f32]) -> Result<Library, BundleError> {
    check_rows_length(a, raw)?;
    if let Some(i) = first_non_finite(raw) {
        return Err(BundleError::NonFiniteHap {
            layer: a.layer.clone(),
            id: a.source_ids[i / a.dim.max(1)],
        });
    }
    let mut unit = vec![0.0; raw.len()];
    let mut nonzero = vec![false; a.nodes()];
    normalize_rows(raw, a.dim, &mut unit, &mut nonzero);
    if let Some(i) = nonzero.iter().position(|&nz| !nz) {
        return Err(BundleError::ZeroHap {
            layer: a.layer.clone(),
            id: a.source_ids[i],
        });
    }
    Library::from_parts(a.dim, a.theta, unit, a.source_ids.clone()).map_err(layer_err(&a.layer))
}

/// Library `a` (without stored vectors) from the unit node vectors an earlier load made of
/// its node HAPs (`nodes × dim` values): taken as they are, as a library's stored vectors
/// are ([`LibraryArtifact::library`]: lengths and finite values checked).
fn kept_library(a: &LibraryArtifact, unit: Vec<f32>) -> Result<Library, BundleError> {
    check_rows_length(a, &unit)?;
    Library::from_parts(a.dim, a.theta, unit, a.source_ids.clone()).map_err(layer_err(&a.layer))
}

/// `rows` holds one row of `a.dim` values per node of `a`.
fn check_rows_length(a: &LibraryArtifact, rows: &[f32]) -> Result<(), BundleError> {
    if rows.len() == a.nodes() * a.dim {
        return Ok(());
    }
    Err(BundleError::HapLength {
        layer: a.layer.clone(),
        got: rows.len(),
        rows: a.nodes(),
        dim: a.dim,
    })
}

impl PageModel {
    /// Builds the layers: a library that stores its node vectors from them, every other from
    /// its node HAPs as computed (not yet unit length), in `rows`, one entry per such library
    /// in bundle order with `nodes × dim` values in its node order — what
    /// [`super::passes::PassPlan::node_rows`] gathers. Checked: the number of entries, their
    /// lengths, and every row finite and not all zero.
    pub fn from_node_rows(bundle: &Bundle, rows: &[Vec<f32>]) -> Result<Self, BundleError> {
        Self::with_computed(bundle, rows.iter(), |a, raw| unit_library(a, raw))
    }

    /// [`PageModel::from_node_rows`] from what it made of the rows instead: one entry per
    /// library without stored vectors, in bundle order, its unit node vectors as the model
    /// made of the rows holds them ([`PageModel::computed_vectors`]) — what the page keeps
    /// between visits, so that a return visit takes those libraries as stored ones: no
    /// normalisation, no second copy of 24 MB.
    /// Checked: the number of entries, their lengths and finite values.
    pub fn from_kept_vectors(bundle: &Bundle, vectors: Vec<Vec<f32>>) -> Result<Self, BundleError> {
        Self::with_computed(bundle, vectors.into_iter(), kept_library)
    }

    /// The unit node vectors of the libraries made from node HAPs or kept vectors, in layer
    /// order: what [`PageModel::from_kept_vectors`] takes back.
    pub fn computed_vectors(&self) -> Vec<&[f32]> {
        (self.layers.iter())
            .filter(|l| l.computed)
            .map(|l| l.library.vectors())
            .collect()
    }

    /// The layers of `bundle`, a library without stored vectors made by `make` from the next
    /// entry of `rows` (one per such library, counted first).
    fn with_computed<R>(
        bundle: &Bundle,
        rows: impl ExactSizeIterator<Item = R>,
        mut make: impl FnMut(&LibraryArtifact, R) -> Result<Library, BundleError>,
    ) -> Result<Self, BundleError> {
        let computed = bundle
            .libraries
            .iter()
            .filter(|a| a.vectors.is_none())
            .count();
        if rows.len() != computed {
            return Err(BundleError::LayerCount {
                got: rows.len(),
                expected: computed,
            });
        }
        let mut rows = rows;
        let mut layers = Vec::with_capacity(bundle.libraries.len());
        for a in &bundle.libraries {
            let (library, computed) = match a.library() {
                Some(stored) => (stored.map_err(layer_err(&a.layer))?, false),
                // Counted above: one entry of `rows` per library without vectors.
                None => (make(a, rows.next().expect("counted"))?, true),
            };
            layers.push(PageLayer {
                name: a.layer.clone(),
                library,
                links: a.links.clone(),
                computed,
            });
        }
        let detectors = detectors_of(bundle, &layers)?;
        Ok(PageModel {
            layers,
            top_a: bundle.manifest.top_a,
            calibration: bundle.manifest.calibration.clone(),
            detectors,
        })
    }

    /// HAP length of each layer.
    pub fn dims(&self) -> Vec<usize> {
        self.layers.iter().map(|l| l.library.dim()).collect()
    }

    /// Analyzes one input from its per-layer HAPs (`haps[l]` of the layer's length), the
    /// network's answer and feature squeezing's score (NaN when not measured: no evidence).
    pub fn analyze(
        &self,
        haps: &[&[f32]],
        answer: usize,
        squeeze: f64,
    ) -> Result<Analysis, BundleError> {
        let (layers, raw) = self.evidence(haps, answer, squeeze)?;
        let word = |flagged: bool| if flagged { "suspicious" } else { "consistent" };
        let cpl_verdict = word(raw.cpl_eq5 < self.calibration.threshold);
        let (detectors, verdict_by, verdict) = match &self.detectors {
            None => (Vec::new(), Detector::CplEq5.name(), cpl_verdict),
            Some(d) => {
                let stats = d.components.statistics(&raw).map_err(BundleError::Cpl)?;
                let readings: Vec<DetectorReading> = Detector::ALL
                    .iter()
                    .map(|&det| {
                        let score = stats[det.index()];
                        let threshold = d.threshold(det);
                        DetectorReading {
                            name: det.name(),
                            score,
                            threshold,
                            p_value: d.statistics[det.index()].p_value(score),
                            flagged: score > threshold,
                        }
                    })
                    .collect();
                let v = word(readings[d.verdict.index()].flagged);
                (readings, d.verdict.name(), v)
            }
        };
        Ok(Analysis {
            answer,
            cpl: raw.cpl_eq5,
            verdict,
            verdict_by,
            cpl_verdict,
            detectors,
            layers,
        })
    }

    /// Each layer's view of an input and its raw detector evidence ([`RawScores`]; the
    /// k-NN and Gaussian parts are 0 and NaN without detectors).
    pub fn evidence(
        &self,
        haps: &[&[f32]],
        answer: usize,
        squeeze: f64,
    ) -> Result<(Vec<LayerAnalysis>, RawScores), BundleError> {
        if haps.len() != self.layers.len() {
            return Err(BundleError::LayerCount {
                got: haps.len(),
                expected: self.layers.len(),
            });
        }
        let mut layers = Vec::with_capacity(haps.len());
        let mut evidence = Vec::with_capacity(haps.len());
        for (l, (layer, hap)) in self.layers.iter().zip(haps).enumerate() {
            let view = LayerView {
                library: &layer.library,
                links: &layer.links,
                detector: self.detectors.as_ref().map(|d| {
                    let p = &d.layers[l];
                    LayerParts {
                        node_classes: &p.node_classes,
                        features: p.features,
                        gaussian: &p.gaussian,
                    }
                }),
            };
            let e = layer_evidence(view, self.top_a, hap, &[answer], &PlainKernel)
                .map_err(layer_err(&layer.name))?
                .pop()
                .expect("one row");
            let top3: Vec<(usize, f32)> = top_k(&e.scores, 3)
                .into_iter()
                .map(|c| (c, e.scores[c]))
                .collect();
            let nodes = if e.nonzero {
                &e.nodes[..self.top_a.min(e.nodes.len())]
            } else {
                &[]
            };
            layers.push(LayerAnalysis {
                name: layer.name.clone(),
                agrees: top3.first().is_some_and(|&(c, _)| c == answer) && e.nonzero,
                top3,
                exemplars: nodes
                    .iter()
                    .map(|&(n, _)| layer.library.source_ids()[n])
                    .collect(),
                similarity: nodes.iter().map(|&(_, s)| s).collect(),
                scores: e.scores.clone(),
            });
            evidence.push(e);
        }
        let per: Vec<&LayerEvidence> = evidence.iter().collect();
        let raw = raw_scores(&per, answer, squeeze).map_err(BundleError::Cpl)?;
        Ok((layers, raw))
    }
}

/// The bundle's detectors assembled for `layers`, or `None` when it has none.
fn detectors_of(
    bundle: &Bundle,
    layers: &[PageLayer],
) -> Result<Option<PageDetectors>, BundleError> {
    let Some(m) = &bundle.manifest.detectors else {
        return Ok(None);
    };
    let bytes = bundle
        .detectors
        .as_deref()
        .ok_or_else(|| BundleError::Detectors(format!("{} is missing", m.file.name)))?;
    let dims: Vec<usize> = layers.iter().map(|l| l.library.dim()).collect();
    let nodes: Vec<usize> = layers.iter().map(|l| l.library.len()).collect();
    // The bundle checked the file when it was attached.
    PageDetectors::assemble_checked(m, bytes, &dims, &nodes, bundle.manifest.classes.len())
        .map(Some)
}

/// The threshold below which at most `rate` of the clean `cpls` fall, and the fraction that
/// actually does (ties make it ≤ `rate`).
pub fn calibrate(cpls: &[f64], rate: f64) -> (f64, f64) {
    let mut v: Vec<f64> = cpls.iter().copied().filter(|c| c.is_finite()).collect();
    if v.is_empty() {
        return (f64::NEG_INFINITY, 0.0);
    }
    v.sort_by(f64::total_cmp);
    let k = ((rate * v.len() as f64).floor() as usize).min(v.len() - 1);
    let t = v[k];
    let below = v.iter().filter(|&&c| c < t).count();
    (t, below as f64 / v.len() as f64)
}

#[cfg(test)]
mod tests {
    use hapscope_core::Error;

    use super::*;
    use crate::page::bundle::tests::bundle;

    /// HAPs of the test bundle's two exemplars that make a model.
    fn good_haps() -> Vec<Vec<f32>> {
        vec![
            vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0, 1.0, 1.0, 0.0],
        ]
    }

    /// Each node's row: its exemplar's HAP in `haps` (all exemplars, in exemplar order).
    fn rows_of(b: &Bundle, haps: &[Vec<f32>]) -> Vec<Vec<f32>> {
        b.libraries
            .iter()
            .zip(haps)
            .map(|(a, h)| {
                a.source_ids
                    .iter()
                    .flat_map(|&id| &h[b.exemplar_row(id).unwrap() * a.dim..][..a.dim])
                    .copied()
                    .collect()
            })
            .collect()
    }

    #[test]
    fn node_rows_rebuild_the_same_model_and_damaged_ones_are_refused() {
        let b = bundle();
        let rows = rows_of(&b, &good_haps());
        let nodes: Vec<usize> = b.libraries.iter().map(|a| a.nodes()).collect();
        let from_rows = PageModel::from_node_rows(&b, &rows).unwrap();
        for (l, a) in from_rows.layers.iter().zip(&b.libraries) {
            assert_eq!(l.library.source_ids(), &a.source_ids[..]);
        }
        let e = PageModel::from_node_rows(&b, &rows[..1]).unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::LayerCount {
                    got: 1,
                    expected: 2
                }
            ),
            "{e:?}"
        );
        let mut short = rows.clone();
        short[1].pop();
        let e = PageModel::from_node_rows(&b, &short).unwrap_err();
        assert!(
            matches!(&e, BundleError::HapLength { layer, rows, dim: 3, .. } if layer == "B" && *rows == nodes[1]),
            "{e:?}"
        );
        let mut nan = rows.clone();
        nan[0][0] = f32::NAN;
        let e = PageModel::from_node_rows(&b, &nan).unwrap_err();
        let first = b.libraries[0].source_ids[0];
        assert!(
            matches!(&e, BundleError::NonFiniteHap { layer, id } if layer == "A" && *id == first),
            "{e:?}"
        );
        let mut zero = rows;
        zero[0][..3].fill(0.0);
        let e = PageModel::from_node_rows(&b, &zero).unwrap_err();
        assert!(
            matches!(&e, BundleError::ZeroHap { layer, id } if layer == "A" && *id == first),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("layer A: exemplar {first} has an all-zero HAP")
        );
    }

    /// Every layer of `got` holds `want`'s library: the same vectors, bit for bit, and nodes.
    fn assert_same_libraries(got: &PageModel, want: &PageModel) {
        assert_eq!(got.layers.len(), want.layers.len());
        for (got, want) in got.layers.iter().zip(&want.layers) {
            assert_eq!(
                got.library.vectors(),
                want.library.vectors(),
                "{}",
                want.name
            );
            assert_eq!(got.library.source_ids(), want.library.source_ids());
        }
    }

    /// What the page keeps between visits: the unit vectors a model made of the rows holds
    /// rebuild that model, bit for bit, taken as they are; damaged ones are refused.
    #[test]
    fn kept_vectors_rebuild_the_model_the_rows_made() {
        let mut b = bundle();
        let rows = rows_of(&b, &good_haps());
        let all = PageModel::from_node_rows(&b, &rows).unwrap();
        // The second library stores its vectors: only the first is kept.
        b.libraries[1].vectors = Some(all.layers[1].library.vectors().to_vec());
        let from_rows = PageModel::from_node_rows(&b, &rows[..1]).unwrap();
        assert_eq!(
            from_rows.computed_vectors(),
            [all.layers[0].library.vectors()]
        );
        let kept = vec![all.layers[0].library.vectors().to_vec()];
        let model = PageModel::from_kept_vectors(&b, kept.clone()).unwrap();
        assert_same_libraries(&model, &all);
        let haps: [&[f32]; 2] = [&[1.0, 0.0, 0.0], &[0.0, 0.0, 1.0]];
        let (a, z) = (
            all.analyze(&haps, 1, f64::NAN).unwrap(),
            model.analyze(&haps, 1, f64::NAN).unwrap(),
        );
        assert_eq!(a.cpl.to_bits(), z.cpl.to_bits());
        assert_eq!(a.layers[0].exemplars, z.layers[0].exemplars);

        let e = PageModel::from_kept_vectors(&b, Vec::new()).unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::LayerCount {
                    got: 0,
                    expected: 1
                }
            ),
            "{e:?}"
        );
        let mut short = kept.clone();
        short[0].pop();
        let e = PageModel::from_kept_vectors(&b, short).unwrap_err();
        assert!(
            matches!(&e, BundleError::HapLength { layer, dim: 3, .. } if layer == "A"),
            "{e:?}"
        );
        let mut nan = kept;
        nan[0][4] = f32::INFINITY;
        let e = PageModel::from_kept_vectors(&b, nan).unwrap_err();
        assert!(
            e.to_string().starts_with("layer A") && e.to_string().contains("non-finite"),
            "{e}"
        );
    }

    /// A library that stores its node vectors takes no entry of the rows: the other
    /// libraries' rows, in order, make the model that all rows computed make.
    #[test]
    fn stored_vectors_take_the_place_of_their_rows() {
        let rows = rows_of(&bundle(), &good_haps());
        let all = PageModel::from_node_rows(&bundle(), &rows).unwrap();
        let mut b = bundle();
        b.libraries[1].vectors = Some(all.layers[1].library.vectors().to_vec());
        let model = PageModel::from_node_rows(&b, &rows[..1]).unwrap();
        assert_same_libraries(&model, &all);
        let e = PageModel::from_node_rows(&b, &rows).unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::LayerCount {
                    got: 2,
                    expected: 1
                }
            ),
            "{e:?}"
        );
        // Every library stored: no rows at all.
        b.libraries[0].vectors = Some(all.layers[0].library.vectors().to_vec());
        let model = PageModel::from_node_rows(&b, &[]).unwrap();
        assert_eq!(
            model.layers[0].library.vectors(),
            all.layers[0].library.vectors()
        );
    }

    #[test]
    fn an_analysis_refuses_haps_by_kind() {
        let b = bundle();
        let model = PageModel::from_node_rows(&b, &rows_of(&b, &good_haps())).unwrap();
        let a = model
            .analyze(&[&[1.0, 0.0, 0.0], &[0.0, 0.0, 1.0]], 1, f64::NAN)
            .unwrap();
        assert_eq!(a.layers[0].exemplars, [3]);
        let e = model.analyze(&[&[1.0, 0.0, 0.0]], 1, f64::NAN).unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::LayerCount {
                    got: 1,
                    expected: 2
                }
            ),
            "{e:?}"
        );
        let e = model
            .analyze(&[&[1.0, 0.0], &[0.0, 0.0, 1.0]], 1, f64::NAN)
            .unwrap_err();
        assert!(
            matches!(&e, BundleError::Layer { layer, error: Error::DimMismatch { expected: 3, got: 2 } } if layer == "A"),
            "{e:?}"
        );
    }

    #[test]
    fn calibration_counts_what_falls_below() {
        let c: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(calibrate(&c, 0.05), (5.0, 0.05));
        assert_eq!(calibrate(&[1.0; 10], 0.05), (1.0, 0.0));
        assert_eq!(calibrate(&[], 0.05).1, 0.0);
    }
}
