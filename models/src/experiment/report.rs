//! The JSON documents `hapscope reproduce` writes, as typed structs: the binary serializes
//! them and the tests (and anyone reading `results/`) deserialize them, so both sides share
//! one schema instead of string keys.
//!
//! [`to_json`] writes a report exactly as the command always has: keys in alphabetical
//! order, `f32` values widened to `f64`, non-finite numbers as `null`, pretty-printed with a
//! final newline. Reading accepts the older layout of the committed full runs (one θ grid
//! for the whole figure instead of one per layer; no `set_layers`).

use serde::{Deserialize, Serialize};

use crate::page::bundle::sha256_hex;

use super::detect::{Detection, ThresholdSets};
use super::fit::Fit;

/// A report as the JSON text the command writes (see the module documentation).
pub fn to_json<T: Serialize>(report: &T) -> serde_json::Result<String> {
    // Through a `Value`: its map sorts the keys and it holds every number as f64, which is
    // how these files have always been written.
    Ok(serde_json::to_string_pretty(&serde_json::to_value(report)?)? + "\n")
}

/// A value per CPL variant: Eq. 5 and the paper code's top-20 softmax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerVariant<T> {
    /// Eq. 5 (cosine of raw P over layer pairs).
    pub eq5: T,
    /// The paper code's variant (top-20 nodes, softmax of P).
    pub top20_softmax: T,
}

impl<T> PerVariant<T> {
    /// From `[Eq. 5, top-20 softmax]`.
    pub fn from_pair([eq5, top20_softmax]: [T; 2]) -> Self {
        PerVariant { eq5, top20_softmax }
    }

    /// `[Eq. 5, top-20 softmax]`.
    pub fn as_pair(&self) -> [&T; 2] {
        [&self.eq5, &self.top20_softmax]
    }
}

/// One layer of Fig. 2 / Fig. 4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerReport {
    /// Tap name.
    pub name: String,
    /// HAP length.
    pub dim: usize,
    /// This layer's θ grid (empty in the older full runs: see [`Fig2Report::layer_grid`]).
    #[serde(default)]
    pub grid: Vec<f32>,
    /// Library size per θ.
    pub sizes: Vec<usize>,
    /// Per θ, the SHA-256 of the library's node ids (training-row indices, `u32`
    /// little-endian, creation order), so that reruns can show the same nodes (empty in the
    /// older full runs).
    #[serde(default)]
    pub node_ids_sha256: Vec<String>,
    /// Top-1 agreement with the network's test answers per θ.
    pub top1: Vec<f64>,
    /// Within-top-3 agreement per θ.
    pub top3: Vec<f64>,
}

/// Fig. 2 (MNIST) / Fig. 4 (ResNet): library size and agreement vs θ, per layer
/// (`fig2.json`, `fig4.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig2Report {
    /// The figure's number in the paper.
    pub figure: String,
    /// Training images the libraries were built from.
    pub train_rows: usize,
    /// Test images the agreement was measured on.
    pub test_rows: usize,
    /// The network's accuracy on those test images (true labels).
    pub network_test_accuracy: f64,
    /// Per layer, network order.
    pub layers: Vec<LayerReport>,
    /// The older full runs' single grid for every layer (never written now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<Vec<f32>>,
}

impl Fig2Report {
    /// The report of a fit.
    pub fn new(figure: &str, f: &Fit) -> Self {
        Fig2Report {
            figure: figure.into(),
            train_rows: f.train_rows,
            test_rows: f.test_rows,
            network_test_accuracy: f.test_accuracy,
            layers: f
                .layers
                .iter()
                .map(|l| LayerReport {
                    name: l.name.into(),
                    dim: l.dim,
                    grid: l.grid.clone(),
                    sizes: l.libraries.iter().map(|x| x.len()).collect(),
                    node_ids_sha256: l
                        .libraries
                        .iter()
                        .map(|x| {
                            let ids: Vec<u8> = x
                                .source_ids()
                                .iter()
                                .flat_map(|i| i.to_le_bytes())
                                .collect();
                            sha256_hex(&ids)
                        })
                        .collect(),
                    top1: l.top1.clone(),
                    top3: l.top3.clone(),
                })
                .collect(),
            grid: None,
        }
    }

    /// Layer `l`'s θ grid: its own, or the figure's in the older layout.
    pub fn layer_grid(&self, l: usize) -> &[f32] {
        match (&self.layers[l].grid, &self.grid) {
            (g, Some(all)) if g.is_empty() => all,
            (g, _) => g,
        }
    }
}

