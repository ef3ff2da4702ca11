//! Layer taps: the hidden-layer activity patterns (HAPs) a forward pass exposes by name.
//!
//! A HAP is the **flattened output of a tapped module before ReLU or pooling** (DESIGN.md,
//! from the paper's code), one row per example.

use burn::prelude::*;

/// The tapped outputs of one forward pass, in network order, and the logits.
#[derive(Debug, Clone)]
pub struct Taps {
    /// `(name, [batch, features])` per tapped layer, input to output.
    pub layers: Vec<(&'static str, Tensor<2>)>,
    /// `[batch, classes]` logits (also the last tap for both paper networks).
    pub logits: Tensor<2>,
}

impl Taps {
    /// The tap called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Tensor<2>> {
        self.layers.iter().find(|(n, _)| *n == name).map(|(_, t)| t)
    }
}

/// Flattens `[batch, …]` to `[batch, features]`.
pub fn flat<const D: usize>(t: Tensor<D>) -> Tensor<2> {
    t.flatten(1, D - 1)
}

/// The network's answer (argmax of the logits) for each row, on the host.
pub fn answers(logits: Tensor<2>) -> Vec<usize> {
    logits
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("argmax yields integers")
        .into_iter()
        .map(|a| a as usize)
        .collect()
}
