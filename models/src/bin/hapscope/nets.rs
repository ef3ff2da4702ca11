//! Loading the networks and their data for the CLI commands.

use std::path::Path;

use anyhow::{Context, Result};
use burn::prelude::*;
use hapscope_models::data::images::LabelledImages;
use hapscope_models::data::locate::{data_dir, resnet44_weights};
use hapscope_models::data::mnist::Split;
use hapscope_models::data::{cifar, mnist};
use hapscope_models::nets::lenet::{LENET_TAPS, LeNet};
use hapscope_models::nets::resnet44::{RESNET_TAPS, ResNet44};
use hapscope_models::taps::Taps;
use hapscope_models::weights::{lenet_from_bytes, mnist_lenet, resnet44_from_file};

use crate::args::{Model, SplitArg};

/// A loaded network.
pub enum Net {
    LeNet(LeNet),
    ResNet(ResNet44),
}

impl Net {
    pub fn forward_taps(&self, x: Tensor<4>) -> Taps {
        match self {
            Net::LeNet(n) => n.forward_taps(x),
            Net::ResNet(n) => n.forward_taps(x),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Net::LeNet(n) => n.forward(x),
            Net::ResNet(n) => n.forward(x),
        }
    }
}

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
pub fn load(model: Model, weights: Option<&Path>, device: &Device) -> Result<Net> {
    Ok(match model {
        Model::Mnist => Net::LeNet(match weights {
            Some(p) => {
                let bytes = std::fs::read(p).with_context(|| p.display().to_string())?;
                lenet_from_bytes(&bytes, device).with_context(|| p.display().to_string())?
            }
            None => mnist_lenet(device)?,
        }),
        Model::Resnet => Net::ResNet(resnet44_from_file(&resnet44_weights(weights)?, device)?),
    })
}

/// A model loaded on the autodiff `device` and frozen (no parameter gradients, batch norm
/// on running statistics): what PGD differentiates through.
pub fn load_frozen(model: Model, weights: Option<&Path>, device: &Device) -> Result<Net> {
    use burn::module::Module;
    Ok(match load(model, weights, device)? {
        Net::LeNet(n) => Net::LeNet(n.freeze()),
        Net::ResNet(n) => Net::ResNet(n.freeze()),
    })
}