/// One confusion-index matrix of Fig. 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionReport {
    /// Tap name.
    pub layer: String,
    /// θ.
    pub theta: f32,
    /// Qualifying trials per true class.
    pub trials: Vec<u64>,
    /// Row-major `CI(d1, d2)`; `None` where undefined (a class without a trial).
    pub values: Vec<Option<f64>>,
    /// The heatmap's file name, next to the report.
    pub svg: String,
}

impl ConfusionReport {
    /// Number of classes (the matrix is classes × classes).
    pub fn classes(&self) -> usize {
        self.trials.len()
    }
}

/// Fig. 3: MNIST confusion indices (`fig3.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig3Report {
    /// `"3"`.
    pub figure: String,
    /// One per (layer, θ) of the plan.
    pub matrices: Vec<ConfusionReport>,
}

impl Fig3Report {
    /// The heatmap file of a matrix.
    pub fn svg_name(layer: &str, theta: f32) -> String {
        format!("fig3-{layer}-{theta:.2}.svg")
    }

    /// The report of a fit's confusion matrices.
    pub fn new(f: &Fit) -> Self {
        Fig3Report {
            figure: "3".into(),
            matrices: f
                .confusions
                .iter()
                .map(|c| ConfusionReport {
                    layer: c.layer.into(),
                    theta: c.theta,
                    trials: c.matrix.trials.clone(),
                    values: c
                        .matrix
                        .values
                        .iter()
                        .map(|v| v.is_finite().then_some(*v))
                        .collect(),
                    svg: Self::svg_name(c.layer, c.theta),
                })
                .collect(),
        }
    }
}

/// One attack setting of Fig. 5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeReport {
    /// `"pixel"` or `"quirk"` (the paper code's normalized-input attack).
    pub mode: String,
    /// ε.
    pub eps: f32,
    /// Images attacked.
    pub rows: usize,
    /// Of those, correctly answered before the attack.
    pub clean_correct: usize,
    /// Of those, answered differently after it.
    pub successes: usize,
    /// `successes / clean_correct`.
    pub success_rate: f64,
    /// Per threshold set, AUROC over all attacked images.
    pub auroc: PerVariant<Vec<f64>>,
    /// Per set, AUROC against the successful attacks only (`None`: there were none).
    pub auroc_successful: PerVariant<Vec<Option<f64>>>,
    /// Seconds spent attacking.
    pub attack_seconds: f64,
}

/// Fig. 5: CPL as a PGD detector (`fig5.json`, `fig5-resnet.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fig5Report {
    /// The figure's name (`"5"`, `"5-resnet"`).
    pub figure: String,
    /// Table 1's sets: one θ per covered tap, per set.
    pub sets: Vec<Vec<f32>>,
    /// The taps (indices) the sets cover (absent in the older full runs).
    #[serde(default)]
    pub set_layers: Vec<usize>,
    /// One per (mode, ε).
    pub outcomes: Vec<OutcomeReport>,
    /// CPL of the clean images under set 1.
    pub clean_cpl_set1: PerVariant<Vec<f64>>,
}

impl Fig5Report {
    /// The report of a detection run.
    pub fn new(figure: &str, d: &Detection, sets: &ThresholdSets) -> Self {
        Fig5Report {
            figure: figure.into(),
            sets: sets.sets.clone(),
            set_layers: sets.layers.clone(),
            outcomes: d
                .outcomes
                .iter()
                .map(|o| OutcomeReport {
                    mode: o.mode.into(),
                    eps: o.eps,
                    rows: o.rows,
                    clean_correct: o.clean_correct,
                    successes: o.successes,
                    success_rate: o.successes as f64 / o.clean_correct.max(1) as f64,
                    auroc: PerVariant {
                        eq5: o.auroc.iter().map(|a| a[0]).collect(),
                        top20_softmax: o.auroc.iter().map(|a| a[1]).collect(),
                    },
                    auroc_successful: PerVariant {
                        eq5: o.auroc_successful.iter().map(|a| a[0]).collect(),
                        top20_softmax: o.auroc_successful.iter().map(|a| a[1]).collect(),
                    },
                    attack_seconds: o.attack_seconds,
                })
                .collect(),
            clean_cpl_set1: PerVariant::from_pair(d.clean_cpl_set1.clone()),
        }
    }

    /// The pixel-space outcome at `eps` (within 1e-6), if it was run.
    pub fn pixel(&self, eps: f32) -> Option<&OutcomeReport> {
        self.outcomes
            .iter()
            .find(|o| o.mode == "pixel" && (o.eps - eps).abs() < 1e-6)
    }
}

