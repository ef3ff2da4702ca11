//! Layer taps: the hidden-layer activity patterns (HAPs) a forward pass exposes by name.
//!
//! A HAP is the **flattened output of a tapped module before ReLU or pooling** (docs/method.md,
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
    /// The taps of a whole forward pass; the logits are the last one (as for both paper
    /// networks).
    ///
    /// # Panics
    /// When `layers` is empty.
    pub fn from_layers(layers: Vec<(&'static str, Tensor<2>)>) -> Self {
        let logits = layers.last().expect("a network has taps").1.clone();
        Taps { layers, logits }
    }

    /// The tap called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Tensor<2>> {
        self.layers.iter().find(|(n, _)| *n == name).map(|(_, t)| t)
    }
}

/// Flattens `[batch, …]` to `[batch, features]`.
pub fn flat<const D: usize>(t: Tensor<D>) -> Tensor<2> {
    t.flatten(1, D - 1)
}

/// The network's answer for each row of host logits (`rows × classes`, row-major): the
/// argmax, ties to the lowest class. The one definition native code and the page share.
pub fn answers_from_logits(logits: &[f32], classes: usize) -> Vec<usize> {
    logits
        .chunks_exact(classes.max(1))
        .map(|row| hapscope_core::predict::argmax(row).unwrap_or(0))
        .collect()
}

/// The network's answer (argmax of the logits) for each row, read to the host; see
/// [`answers_from_logits`].
pub fn answers(logits: Tensor<2>) -> Vec<usize> {
    let [_, classes] = logits.dims();
    let host = logits
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 logits");
    answers_from_logits(&host, classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_the_argmax_with_ties_to_the_lowest_class() {
        let logits = [0.1, 2.0, -1.0, 3.0, 3.0, 0.0, -5.0, -5.0, -4.0];
        assert_eq!(answers_from_logits(&logits, 3), vec![1, 0, 2]);
        let t = Tensor::<2>::from_data(TensorData::new(logits.to_vec(), [3, 3]), &Device::flex());
        assert_eq!(answers(t), vec![1, 0, 2]);
    }
}
