//! The paper's experiments on a network, streamed in batches: libraries for every layer at
//! every θ of a grid (Fig. 2/4), confusion indices (Fig. 3), CPL as a detector of PGD
//! attacks for the threshold sets of Table 1 (Fig. 5), and the sparse sampling of §4.3.
//! [`plan`] says what a run covers (θ grids, Table 1's sets, ε lists, fast or full),
//! [`report`] holds the figures' JSON documents as typed structs. The `hapscope reproduce`
//! command runs these and renders the figures (Markdown, SVG) and progress.
//!
//! Each pass runs the network over a split in batches and feeds every layer's HAPs to the
//! core (library builders, Hebbian link accumulators, predictors); activations are never
//! all held at once.

pub mod candidates;
pub mod detect;
pub mod detection;
pub mod fit;
pub mod plan;
pub mod report;
pub mod sparse;

use burn::prelude::*;

use crate::taps::{Taps, answers_from_logits};
use detect::ThresholdSets;

/// Why an experiment could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The core refused an input (dimensions, classes, parameters).
    #[error(transparent)]
    Core(#[from] hapscope_core::Error),
    /// A θ the run needs (a threshold set's or a confusion matrix's) is not on the layer's
    /// θ grid, so no library was built for it.
    #[error("θ = {theta} is not on the θ grid of tap {layer} ({grid:?})")]
    ThetaOffGrid {
        /// The tap's name.
        layer: String,
        /// The θ asked for.
        theta: f32,
        /// The tap's grid.
        grid: Vec<f32>,
    },
    /// The network has no tap of that name (or index).
    #[error("the network has no tap {0}")]
    UnknownLayer(String),
    /// The plan contradicts itself or the network.
    #[error("invalid experiment plan: {0}")]
    Plan(String),
}

/// An experiment's result.
pub type Result<T> = std::result::Result<T, ExperimentError>;

/// A network as the experiments see it: taps on the plain device, logits on the autodiff
/// device (for PGD).
pub struct NetFns<'a> {
    /// Forward pass with taps (plain device).
    pub taps: &'a dyn Fn(Tensor<4>) -> Taps,
    /// Logits of a frozen copy on the autodiff device.
    pub logits_ad: &'a dyn Fn(Tensor<4>) -> Tensor<2>,
    /// The plain device.
    pub device: Device,
    /// The autodiff device.
    pub ad: Device,
}

/// Per-layer HAPs of a batch on the host, and the network's answers.
pub struct HostTaps {
    /// `(name, dim, rows × dim values)` per layer, network order.
    pub layers: Vec<(&'static str, usize, Vec<f32>)>,
    /// The network's answer per row.
    pub answers: Vec<usize>,
    /// The logits, `rows × classes`.
    pub logits: Vec<f32>,
}

impl HostTaps {
    /// Keeps, per layer, only the hidden units listed (`None` keeps all) — the sparse
    /// sampling of §4.3.
    pub fn keep_units(&mut self, units: &[Option<Vec<usize>>]) {
        for ((_, dim, values), keep) in self.layers.iter_mut().zip(units) {
            if let Some(keep) = keep {
                *values = values
                    .chunks_exact(*dim)
                    .flat_map(|row| keep.iter().map(move |&u| row[u]))
                    .collect();
                *dim = keep.len();
            }
        }
    }
}

/// A seeded choice of `k` of `dim` hidden units (sorted), or `None` when `k ≥ dim`.
pub fn sample_units(dim: usize, k: usize, seed: u64) -> Option<Vec<usize>> {
    (k < dim).then(|| {
        let mut u: Vec<usize> = crate::train::shuffled(dim, seed)
            .into_iter()
            .take(k)
            .collect();
        u.sort_unstable();
        u
    })
}

/// Copies a forward pass's taps and answers to the host.
pub fn to_host(taps: Taps) -> HostTaps {
    // One read of the logits; the answers come from the host copy.
    let [_, classes] = taps.logits.dims();
    let logits = taps
        .logits
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 logits");
    let answers = answers_from_logits(&logits, classes);
    let layers = taps
        .layers
        .into_iter()
        .map(|(name, t)| {
            let [_, dim] = t.dims();
            (
                name,
                dim,
                t.into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .expect("f32 activations"),
            )
        })
        .collect();
    HostTaps {
        layers,
        answers,
        logits,
    }
}

/// Index of `theta` in `grid` (within 1e-4).
pub fn grid_index(grid: &[f32], theta: f32) -> Option<usize> {
    grid.iter().position(|&g| (g - theta).abs() < 1e-4)
}

/// Index of `theta` in the grid of tap `layer`, or [`ExperimentError::ThetaOffGrid`]: a θ
/// that is not on the grid has no library, and no other θ's library may stand in for it.
pub fn require_grid_index(layer: &str, grid: &[f32], theta: f32) -> Result<usize> {
    grid_index(grid, theta).ok_or_else(|| ExperimentError::ThetaOffGrid {
        layer: layer.to_string(),
        theta,
        grid: grid.to_vec(),
    })
}

/// For threshold set `set`, each covered tap's index and the index of the set's θ in that
/// tap's grid (`names[l]` and `grids[l]` per tap, network order). Errors when a covered tap
/// does not exist or a θ is off its grid.
pub fn set_grid_indices(
    names: &[&str],
    grids: &[Vec<f32>],
    sets: &ThresholdSets,
    set: usize,
) -> Result<Vec<(usize, usize)>> {
    let thetas = sets
        .sets
        .get(set)
        .ok_or_else(|| ExperimentError::Plan(format!("there is no threshold set {}", set + 1)))?;
    if thetas.len() != sets.layers.len() {
        return Err(ExperimentError::Plan(format!(
            "threshold set {} has {} θ for {} taps",
            set + 1,
            thetas.len(),
            sets.layers.len()
        )));
    }
    sets.layers
        .iter()
        .zip(thetas)
        .map(|(&l, &theta)| {
            let (name, grid) = names
                .get(l)
                .zip(grids.get(l))
                .ok_or_else(|| ExperimentError::UnknownLayer(format!("#{l}")))?;
            Ok((l, require_grid_index(name, grid, theta)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_theta_off_the_grid_is_an_error() {
        let names = ["A", "B"];
        let grids = vec![vec![0.5, 0.6], vec![0.7, 0.8]];
        let sets = ThresholdSets {
            layers: vec![0, 1],
            sets: vec![vec![0.6, 0.7], vec![0.6, 0.75]],
        };
        assert_eq!(
            set_grid_indices(&names, &grids, &sets, 0).unwrap(),
            [(0, 1), (1, 0)]
        );
        let e = set_grid_indices(&names, &grids, &sets, 1).unwrap_err();
        assert!(
            matches!(&e, ExperimentError::ThetaOffGrid { layer, theta, .. } if layer == "B" && *theta == 0.75),
            "{e}"
        );
        assert!(set_grid_indices(&names, &grids, &sets, 2).is_err());
        let wide = ThresholdSets {
            layers: vec![0, 2],
            sets: vec![vec![0.5, 0.7]],
        };
        assert!(matches!(
            set_grid_indices(&names, &grids, &wide, 0),
            Err(ExperimentError::UnknownLayer(_))
        ));
    }
}
