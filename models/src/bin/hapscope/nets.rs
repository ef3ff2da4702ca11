//! Loading the networks and their data for the CLI commands.

use std::path::Path;

use anyhow::{Context, Result};
use burn::prelude::*;
use hapscope_models::data::images::LabelledImages;
use hapscope_models::data::locate::{data_dir, resnet44_weights};
use hapscope_models::data::mnist::Split;
use hapscope_models::data::{cifar, mnist};
use hapscope_models::nets::lenet::LENET_TAPS;
use hapscope_models::nets::resnet44::RESNET_TAPS;
use hapscope_models::network::Network;
use hapscope_models::weights::{lenet_from_bytes, mnist_lenet, resnet44_from_file};

use crate::args::{Model, SplitArg};

/// The tap names of a model.
pub fn taps(model: Model) -> &'static [&'static str] {
    match model {
        Model::Mnist => &LENET_TAPS,
        Model::Resnet => &RESNET_TAPS,
    }
}

/// A model's dataset split from `--data`, `$HAPSCOPE_DATA` or ../shared/data.
pub fn dataset(model: Model, data: Option<&Path>, split: SplitArg) -> Result<LabelledImages> {
    let dir = data_dir(data)?;
    let split = match split {
        SplitArg::Train => Split::Train,
        SplitArg::Test => Split::Test,
    };
    Ok(match model {
        Model::Mnist => mnist::load(&dir, split)?,
        Model::Resnet => cifar::load(&dir, split)?,
    })
}

/// A model with weights from `--weights`, or its default weights.
pub fn load(model: Model, weights: Option<&Path>, device: &Device) -> Result<Network> {
    Ok(match model {
        Model::Mnist => Network::LeNet(match weights {
            Some(p) => {
                let bytes = std::fs::read(p).with_context(|| p.display().to_string())?;
                lenet_from_bytes(&bytes, device).with_context(|| p.display().to_string())?
            }
            None => mnist_lenet(device)?,
        }),
        Model::Resnet => {
            Network::ResNet44(resnet44_from_file(&resnet44_weights(weights)?, device)?)
        }
    })
}

/// A model loaded on the autodiff `device` and frozen (no parameter gradients, batch norm
/// on running statistics): what PGD differentiates through.
pub fn load_frozen(model: Model, weights: Option<&Path>, device: &Device) -> Result<Network> {
    Ok(load(model, weights, device)?.freeze())
}

/// What `reproduce` and `detect` start from: the network on the plain device, its frozen
/// copy on the autodiff device, and both splits of its dataset.
pub struct Setup {
    /// The plain device.
    pub device: Device,
    /// The autodiff device.
    pub ad: Device,
    /// The network on `device`.
    pub net: Network,
    /// The network frozen on `ad` (what PGD differentiates through).
    pub frozen: Network,
    /// Training split.
    pub train: LabelledImages,
    /// Test split.
    pub test: LabelledImages,
}

/// Loads a [`Setup`] from `--weights` and `--data` (or their defaults).
pub fn setup(model: Model, weights: Option<&Path>, data: Option<&Path>) -> Result<Setup> {
    let device = Device::flex();
    let ad = device.clone().autodiff();
    Ok(Setup {
        net: load(model, weights, &device)?,
        frozen: load_frozen(model, weights, &ad)?,
        train: dataset(model, data, SplitArg::Train)?,
        test: dataset(model, data, SplitArg::Test)?,
        device,
        ad,
    })
}
