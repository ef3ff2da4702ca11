//! CPL as a detector of adversarial inputs (Fig. 5): PGD on the first test images, CPL of
//! clean and attacked images for each threshold set of Table 1, both CPL variants, and the
//! AUROC separating them (clean = positives: they have the higher CPL).

use burn::prelude::*;
use hapscope_core::auroc::auroc;
use hapscope_core::cpl::{CplVariant, cpl};
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::predict::Predictor;

use super::fit::{BATCH, Fit};
use super::{NetFns, Result, require_grid_index, to_host};
use crate::data::images::LabelledImages;
use crate::pgd::{PgdConfig, PgdSpace, pgd};
use crate::taps::answers;

/// The MNIST threshold sets of Table 1 (CN1, CN2, FC1, FC2).
pub const MNIST_SETS: [[f32; 4]; 7] = [
    [0.55, 0.75, 0.75, 0.8],
    [0.6, 0.75, 0.8, 0.85],
    [0.55, 0.65, 0.65, 0.65],
    [0.55, 0.75, 0.8, 0.85],
    [0.6, 0.7, 0.75, 0.75],
    [0.6, 0.7, 0.8, 0.8],
    [0.6, 0.7, 0.85, 0.85],
];

/// Threshold sets (Table 1): which layers they cover (indices into the taps) and, per
/// set, one θ per covered layer.
#[derive(Debug, Clone)]
pub struct ThresholdSets {
    /// Tap indices the sets cover (MNIST: all four; ResNet: CL1, CL2, CL3, FC).
    pub layers: Vec<usize>,
    /// One θ per covered layer, per set.
    pub sets: Vec<Vec<f32>>,
}

impl ThresholdSets {
    /// Number of sets.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether there are no sets.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Only set `i`.
    pub fn only(&self, i: usize) -> Self {
        ThresholdSets {
            layers: self.layers.clone(),
            sets: vec![self.sets[i].clone()],
        }
    }
}

/// The ResNet44 threshold sets of Table 1 (CL1, CL2, CL3, FC).
pub const RESNET_SETS: [[f32; 4]; 7] = [
    [0.72, 0.58, 0.62, 0.94],
    [0.72, 0.56, 0.58, 0.88],
    [0.74, 0.58, 0.6, 0.9],
    [0.76, 0.6, 0.62, 0.92],
    [0.78, 0.62, 0.64, 0.94],
    [0.72, 0.6, 0.62, 0.92],
    [0.72, 0.62, 0.64, 0.94],
];

/// One attack setting's outcome.
pub struct AttackOutcome {
    /// `"pixel"` (correct) or `"quirk"` (the paper code's normalized-input attack).
    pub mode: &'static str,
    /// ε.
    pub eps: f32,
    /// Images attacked.
    pub rows: usize,
    /// Of those, correctly answered before the attack.
    pub clean_correct: usize,
    /// Of those, answered differently after it.
    pub successes: usize,
    /// Per threshold set: AUROC for [Eq. 5, top-20 softmax] over all attacked images.
    pub auroc: Vec<[f64; 2]>,
    /// Per set: AUROC against the successfully attacked images only (None if none).
    pub auroc_successful: Vec<[Option<f64>; 2]>,
    /// CPL of the attacked images under set 1, per variant (for histograms).
    pub cpl_set1: [Vec<f64>; 2],
    /// Seconds spent attacking.
    pub attack_seconds: f64,
}

/// Clean CPLs and every attack's outcome.
pub struct Detection {
    /// CPL of the clean images under set 1, per variant.
    pub clean_cpl_set1: [Vec<f64>; 2],
    /// One per (mode, ε).
    pub outcomes: Vec<AttackOutcome>,
}

/// CPL per image and set, per variant: `[set][variant][image]`.
fn cpls<K: SimilarityKernel>(
    net: &NetFns<'_>,
    fit: &Fit,
    sets: &ThresholdSets,
    x: Tensor<4>,
    top_a: usize,
    kernel: &K,
) -> Result<Vec<[Vec<f64>; 2]>> {
    let mut host = to_host((net.taps)(x));
    host.keep_units(&fit.units);
    let m = host.answers.len();
    let classes = fit.classes;
    let mut out = vec![[Vec::new(), Vec::new()]; sets.len()];
    for (s, set) in sets.sets.iter().enumerate() {
        for (v, variant) in CplVariant::ALL.iter().enumerate() {
            let mut per_layer = Vec::new();
            for (&l, &theta) in sets.layers.iter().zip(set) {
                let (layer, (_, dim, haps)) = (&fit.layers[l], &host.layers[l]);
                let t = require_grid_index(layer.name, &layer.grid, theta)?;
                let p = Predictor::new(&layer.libraries[t], &layer.links[t], variant.top_a(top_a))?;
                let mut scores = vec![0.0; m * classes];
                let mut nz = vec![false; haps.len() / dim];
                p.scores(haps, kernel, &mut scores, &mut nz)?;
                per_layer.push(scores);
            }
            for i in 0..m {
                let rows: Vec<&[f32]> = per_layer
                    .iter()
                    .map(|sc| &sc[i * classes..][..classes])
                    .collect();
                out[s][v].push(cpl(&rows, *variant)?);
            }
        }
    }
    Ok(out)
}

