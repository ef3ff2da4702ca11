//! Loading and saving network weights (safetensors via burn-store).
//!
//! hapscope's own trained MNIST weights live in `models/weights/mnist-lenet.safetensors`
//! (made by `hapscope train mnist`), committed so a fresh checkout needs no download.

use std::path::PathBuf;

use burn::prelude::*;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

use crate::nets::lenet::LeNet;
use crate::nets::resnet44::ResNet44;

/// Where the committed MNIST LeNet weights are.
pub fn mnist_lenet_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("weights/mnist-lenet.safetensors")
}

/// Why weights could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WeightsError(pub String);

/// The LeNet with weights from safetensors `bytes`; every tensor must be present.
pub fn lenet_from_bytes(bytes: &[u8], device: &Device) -> Result<LeNet, WeightsError> {
    let mut net = LeNet::new(device);
    let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec())).allow_partial(false);
    let result = net
        .load_from(&mut store)
        .map_err(|e| WeightsError(format!("loading LeNet weights: {e}")))?;
    if !result.missing.is_empty() {
        return Err(WeightsError(format!(
            "LeNet weights lack {:?}",
            result.missing
        )));
    }
    Ok(net)
}

/// The committed, trained MNIST LeNet.
pub fn mnist_lenet(device: &Device) -> Result<LeNet, WeightsError> {
    let path = mnist_lenet_path();
    let bytes = std::fs::read(&path).map_err(|e| {
        WeightsError(format!(
            "{}: {e} (make it with `hapscope train mnist`)",
            path.display()
        ))
    })?;
    lenet_from_bytes(&bytes, device)
}

/// Serializes a LeNet's weights as safetensors bytes.
pub fn lenet_to_bytes(net: &LeNet) -> Result<Vec<u8>, WeightsError> {
    let mut store = SafetensorsStore::from_bytes(None);
    net.save_into(&mut store)
        .map_err(|e| WeightsError(format!("saving LeNet weights: {e}")))?;
    store
        .get_bytes()
        .map_err(|e| WeightsError(format!("saving LeNet weights: {e}")))
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
    resnet44_from_store(store, device).map_err(|e| WeightsError(format!("{}: {e}", path.display())))
}

/// [`resnet44_from_file`] for the file's bytes (the page's CIFAR-10 mode downloads them).
pub fn resnet44_from_bytes(bytes: &[u8], device: &Device) -> Result<ResNet44, WeightsError> {
    let store = SafetensorsStore::from_bytes(Some(bytes.to_vec()));
    resnet44_from_store(store, device).map_err(|e| WeightsError(format!("ResNet44 weights: {e}")))
}

fn resnet44_from_store(store: SafetensorsStore, device: &Device) -> Result<ResNet44, WeightsError> {
    let mut net = ResNet44::new(device);
    let mut store = store
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true);
    let result = net
        .load_from(&mut store)
        .map_err(|e| WeightsError(e.to_string()))?;
    let missing: Vec<_> = result
        .missing
        .iter()
        .filter(|(path, _)| !path.ends_with("training"))
        .collect();
    if !missing.is_empty() {
        return Err(WeightsError(format!("lacks {missing:?}")));
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
        assert!(
            lenet_from_bytes(&bytes[..bytes.len() / 2], &device).is_err(),
            "truncated"
        );
        assert!(lenet_from_bytes(b"not safetensors", &device).is_err());
    }

    #[test]
    fn committed_weights_load() {
        mnist_lenet(&Device::flex()).expect("models/weights/mnist-lenet.safetensors");
    }
}
