//! Training the MNIST LeNet as the paper's code did: SGD, lr 0.01, momentum 0.5, batch 64,
//! 10 epochs, cross-entropy on log-softmax outputs, data reshuffled every epoch (seeded).

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;

use crate::data::images::LabelledImages;
use crate::nets::lenet::LeNet;

/// Training hyper-parameters (defaults from the paper's code).
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// Learning rate.
    #[config(default = 0.01)]
    pub lr: f64,
    /// SGD momentum.
    #[config(default = 0.5)]
    pub momentum: f64,
    /// Examples per step.
    #[config(default = 64)]
    pub batch: usize,
    /// Passes over the training set.
    #[config(default = 10)]
    pub epochs: usize,
    /// Seed of the initialization and the shuffles.
    #[config(default = 1)]
    pub seed: u64,
}

impl TrainConfig {
    /// How this configuration departs from the paper's recipe (the defaults, which also made
    /// the committed `models/weights/mnist-lenet.safetensors`), one `name value` per
    /// setting; empty when it is the recipe.
    pub fn departures(&self) -> Vec<String> {
        let paper = TrainConfig::new();
        let mut out = Vec::new();
        if self.lr != paper.lr {
            out.push(format!("lr {}", self.lr));
        }
        if self.momentum != paper.momentum {
            out.push(format!("momentum {}", self.momentum));
        }
        if self.batch != paper.batch {
            out.push(format!("batch {}", self.batch));
        }
        if self.epochs != paper.epochs {
            out.push(format!("epochs {}", self.epochs));
        }
        if self.seed != paper.seed {
            out.push(format!("seed {}", self.seed));
        }
        out
    }
}

/// What training reports after each step.
pub struct StepReport {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Examples seen in this epoch, this step's included.
    pub seen: usize,
    /// Examples in this step.
    pub batch: usize,
    /// Mean loss of the step.
    pub loss: f32,
    /// Correct answers in the step.
    pub correct: usize,
}

/// Seeded Fisher–Yates shuffle of `0..n`.
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
    v
}

/// Trains a fresh LeNet on `train`; `on_step` sees every step, `on_epoch` every finished
/// epoch's network (e.g. to evaluate it).
pub fn train_lenet(
    train: &LabelledImages,
    cfg: &TrainConfig,
    device: &Device,
    on_step: &mut dyn FnMut(&StepReport),
    on_epoch: &mut dyn FnMut(usize, &LeNet),
) -> LeNet {
    let ad = device.clone().autodiff();
    ad.seed(cfg.seed);
    let mut net = LeNet::new(&ad);
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_momentum(cfg.momentum)))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let n = train.count;
    for epoch in 1..=cfg.epochs {
        let order = shuffled(n, cfg.seed.wrapping_add(epoch as u64));
        let mut seen = 0;
        for idx in order.chunks(cfg.batch) {
            let (x, y) = train.batch(idx, &ad);
            let logits = net.forward(x);
            let correct = logits
                .clone()
                .argmax(1)
                .flatten::<1>(0, 1)
                .equal(y.clone())
                .int()
                .sum()
                .into_scalar::<i64>() as usize;
            let loss = loss_fn.forward(logits, y);
            let loss_value = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(cfg.lr, net, grads);
            seen += idx.len();
            on_step(&StepReport {
                epoch,
                seen,
                batch: idx.len(),
                loss: loss_value,
                correct,
            });
        }
        on_epoch(epoch, &net.valid());
    }
    net.valid()
}

/// Number of the first `limit` `images` that `forward` answers correctly, evaluated in
/// batches of 500.
pub fn count_correct(
    forward: impl Fn(Tensor<4>) -> Tensor<2>,
    images: &LabelledImages,
    limit: usize,
    device: &Device,
) -> usize {
    let n = limit.min(images.count);
    let idx: Vec<usize> = (0..n).collect();
    idx.chunks(500)
        .map(|c| {
            let (x, y) = images.batch(c, device);
            forward(x)
                .argmax(1)
                .flatten::<1>(0, 1)
                .equal(y)
                .int()
                .sum()
                .into_scalar::<i64>() as usize
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let a = shuffled(100, 7);
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        assert_eq!(a, shuffled(100, 7));
        assert_ne!(a, shuffled(100, 8));
    }

    #[test]
    fn departures_from_the_paper_recipe_are_named() {
        assert!(TrainConfig::new().departures().is_empty());
        let cfg = TrainConfig::new().with_epochs(1).with_seed(7).with_lr(0.1);
        assert_eq!(cfg.departures(), ["lr 0.1", "epochs 1", "seed 7"]);
    }
}
