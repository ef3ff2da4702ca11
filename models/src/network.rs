//! One of the paper's two networks, loaded: the MNIST LeNet (`lenet`, the default page and
//! the CLI's `mnist` model) or the CIFAR-10 ResNet44 (`resnet44`, the page's CIFAR-10 mode
//! and the CLI's `resnet` model). The CLI and the page both run it through [`Network`].

use burn::module::Module;
use burn::prelude::*;

use crate::nets::lenet::{LENET_TAPS, LeNet};
use crate::nets::resnet44::{RESNET_TAPS, ResNet44};
use crate::page::manifest::MNIST_INPUT;
use crate::taps::Taps;
use crate::weights::{WeightsError, lenet_from_bytes, resnet44_from_bytes};

/// The LeNet's name (`manifest.network` of the MNIST bundle).
pub const LENET: &str = "lenet";
/// ResNet44's name (`manifest.network` of the CIFAR-10 bundle).
pub const RESNET44: &str = "resnet44";

/// Why a network could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The name is neither [`LENET`] nor [`RESNET44`].
    #[error("unknown network '{name}' (this build has {LENET} and {RESNET44})")]
    UnknownNetwork {
        /// The name asked for.
        name: String,
    },
    /// The weights did not load.
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// One of the paper's two networks.
#[derive(Debug, Clone)]
pub enum Network {
    /// The paper-time MNIST LeNet.
    LeNet(LeNet),
    /// ResNet44 for CIFAR-10.
    ResNet44(ResNet44),
}

impl Network {
    /// The network called `name` ([`LENET`] or [`RESNET44`]) with weights from safetensors
    /// `bytes` on `device`.
    pub fn from_bytes(name: &str, bytes: &[u8], device: &Device) -> Result<Self, NetError> {
        Ok(match name {
            LENET => Network::LeNet(lenet_from_bytes(bytes, device)?),
            RESNET44 => Network::ResNet44(resnet44_from_bytes(bytes, device)?),
            other => {
                return Err(NetError::UnknownNetwork {
                    name: other.to_string(),
                });
            }
        })
    }

    /// The network called `name` ([`LENET`] or [`RESNET44`]) untrained on `device` — the
    /// LeNet zeroed, ResNet44 freshly initialized: the same code as a trained one, to
    /// exercise it.
    pub fn untrained(name: &str, device: &Device) -> Result<Self, NetError> {
        Ok(match name {
            LENET => Network::LeNet(LeNet::zeroed(device)),
            RESNET44 => Network::ResNet44(ResNet44::new(device)),
            other => {
                return Err(NetError::UnknownNetwork {
                    name: other.to_string(),
                });
            }
        })
    }

    /// The `[channels, height, width]` of one input.
    pub fn input_shape(&self) -> [usize; 3] {
        match self {
            Network::LeNet(_) => MNIST_INPUT,
            Network::ResNet44(_) => [3, 32, 32],
        }
    }

