//! Loading and saving network weights (safetensors via burn-store).
//!
//! hapscope's own trained MNIST weights live in `models/weights/mnist-lenet.safetensors`
//! (made by `hapscope train mnist`), committed so a fresh checkout needs no download.

use std::path::PathBuf;

use burn::prelude::*;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore, SafetensorsStoreError};

use crate::nets::lenet::LeNet;
use crate::nets::resnet44::ResNet44;

/// Where the committed MNIST LeNet weights are.
pub fn mnist_lenet_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("weights/mnist-lenet.safetensors")
}

/// Which network a weights error concerns.
const LENET_NAME: &str = "LeNet";
/// Which network a weights error concerns.
const RESNET44_NAME: &str = "ResNet44";

/// Why weights could not be loaded or saved.
///
/// Each message is complete: it includes the underlying error (which is therefore not
/// repeated as `source()`), since the page shows `Display` alone and the CLI prints error
/// chains with `{:#}`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// The committed weights file could not be read.
    #[error("{}: {error} (make it with `hapscope train mnist`)", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        error: std::io::Error,
    },
    /// The bytes are not safetensors the network can load (truncated, not safetensors, a
    /// tensor of the wrong shape…).
    #[error("loading {network} weights: {error}")]
    Decode {
        /// `"LeNet"` or `"ResNet44"`.
        network: &'static str,
        /// burn-store's report.
        error: SafetensorsStoreError,
    },
    /// The safetensors lack some of the network's tensors.
    #[error("{network} weights lack {tensors:?}")]
    Missing {
        /// `"LeNet"` or `"ResNet44"`.
        network: &'static str,
        /// Paths of the missing tensors.
        tensors: Vec<String>,
    },
    /// The network could not be serialized.
    #[error("saving {network} weights: {error}")]
    Encode {
        /// `"LeNet"` or `"ResNet44"`.
        network: &'static str,
        /// burn-store's report.
        error: SafetensorsStoreError,
    },
    /// A weights file failed to load (the error names the file).
    #[error("{}: {error}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why it failed.
        error: Box<WeightsError>,
    },
}

fn decode(network: &'static str) -> impl FnOnce(SafetensorsStoreError) -> WeightsError {
    move |error| WeightsError::Decode { network, error }
}

fn encode(network: &'static str) -> impl FnOnce(SafetensorsStoreError) -> WeightsError {
    move |error| WeightsError::Encode { network, error }
}

/// The LeNet with weights from safetensors `bytes`; every tensor must be present.
pub fn lenet_from_bytes(bytes: &[u8], device: &Device) -> Result<LeNet, WeightsError> {
    let mut net = LeNet::new(device);
    // Partial loads are refused below, naming the missing tensors.
    let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec())).allow_partial(true);
    let result = net.load_from(&mut store).map_err(decode(LENET_NAME))?;
    if !result.missing.is_empty() {
        return Err(WeightsError::Missing {
            network: LENET_NAME,
            tensors: result.missing.into_iter().map(|(path, _)| path).collect(),
        });
    }
    Ok(net)
}

/// The committed, trained MNIST LeNet.
pub fn mnist_lenet(device: &Device) -> Result<LeNet, WeightsError> {
    let path = mnist_lenet_path();
    let bytes = std::fs::read(&path).map_err(|error| WeightsError::Read {
        path: path.clone(),
        error,
    })?;
    lenet_from_bytes(&bytes, device)
}

/// Serializes a LeNet's weights as safetensors bytes.
pub fn lenet_to_bytes(net: &LeNet) -> Result<Vec<u8>, WeightsError> {
    let mut store = SafetensorsStore::from_bytes(None);
    net.save_into(&mut store).map_err(encode(LENET_NAME))?;
    store.get_bytes().map_err(encode(LENET_NAME))
}

/// ResNet44 with the original PyTorch weights from a safetensors file (keys without the
/// `module.` prefix, as `../shared/models/resnet44-cifar10.safetensors` has them).
///
/// Every tensor of the network must come from the file; only batch-norm training flags,
/// which PyTorch does not store, may be absent.
pub fn resnet44_from_file(
    path: &std::path::Path,
    device: &Device,
) -> Result<ResNet44, WeightsError> {
    let store = SafetensorsStore::from_file(path);
    resnet44_from_store(store, device).map_err(|e| WeightsError::File {
        path: path.to_path_buf(),
        error: Box::new(e),
    })
}

/// [`resnet44_from_file`] for the file's bytes (the page's CIFAR-10 mode downloads them).
pub fn resnet44_from_bytes(bytes: &[u8], device: &Device) -> Result<ResNet44, WeightsError> {
    let store = SafetensorsStore::from_bytes(Some(bytes.to_vec()));
    resnet44_from_store(store, device)
}

fn resnet44_from_store(store: SafetensorsStore, device: &Device) -> Result<ResNet44, WeightsError> {
    let mut net = ResNet44::new(device);
    let mut store = store
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true);
    let result = net.load_from(&mut store).map_err(decode(RESNET44_NAME))?;
    let missing: Vec<String> = result
        .missing
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| !path.ends_with("training"))
        .collect();
    if !missing.is_empty() {
        return Err(WeightsError::Missing {
            network: RESNET44_NAME,
            tensors: missing,
        });
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenet_weights_round_trip_and_bad_bytes_are_errors() {
        let device = Device::flex();
        let net = LeNet::new(&device);
        let bytes = lenet_to_bytes(&net).unwrap();
        let back = lenet_from_bytes(&bytes, &device).unwrap();
        let x = Tensor::<4>::ones([1, 1, 28, 28], &device) * 0.5;
        let a = net
            .forward(x.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b = back.forward(x).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a, b);
        let truncated = lenet_from_bytes(&bytes[..bytes.len() / 2], &device).unwrap_err();
        assert!(
            matches!(
                truncated,
                WeightsError::Decode {
                    network: "LeNet",
                    ..
                }
            ),
            "{truncated:?}"
        );
        let garbage = lenet_from_bytes(b"not safetensors", &device).unwrap_err();
        assert!(
            matches!(
                garbage,
                WeightsError::Decode {
                    network: "LeNet",
                    ..
                }
            ),
            "{garbage:?}"
        );
    }

    /// Safetensors holding one tensor `x` that no network has.
    fn unrelated_safetensors() -> Vec<u8> {
        let header = br#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&1f32.to_le_bytes());
        bytes
    }

    #[test]
    fn missing_tensors_are_named() {
        let device = Device::flex();
        let bytes = unrelated_safetensors();
        match lenet_from_bytes(&bytes, &device).unwrap_err() {
            WeightsError::Missing { network, tensors } => {
                assert_eq!(network, "LeNet");
                assert!(tensors.iter().any(|t| t.contains("weight")), "{tensors:?}");
            }
            e => panic!("{e:?}"),
        }
        let e = resnet44_from_bytes(&bytes, &device).unwrap_err();
        assert!(
            matches!(&e, WeightsError::Missing { network: "ResNet44", tensors } if !tensors.is_empty()),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("ResNet44 weights lack "), "{e}");
    }

    #[test]
    fn a_weights_file_error_names_the_file() {
        let path = std::path::Path::new("no/such/resnet44.safetensors");
        let e = resnet44_from_file(path, &Device::flex()).unwrap_err();
        assert!(
            matches!(&e, WeightsError::File { path: p, .. } if p == path),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with("no/such/resnet44.safetensors: "),
            "{e}"
        );
    }

    #[test]
    fn committed_weights_load() {
        mnist_lenet(&Device::flex()).expect("models/weights/mnist-lenet.safetensors");
    }
}
