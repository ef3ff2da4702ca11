//! ResNet44 for CIFAR-10 (akamaster/pytorch_resnet_cifar10, "option A" shortcuts), with
//! its taps.
//!
//! `[b, 3, 32, 32]` pixels in [0, 1] → normalize with the ImageNet mean/std (as the paper's
//! code did) → conv1 3→16 3×3 **(CN1, before bn1: 16×32×32)** → BN → ReLU → layer1 (7
//! blocks, 16 ch) **(CL1, 16×32×32)** → layer2 (7 blocks, 32 ch, first stride 2) **(CL2,
//! 32×16×16)** → layer3 (7 blocks, 64 ch, first stride 2) **(CL3, 64×8×8)** → global
//! average pool → linear 64→10 **(FC = logits)**. BN eps 1e-5, running statistics.
//!
//! A block: conv3×3(stride s) → BN → ReLU → conv3×3 → BN, plus the shortcut, then ReLU. The
//! option-A shortcut (stride ≠ 1 or channels change) keeps every second row and column
//! and zero-pads the channels by `planes / 4` on each side; it has no parameters.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::taps::{Taps, flat};

/// ImageNet per-channel mean, used by the paper's code for CIFAR-10.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet per-channel standard deviation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// The tap names, input to output.
pub const RESNET_TAPS: [&str; 5] = ["CN1", "CL1", "CL2", "CL3", "FC"];
/// The taps' channels (16×32×32, 16×32×32, 32×16×16, 64×8×8; 1 for the fully connected FC).
pub const RESNET_TAP_CHANNELS: [usize; 5] = [16, 16, 32, 64, 1];
/// CIFAR-10's class names, by label.
pub const CIFAR_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

fn conv3x3(cin: usize, cout: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

fn bn(c: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(c).with_epsilon(1e-5).init(device)
}

/// One residual block.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    /// Channels added on each side by the option-A shortcut (0 = identity shortcut).
    pad: usize,
    stride: usize,
}

impl BasicBlock {
    fn new(cin: usize, planes: usize, stride: usize, device: &Device) -> Self {
        let pad = if stride != 1 || cin != planes {
            planes / 4
        } else {
            0
        };
        BasicBlock {
            conv1: conv3x3(cin, planes, stride, device),
            bn1: bn(planes, device),
            conv2: conv3x3(planes, planes, 1, device),
            bn2: bn(planes, device),
            pad,
            stride,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let out = self.bn2.forward(self.conv2.forward(out));
        relu(out + self.shortcut(x))
    }

    /// Option A: `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))`.
    fn shortcut(&self, x: Tensor<4>) -> Tensor<4> {
        if self.pad == 0 {
            return x;
        }
        let [b, c, h, w] = x.dims();
        let device = x.device();
        let s = self.stride;
        // Every s-th row and column, starting at 0: reshape to expose the phase, keep phase 0.
        let x = x
            .reshape([b, c, h / s, s, w / s, s])
            .slice([0..b, 0..c, 0..h / s, 0..1, 0..w / s, 0..1])
            .reshape([b, c, h / s, w / s]);
        let zeros = Tensor::<4>::zeros([b, self.pad, h / s, w / s], &device);
        Tensor::cat(vec![zeros.clone(), x, zeros], 1)
    }
}

/// ResNet44 (3 stages of 7 blocks).
#[derive(Module, Debug)]
pub struct ResNet44 {
    conv1: Conv2d,
    bn1: BatchNorm,
    layer1: Vec<BasicBlock>,
    layer2: Vec<BasicBlock>,
    layer3: Vec<BasicBlock>,
    linear: Linear,
}

fn stage(cin: usize, planes: usize, stride: usize, device: &Device) -> Vec<BasicBlock> {
    (0..7)
        .map(|i| {
            if i == 0 {
                BasicBlock::new(cin, planes, stride, device)
            } else {
                BasicBlock::new(planes, planes, 1, device)
            }
        })
        .collect()
}

impl ResNet44 {
    /// An untrained network (load weights with [`crate::weights::resnet44_from_file`]).
    pub fn new(device: &Device) -> Self {
        ResNet44 {
            conv1: conv3x3(3, 16, 1, device),
            bn1: bn(16, device),
            layer1: stage(16, 16, 1, device),
            layer2: stage(16, 32, 2, device),
            layer3: stage(32, 64, 2, device),
            linear: LinearConfig::new(64, 10).init(device),
        }
    }

