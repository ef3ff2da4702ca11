//! The paper's experiments on a network, streamed in batches: libraries for every layer at
//! every θ of a grid (Fig. 2/4), confusion indices (Fig. 3), and CPL as a detector of PGD
//! attacks for the threshold sets of Table 1 (Fig. 5). The `hapscope reproduce` command
//! runs these and writes the figures.
//!
//! Each pass runs the network over a split in batches and feeds every layer's HAPs to the
//! core (library builders, Hebbian link accumulators, predictors); activations are never
//! all held at once.

pub mod detect;
pub mod fit;

use burn::prelude::*;

use crate::taps::{Taps, answers};

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
    let answers = answers(taps.logits);
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
    HostTaps { layers, answers }
}

/// Index of `theta` in `grid` (within 1e-4).
pub fn grid_index(grid: &[f32], theta: f32) -> Option<usize> {
    grid.iter().position(|&g| (g - theta).abs() < 1e-4)
}