/// Attacks the first `rows` test images at each ε (pixel space) and each quirk ε, and
/// scores CPL as a detector for every threshold set.
#[allow(clippy::too_many_arguments)]
pub fn detect<K: SimilarityKernel>(
    net: &NetFns<'_>,
    fit: &Fit,
    test: &LabelledImages,
    rows: usize,
    sets: &ThresholdSets,
    eps: &[f32],
    quirk: Option<(&[f32], PgdSpace)>,
    top_a: usize,
    kernel: &K,
    progress: &mut dyn FnMut(&str),
) -> Result<Detection> {
    let idx: Vec<usize> = (0..rows.min(test.count)).collect();
    let answers = |x: Tensor<4>| answers((net.taps)(x).logits);
    // Clean CPLs.
    let mut clean = vec![[Vec::new(), Vec::new()]; sets.len()];
    let mut clean_answers = Vec::new();
    let mut labels = Vec::new();
    for chunk in idx.chunks(BATCH) {
        let (x, _) = test.batch(chunk, &net.device);
        clean_answers.extend(answers(x.clone()));
        labels.extend(chunk.iter().map(|&i| usize::from(test.labels[i])));
        for (s, c) in cpls(net, fit, sets, x, top_a, kernel)?
            .into_iter()
            .enumerate()
        {
            clean[s][0].extend(c[0].iter());
            clean[s][1].extend(c[1].iter());
        }
    }
    let mut settings: Vec<(&'static str, f32, PgdSpace)> =
        eps.iter().map(|&e| ("pixel", e, PgdSpace::Pixel)).collect();
    if let Some((qe, space)) = quirk {
        settings.extend(qe.iter().map(|&e| ("quirk", e, space.clone())));
    }
    let mut outcomes = Vec::new();
    for (mode, e, space) in settings {
        progress(&format!("PGD {mode} ε={e}"));
        let cfg = PgdConfig::new(e);
        let t = std::time::Instant::now();
        let mut adv = vec![[Vec::new(), Vec::new()]; sets.len()];
        let mut adv_answers = Vec::new();
        for chunk in idx.chunks(100) {
            let (x, y) = test.batch(chunk, &net.device);
            let x_adv = pgd(net.logits_ad, x, y, &cfg, &space, &net.ad);
            adv_answers.extend(answers(x_adv.clone()));
            for (s, c) in cpls(net, fit, sets, x_adv, top_a, kernel)?
                .into_iter()
                .enumerate()
            {
                adv[s][0].extend(c[0].iter());
                adv[s][1].extend(c[1].iter());
            }
        }
        let attack_seconds = t.elapsed().as_secs_f64();
        let correct: Vec<bool> = clean_answers
            .iter()
            .zip(&labels)
            .map(|(a, l)| a == l)
            .collect();
        let success: Vec<bool> = (0..idx.len())
            .map(|i| correct[i] && adv_answers[i] != clean_answers[i])
            .collect();
        let mut auroc_all = Vec::new();
        let mut auroc_succ = Vec::new();
        for s in 0..sets.len() {
            let mut a = [0.0; 2];
            let mut b = [None; 2];
            for v in 0..2 {
                a[v] = auroc(&clean[s][v], &adv[s][v])?;
                let succ: Vec<f64> = adv[s][v]
                    .iter()
                    .zip(&success)
                    .filter(|(_, ok)| **ok)
                    .map(|(c, _)| *c)
                    .collect();
                b[v] = if succ.is_empty() {
                    None
                } else {
                    Some(auroc(&clean[s][v], &succ)?)
                };
            }
            auroc_all.push(a);
            auroc_succ.push(b);
        }
        outcomes.push(AttackOutcome {
            mode,
            eps: e,
            rows: idx.len(),
            clean_correct: correct.iter().filter(|&&c| c).count(),
            successes: success.iter().filter(|&&s| s).count(),
            auroc: auroc_all,
            auroc_successful: auroc_succ,
            cpl_set1: [adv[0][0].clone(), adv[0][1].clone()],
            attack_seconds,
        });
    }
    Ok(Detection {
        clean_cpl_set1: [clean[0][0].clone(), clean[0][1].clone()],
        outcomes,
    })
}

/// Out-of-training inputs (Lee 2019, §4.2): AUROC of CPL separating the first `rows`
/// in-distribution test images (positives) from the first `rows` out-of-distribution
/// images, per threshold set, for [Eq. 5, top-20 softmax].
#[allow(clippy::too_many_arguments)]
pub fn out_of_distribution<K: SimilarityKernel>(
    net: &NetFns<'_>,
    fit: &Fit,
    inside: &LabelledImages,
    outside: &LabelledImages,
    rows: usize,
    sets: &ThresholdSets,
    top_a: usize,
    kernel: &K,
) -> Result<Vec<[f64; 2]>> {
    let collect = |images: &LabelledImages| -> Result<Vec<[Vec<f64>; 2]>> {
        let mut all = vec![[Vec::new(), Vec::new()]; sets.len()];
        let idx: Vec<usize> = (0..rows.min(images.count)).collect();
        for chunk in idx.chunks(BATCH) {
            let (x, _) = images.batch(chunk, &net.device);
            for (s, c) in cpls(net, fit, sets, x, top_a, kernel)?
                .into_iter()
                .enumerate()
            {
                all[s][0].extend(c[0].iter());
                all[s][1].extend(c[1].iter());
            }
        }
        Ok(all)
    };
    let (a, b) = (collect(inside)?, collect(outside)?);
    (0..sets.len())
        .map(|s| Ok([auroc(&a[s][0], &b[s][0])?, auroc(&a[s][1], &b[s][1])?]))
        .collect()
}
