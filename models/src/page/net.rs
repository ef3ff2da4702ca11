//! The page's network, named by the bundle's manifest: the MNIST LeNet (`lenet`, the
//! default page) or the CIFAR-10 ResNet44 (`resnet44`, the CIFAR-10 mode, built only
//! where `../shared` has its weights and data).

use burn::module::Module;
use burn::prelude::*;

use super::bundle::BundleError;
use crate::nets::lenet::LeNet;
use crate::nets::resnet44::ResNet44;
use crate::taps::Taps;
use crate::weights::{lenet_from_bytes, resnet44_from_bytes};

/// `manifest.network` of the MNIST bundle.
pub const LENET: &str = "lenet";
/// `manifest.network` of the CIFAR-10 bundle.
pub const RESNET44: &str = "resnet44";

/// One of the paper's two networks.
#[derive(Debug, Clone)]
pub enum PageNet {
    /// The paper-time MNIST LeNet.
    LeNet(LeNet),
    /// ResNet44 for CIFAR-10.
    ResNet44(ResNet44),
}

impl PageNet {
    /// The `network` with weights from safetensors `bytes` on `device`.
    pub fn from_bytes(network: &str, bytes: &[u8], device: &Device) -> Result<Self, BundleError> {
        let e = |e: crate::weights::WeightsError| BundleError(e.to_string());
        match network {
            LENET => lenet_from_bytes(bytes, device)
                .map(PageNet::LeNet)
                .map_err(e),
            RESNET44 => resnet44_from_bytes(bytes, device)
                .map(PageNet::ResNet44)
                .map_err(e),
            other => Err(BundleError(format!(
                "unknown network '{other}' (this build has {LENET} and {RESNET44})"
            ))),
        }
    }

    /// Logits for pixels `[b, c, h, w]` in [0, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            PageNet::LeNet(n) => n.forward(x),
            PageNet::ResNet44(n) => n.forward(x),
        }
    }

    /// The forward pass with the taps named in `layers` (in that order) and the logits.
    pub fn forward_layers(&self, x: Tensor<4>, layers: &[&str]) -> Taps {
        let all = match self {
            PageNet::LeNet(n) => n.forward_taps(x),
            PageNet::ResNet44(n) => n.forward_taps(x),
        };
        let mut taps = all.layers;
        let layers = layers
            .iter()
            .filter_map(|name| {
                let i = taps.iter().position(|(n, _)| n == name)?;
                Some(taps.swap_remove(i))
            })
            .collect();
        Taps {
            layers,
            logits: all.logits,
        }
    }

    /// The network with its parameters excluded from gradients (for attacks).
    pub fn freeze(self) -> Self {
        match self {
            PageNet::LeNet(n) => PageNet::LeNet(n.freeze()),
            PageNet::ResNet44(n) => PageNet::ResNet44(n.freeze()),
        }
    }
}
