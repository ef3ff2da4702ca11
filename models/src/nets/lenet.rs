//! The paper-time MNIST network (pytorch/examples `mnist` as of 2019), with its taps.
//!
//! `[b, 1, 28, 28]` pixels in [0, 1] → normalize with mean 0.1307, std 0.3081 (inside the
//! model, so attacks work in pixel space) → conv1 1→20 5×5 **(CN1, 20×24×24 = 11,520)** →
//! ReLU → max-pool 2 → conv2 20→50 5×5 **(CN2, 50×8×8 = 3,200)** → ReLU → max-pool 2 →
//! fc1 800→500 **(FC1, 500)** → ReLU → fc2 500→10 **(FC2 = logits, 10)**.
//! Taps are taken before ReLU/pooling (docs/method.md).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::taps::{Taps, flat};

/// MNIST training-set pixel mean (of values in [0, 1]).
pub const MNIST_MEAN: f32 = 0.1307;
/// MNIST training-set pixel standard deviation.
pub const MNIST_STD: f32 = 0.3081;
/// The tap names, input to output.
pub const LENET_TAPS: [&str; 4] = ["CN1", "CN2", "FC1", "FC2"];
/// The taps' HAP lengths: 20×24×24, 50×8×8, 500, 10.
pub const LENET_TAP_DIMS: [usize; 4] = [11_520, 3_200, 500, 10];
/// The taps' channels (feature maps of the convolutions; 1 for a fully connected tap).
pub const LENET_TAP_CHANNELS: [usize; 4] = [20, 50, 1, 1];

/// The MNIST LeNet.
#[derive(Module, Debug)]
pub struct LeNet {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
}

impl LeNet {
    /// A freshly initialized network (PyTorch-style uniform init) on `device`.
    pub fn new(device: &Device) -> Self {
        LeNet {
            conv1: Conv2dConfig::new([1, 20], [5, 5]).init(device),
            conv2: Conv2dConfig::new([20, 50], [5, 5]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1: LinearConfig::new(800, 500).init(device),
            fc2: LinearConfig::new(500, 10).init(device),
        }
    }

    /// The network with every weight and bias zero, on `device`: the same computation as
    /// a trained one without drawing 431k random numbers (the page's warm-up).
    pub fn zeroed(device: &Device) -> Self {
        let zeros = burn::nn::Initializer::Zeros;
        LeNet {
            conv1: Conv2dConfig::new([1, 20], [5, 5])
                .with_initializer(zeros.clone())
                .init(device),
            conv2: Conv2dConfig::new([20, 50], [5, 5])
                .with_initializer(zeros.clone())
                .init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1: LinearConfig::new(800, 500)
                .with_initializer(zeros.clone())
                .init(device),
            fc2: LinearConfig::new(500, 10)
                .with_initializer(zeros)
                .init(device),
        }
    }

    /// Logits `[b, 10]` for pixels `[b, 1, 28, 28]` in [0, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_taps(x).logits
    }

    /// The forward pass with every tap (CN1, CN2, FC1, FC2).
    pub fn forward_taps(&self, x: Tensor<4>) -> Taps {
        Taps::from_layers(self.taps_through(x, LENET_TAPS.len() - 1))
    }

    /// The taps `0..=last` (indices into [`LENET_TAPS`]) of a forward pass that stops
    /// there: a caller that needs CN1 only does not pay for conv2 and the dense layers.
    pub fn taps_through(&self, x: Tensor<4>, last: usize) -> Vec<(&'static str, Tensor<2>)> {
        let mut taps = Vec::with_capacity(last.min(3) + 1);
        let x = (x - MNIST_MEAN) / MNIST_STD;
        let cn1 = self.conv1.forward(x); // [b, 20, 24, 24]
        taps.push(("CN1", flat(cn1.clone())));
        if taps.len() > last {
            return taps;
        }
        let x = self.pool.forward(relu(cn1)); // [b, 20, 12, 12]
        let cn2 = self.conv2.forward(x); // [b, 50, 8, 8]
        taps.push(("CN2", flat(cn2.clone())));
        if taps.len() > last {
            return taps;
        }
        let x = self.pool.forward(relu(cn2)); // [b, 50, 4, 4]
        let fc1 = self.fc1.forward(flat(x)); // [b, 500]
        taps.push(("FC1", fc1.clone()));
        if taps.len() > last {
            return taps;
        }
        taps.push(("FC2", self.fc2.forward(relu(fc1)))); // [b, 10]
        taps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_shapes() {
        let device = Device::flex();
        let net = LeNet::new(&device);
        let x = Tensor::<4>::zeros([2, 1, 28, 28], &device);
        let taps = net.forward_taps(x);
        let dims: Vec<(&str, [usize; 2])> =
            taps.layers.iter().map(|(n, t)| (*n, t.dims())).collect();
        assert_eq!(
            dims,
            vec![
                ("CN1", [2, 11_520]),
                ("CN2", [2, 3_200]),
                ("FC1", [2, 500]),
                ("FC2", [2, 10])
            ]
        );
        assert_eq!(
            taps.layers.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            LENET_TAPS
        );
        assert_eq!(
            dims.iter().map(|(_, [_, d])| *d).collect::<Vec<_>>(),
            LENET_TAP_DIMS
        );
    }
}