    /// Logits `[b, 10]` for pixels `[b, 3, 32, 32]` in [0, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_taps(x).logits
    }

    /// The forward pass with every tap (CN1, CL1, CL2, CL3, FC).
    pub fn forward_taps(&self, x: Tensor<4>) -> Taps {
        Taps::from_layers(self.taps_through(x, RESNET_TAPS.len() - 1))
    }

    /// The taps `0..=last` (indices into [`RESNET_TAPS`]) of a forward pass that stops
    /// there: a caller that needs CN1 only does not pay for the 21 blocks after it.
    pub fn taps_through(&self, x: Tensor<4>, last: usize) -> Vec<(&'static str, Tensor<2>)> {
        let device = x.device();
        let mean = Tensor::<1>::from_floats(IMAGENET_MEAN, &device).reshape([1, 3, 1, 1]);
        let std = Tensor::<1>::from_floats(IMAGENET_STD, &device).reshape([1, 3, 1, 1]);
        let x = (x - mean) / std;
        let cn1 = self.conv1.forward(x); // [b, 16, 32, 32]
        let mut taps = vec![("CN1", flat(cn1.clone()))];
        let mut h = relu(self.bn1.forward(cn1));
        // CL1 [b, 16, 32, 32], CL2 [b, 32, 16, 16], CL3 [b, 64, 8, 8]: each stage's output.
        for (name, blocks) in [
            ("CL1", &self.layer1),
            ("CL2", &self.layer2),
            ("CL3", &self.layer3),
        ] {
            if taps.len() > last {
                return taps;
            }
            h = blocks.iter().fold(h, |h, blk| blk.forward(h));
            taps.push((name, flat(h.clone())));
        }
        if taps.len() > last {
            return taps;
        }
        let pooled = h.mean_dim(3).mean_dim(2); // [b, 64, 1, 1]
        taps.push(("FC", self.linear.forward(flat(pooled)))); // [b, 10]
        taps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_shapes() {
        let device = Device::flex();
        let net = ResNet44::new(&device);
        let taps = net.forward_taps(Tensor::<4>::zeros([2, 3, 32, 32], &device));
        let dims: Vec<(&str, [usize; 2])> =
            taps.layers.iter().map(|(n, t)| (*n, t.dims())).collect();
        assert_eq!(
            dims,
            vec![
                ("CN1", [2, 16_384]),
                ("CL1", [2, 16_384]),
                ("CL2", [2, 8_192]),
                ("CL3", [2, 4_096]),
                ("FC", [2, 10])
            ]
        );
    }

    #[test]
    fn option_a_shortcut_subsamples_and_pads() {
        let device = Device::flex();
        let blk = BasicBlock::new(2, 4, 2, &device);
        let values: Vec<f32> = (0..32).map(|v| v as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 2, 4, 4]), &device);
        let y = blk.shortcut(x);
        assert_eq!(y.dims(), [1, 4, 2, 2]);
        let v = y.into_data().try_to_vec::<f32>().unwrap();
        // channel 0 and 3 are zero padding; channel 1 = input channel 0 at (0,0),(0,2),(2,0),(2,2)
        assert_eq!(
            v,
            vec![
                0., 0., 0., 0., 0., 2., 8., 10., 16., 18., 24., 26., 0., 0., 0., 0.
            ]
        );
    }
}