    /// Its name: [`LENET`] or [`RESNET44`].
    pub fn name(&self) -> &'static str {
        match self {
            Network::LeNet(_) => LENET,
            Network::ResNet44(_) => RESNET44,
        }
    }

    /// Logits for pixels `[b, c, h, w]` in [0, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Network::LeNet(n) => n.forward(x),
            Network::ResNet44(n) => n.forward(x),
        }
    }

    /// The forward pass with every tap and the logits.
    pub fn forward_taps(&self, x: Tensor<4>) -> Taps {
        match self {
            Network::LeNet(n) => n.forward_taps(x),
            Network::ResNet44(n) => n.forward_taps(x),
        }
    }

    /// Its tap names, input to output.
    pub fn tap_names(&self) -> &'static [&'static str] {
        match self {
            Network::LeNet(_) => &LENET_TAPS,
            Network::ResNet44(_) => &RESNET_TAPS,
        }
    }

    /// The taps `0..=last` (indices into [`Network::tap_names`]) of a forward pass that
    /// stops after tap `last`.
    pub fn taps_through(&self, x: Tensor<4>, last: usize) -> Vec<(&'static str, Tensor<2>)> {
        match self {
            Network::LeNet(n) => n.taps_through(x, last),
            Network::ResNet44(n) => n.taps_through(x, last),
        }
    }

    /// The forward pass with the taps named in `layers` (in that order) and the logits.
    pub fn forward_layers(&self, x: Tensor<4>, layers: &[&str]) -> Taps {
        let all = self.forward_taps(x);
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

    /// The network with its parameters excluded from gradients, batch norm on running
    /// statistics: what PGD differentiates through.
    pub fn freeze(self) -> Self {
        match self {
            Network::LeNet(n) => Network::LeNet(n.freeze()),
            Network::ResNet44(n) => Network::ResNet44(n.freeze()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::lenet_to_bytes;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn an_unknown_name_is_refused_by_name() {
        let bytes = lenet_to_bytes(&LeNet::new(&Device::flex())).unwrap();
        let e = Network::from_bytes("vgg", &bytes, &Device::flex()).unwrap_err();
        assert!(
            matches!(&e, NetError::UnknownNetwork { name } if name == "vgg"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "unknown network 'vgg' (this build has lenet and resnet44)"
        );
    }

    #[test]
    fn bad_weights_are_a_weights_error() {
        let device = Device::flex();
        let bytes = lenet_to_bytes(&LeNet::new(&device)).unwrap();
        let e = Network::from_bytes(LENET, &bytes[..bytes.len() / 2], &device).unwrap_err();
        assert!(
            matches!(e, NetError::Weights(WeightsError::Decode { .. })),
            "{e:?}"
        );
        // The LeNet's tensors are not ResNet44's.
        let e = Network::from_bytes(RESNET44, &bytes, &device).unwrap_err();
        assert!(matches!(e, NetError::Weights(_)), "{e:?}");
    }

    #[test]
    fn input_shapes_are_the_bundles_and_unknown_names_are_refused() {
        let device = Device::flex();
        let lenet = Network::untrained(LENET, &device).unwrap();
        assert_eq!(lenet.name(), LENET);
        assert_eq!(lenet.input_shape(), MNIST_INPUT);
        // Zeroed: every tap of any input is zero.
        let x = Tensor::<4>::ones([1, 1, 28, 28], &device);
        for (tap, t) in lenet.forward_taps(x).layers {
            assert!(values(t).iter().all(|&v| v == 0.0), "{tap}");
        }
        // CIFAR-10's images (data::cifar).
        let resnet = Network::untrained(RESNET44, &device).unwrap();
        assert_eq!(resnet.name(), RESNET44);
        assert_eq!(resnet.input_shape(), [3, 32, 32]);
        let e = Network::untrained("alexnet", &device).unwrap_err();
        assert!(matches!(e, NetError::UnknownNetwork { .. }), "{e:?}");
    }

    #[test]
    fn one_network_for_every_forward_pass() {
        let device = Device::flex();
        let bytes = lenet_to_bytes(&LeNet::new(&device)).unwrap();
        let net = Network::from_bytes(LENET, &bytes, &device).unwrap();
        assert_eq!(net.name(), LENET);
        let x = Tensor::<4>::ones([2, 1, 28, 28], &device) * 0.5;
        let logits = values(net.forward(x.clone()));
        let all = net.forward_taps(x.clone());
        let names: Vec<&str> = all.layers.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["CN1", "CN2", "FC1", "FC2"]);
        assert_eq!(values(all.logits), logits);
        let some = net.forward_layers(x.clone(), &["FC2", "CN1", "nope"]);
        let names: Vec<&str> = some.layers.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["FC2", "CN1"]);
        assert_eq!(values(net.clone().freeze().forward(x)), logits);
    }

    /// A pass stopped after tap `last` gives the first `last + 1` taps of the whole pass,
    /// the same values, for both networks (randomly initialized).
    #[test]
    fn a_pass_stops_after_the_tap_asked_for() {
        let device = Device::flex();
        let nets = [
            Network::LeNet(LeNet::new(&device)),
            Network::ResNet44(ResNet44::new(&device)),
        ];
        for net in nets {
            let name = net.name();
            let [c, h, w] = net.input_shape();
            let x = Tensor::<4>::random(
                [2, c, h, w],
                burn::tensor::Distribution::Uniform(0.0, 1.0),
                &device,
            );
            let all = net.forward_taps(x.clone());
            assert_eq!(all.layers.len(), net.tap_names().len());
            for last in 0..net.tap_names().len() {
                let some = net.taps_through(x.clone(), last);
                let names: Vec<&str> = some.iter().map(|(n, _)| *n).collect();
                assert_eq!(names, net.tap_names()[..=last], "{name}, last {last}");
                for ((_, a), (_, b)) in some.into_iter().zip(all.layers.clone()) {
                    assert_eq!(values(a), values(b), "{name}, last {last}");
                }
            }
        }
    }
}