/// Out-of-training inputs (§4.2): MNIST vs Fashion-MNIST (`ood.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OodReport {
    /// Images per side.
    pub rows: usize,
    /// Per threshold set, AUROC of CPL (MNIST = positive).
    pub auroc: PerVariant<Vec<f64>>,
}

impl OodReport {
    /// From the per-set `[Eq. 5, top-20 softmax]` AUROCs.
    pub fn new(rows: usize, auroc: &[[f64; 2]]) -> Self {
        OodReport {
            rows,
            auroc: PerVariant {
                eq5: auroc.iter().map(|v| v[0]).collect(),
                top20_softmax: auroc.iter().map(|v| v[1]).collect(),
            },
        }
    }
}

/// One layer of a sparse-sampling row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseLayer {
    /// Tap name.
    pub name: String,
    /// Library size at set 1's θ.
    pub size: usize,
    /// Top-1 agreement with the network's test answers.
    pub top1: f64,
}

/// One K of the sparse-sampling study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseRow {
    /// Hidden units kept per layer; `None` (written `"all"`) for every unit.
    #[serde(with = "units_label")]
    pub k: Option<usize>,
    /// Per layer, network order.
    pub layers: Vec<SparseLayer>,
    /// AUROC of CPL (Eq. 5) against the strongest pixel attack.
    pub auroc_eq5: f64,
    /// AUROC of CPL (top-20 softmax) against it.
    pub auroc_top20_softmax: f64,
}

/// §4.3's sparse sampling (`sparse.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseReport {
    /// Set 1's θ, one per tap.
    pub set: Vec<f32>,
    /// ε of the pixel-space attack.
    pub eps: f32,
    /// One per K, then every unit (`k: None`).
    pub rows: Vec<SparseRow>,
}

/// `k` as the JSON has it: the number as a string, or `"all"`.
mod units_label {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(k: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
        match k {
            Some(k) => s.serialize_str(&k.to_string()),
            None => s.serialize_str("all"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        let text = String::deserialize(d)?;
        if text == "all" {
            Ok(None)
        } else {
            text.parse().map(Some).map_err(D::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_written_with_sorted_keys_and_widened_floats() {
        let r = SparseReport {
            set: vec![0.55, 0.75],
            eps: 0.3,
            rows: vec![
                SparseRow {
                    k: Some(64),
                    layers: vec![SparseLayer {
                        name: "CN1".into(),
                        size: 7,
                        top1: 0.5,
                    }],
                    auroc_eq5: 0.9,
                    auroc_top20_softmax: f64::NAN,
                },
                SparseRow {
                    k: None,
                    layers: vec![],
                    auroc_eq5: 1.0,
                    auroc_top20_softmax: 1.0,
                },
            ],
        };
        let text = to_json(&r).unwrap();
        // What `json!` wrote before these structs existed.
        let old = serde_json::json!({"set": [0.55f32, 0.75f32], "eps": 0.3f32, "rows": [
            {"k": "64", "layers": [{"name": "CN1", "size": 7, "top1": 0.5}], "auroc_eq5": 0.9, "auroc_top20_softmax": f64::NAN},
            {"k": "all", "layers": [], "auroc_eq5": 1.0, "auroc_top20_softmax": 1.0}]});
        assert_eq!(text, serde_json::to_string_pretty(&old).unwrap() + "\n");
        assert!(text.contains("\"auroc_eq5\": 0.9,\n"), "{text}");
        assert!(text.contains("0.550000011920929"), "{text}");
        let back: SparseReport = serde_json::from_str(&text.replace("null", "0.0")).unwrap();
        assert_eq!(back.rows[0].k, Some(64));
        assert_eq!(back.rows[1].k, None);
        assert_eq!(back.set, r.set);
    }

    #[test]
    fn the_older_fig2_layout_reads() {
        let text = r#"{"figure": "2", "grid": [0.5, 0.6], "layers": [{"dim": 4, "name": "A",
            "sizes": [1, 2], "top1": [0.9, 1.0], "top3": [1.0, 1.0]}],
            "network_test_accuracy": 0.99, "test_rows": 10, "train_rows": 20}"#;
        let r: Fig2Report = serde_json::from_str(text).unwrap();
        assert_eq!(r.layer_grid(0), [0.5, 0.6]);
        let fig5 = r#"{"figure": "5", "sets": [[0.5]], "outcomes": [],
            "clean_cpl_set1": {"eq5": [], "top20_softmax": []}}"#;
        let r: Fig5Report = serde_json::from_str(fig5).unwrap();
        assert!(r.set_layers.is_empty());
    }
}
