//! `hapscope detect`: every detector of [`crate::detector`], CPL (both variants) and feature
//! squeezing scored on the same inputs — clean digits, PGD-40 at several ε, adaptive PGD
//! that also fights the detectors, and out-of-training images — with clean-only fits,
//! calibrations and thresholds.
//!
//! Data use, disjoint throughout: the training split fits the libraries, links and
//! Gaussians. The test split is dealt out by index, so that every part sees the same mix of
//! writers (MNIST's first 5,000 test digits are the cleaner half): images `i ≡ 1 (mod 4)`
//! calibrate the per-layer p-values (set A), `i ≡ 3 (mod 4)` fix every statistic's
//! thresholds (set B), and the first `eval_rows` correctly answered images with even `i`
//! are the clean evaluation inputs (the realised false-positive rate) and the ones attacked.

use burn::prelude::*;
use hapscope_core::conformity::node_classes;
use hapscope_core::gaussian::ClassGaussian;
use hapscope_core::kernel::SimilarityKernel;
use serde::{Deserialize, Serialize};

use super::fit::{BATCH, fit};
use super::{NetFns, Result, to_host};
use crate::data::images::LabelledImages;
use crate::detector::squeeze::squeeze_batch;
use crate::detector::surrogate::{Surrogate, Target};
use crate::detector::{
    Components, Detector, Detectors, FeatureMap, LayerDetector, RawScores, STATISTICS, Statistics,
};
use crate::pgd::{PgdConfig, PgdSpace, pgd, try_pgd_objective};
use crate::taps::{Taps, answers};

/// What a detection run covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectPlan {
    /// `"mnist"` or `"resnet"`.
    pub model: String,
    /// Whether this is the reduced CI run.
    pub fast: bool,
    /// θ per tap (network order); the covered taps' θ form the threshold set.
    pub thetas: Vec<f32>,
    /// Covered taps (indices), input to output.
    pub layers: Vec<usize>,
    /// Channels per tap (1 = fully connected), for the Gaussian's features.
    pub channels: Vec<usize>,
    /// The top-a of Eq. 3.
    pub top_a: usize,
    /// Training images that fit the libraries, links and Gaussians.
    pub train_rows: usize,
    /// Test images in each calibration set (A: `i ≡ 1 mod 4`, B: `i ≡ 3 mod 4`).
    pub calib_rows: usize,
    /// Correctly answered evaluation images, even `i` (clean and attacked).
    pub eval_rows: usize,
    /// PGD-40 radii (pixel space).
    pub eps: Vec<f32>,
    /// Evaluation images the adaptive attacker attacks (the first of them).
    pub adaptive_rows: usize,
    /// λ of the adaptive attacker.
    pub lambdas: Vec<f32>,
    /// Out-of-training images (Fashion-MNIST; MNIST only), or 0.
    pub ood_rows: usize,
    /// Feature squeezing's bit depth (MNIST 1, CIFAR-10 5).
    pub squeeze_bits: u32,
    /// Bootstrap resamples for the AUROC intervals.
    pub bootstrap: usize,
}

/// Inputs the adaptive attacker attacks on CIFAR-10: PGD-40 through ResNet44 and the
/// surrogate costs ≈ 1 s per image and attempt on a 2-core CPU, and the attacker makes
/// 5 targets × 2 λ attempts at each of 4 ε.
pub const RESNET_ADAPTIVE_ROWS: usize = 100;

impl DetectPlan {
    /// The MNIST LeNet: Table 1's set 4 (the page's), 60,000 training digits, 2 × 2,500
    /// calibration digits, 1,000 correctly answered evaluation digits.
    pub fn mnist(fast: bool) -> Self {
        DetectPlan {
            model: "mnist".into(),
            fast,
            thetas: vec![0.55, 0.75, 0.8, 0.85],
            layers: vec![0, 1, 2, 3],
            channels: crate::nets::lenet::LENET_TAP_CHANNELS.to_vec(),
            top_a: 3,
            train_rows: if fast { 6_000 } else { 60_000 },
            calib_rows: if fast { 300 } else { 2_500 },
            eval_rows: if fast { 100 } else { 1_000 },
            eps: if fast {
                vec![0.1, 0.3]
            } else {
                vec![0.05, 0.1, 0.2, 0.3]
            },
            adaptive_rows: if fast { 30 } else { 500 },
            lambdas: if fast {
                vec![1.0]
            } else {
                vec![0.1, 1.0, 10.0]
            },
            ood_rows: if fast { 100 } else { 1_000 },
            squeeze_bits: 1,
            bootstrap: if fast { 200 } else { 1_000 },
        }
    }

    /// ResNet44 on CIFAR-10: Table 1's set 2 (the page's), the 4,000 training images of
    /// `../shared`, 2 × 250 calibration images and every correctly answered even-indexed test
    /// image (≈ 465 of 500). The network was trained on all 50,000 CIFAR-10 training images,
    /// so no training image is unseen by it: calibration has to come from the test split, and
    /// the evaluation takes the half the calibration leaves. No out-of-training set.
    pub fn resnet(fast: bool) -> Self {
        let set = crate::experiment::detect::RESNET_SETS[1];
        DetectPlan {
            model: "resnet".into(),
            fast,
            // CN1 is not covered (Table 1's sets leave it out); its θ only sizes its library.
            thetas: vec![0.26, set[0], set[1], set[2], set[3]],
            layers: vec![1, 2, 3, 4],
            channels: crate::nets::resnet44::RESNET_TAP_CHANNELS.to_vec(),
            top_a: 8,
            train_rows: if fast { 1_000 } else { 4_000 },
            calib_rows: if fast { 100 } else { 250 },
            eval_rows: if fast { 40 } else { 500 },
            eps: if fast {
                vec![8.0 / 255.0]
            } else {
                [2.0, 4.0, 8.0, 16.0].iter().map(|e| e / 255.0).collect()
            },
            adaptive_rows: if fast { 10 } else { RESNET_ADAPTIVE_ROWS },
            lambdas: if fast { vec![1.0] } else { vec![1.0, 10.0] },
            ood_rows: 0,
            squeeze_bits: 5,
            bootstrap: if fast { 200 } else { 1_000 },
        }
    }

    /// The threshold set's θ for the covered taps.
    pub fn set(&self) -> Vec<f32> {
        self.layers.iter().map(|&l| self.thetas[l]).collect()
    }
}

/// One detector's numbers on one setting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectorResult {
    /// [`Detector::name`] or `"squeeze"`.
    pub detector: String,
    /// AUROC (attacked successful vs clean evaluation inputs; higher score = attacked);
    /// `None` when no attack succeeded.
    pub auroc: Option<f64>,
    /// Bootstrap 95 % interval.
    pub ci: Option<[f64; 2]>,
    /// TPR at the thresholds for 1 % and 5 % FPR (fixed on calibration set B).
    pub tpr: [f64; 2],
}

/// One setting: PGD at ε, an adaptive attack, or out-of-training images.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setting {
    /// `"pgd"`, `"adaptive"` or `"ood"`.
    pub kind: String,
    /// ε (0 for out-of-training).
    pub eps: f32,
    /// The adaptive attacker's target and λ.
    pub target: Option<Target>,
    /// λ.
    pub lambda: Option<f32>,
    /// Inputs attacked (or shown).
    pub inputs: usize,
    /// Of those, answered differently after the attack (all, for out-of-training).
    pub successes: usize,
    /// Per detector (and the squeeze anchor).
    pub results: Vec<DetectorResult>,
    /// Per covered layer: AUROC of the k-NN disagreements and of the Gaussian distance
    /// (`None` when no attack succeeded).
    pub per_layer: Vec<Option<[f64; 2]>>,
    /// Per input: the statistics (`Detector::ALL` order) and success. Read leniently: a
    /// report written with fewer statistics reads with the missing ones NaN
    /// ([`DetectReport::is_current`], [`rescore`]).
    #[serde(deserialize_with = "lenient::pairs")]
    pub scores: Vec<(Statistics, bool)>,
    /// Per input, in `scores`' order: the raw evidence the statistics come from (empty in
    /// reports written before it was stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw: Vec<RawScores>,
}

/// The clean inputs' raw evidence ([`RawScores`]: CPL, each layer's k-NN disagreements and
/// Gaussian distance, squeezing). With each setting's [`Setting::raw`] it makes every number
/// of a report recomputable — the per-layer AUROCs, the statistics themselves (set A's
/// [`Components`] applied to the raw evidence), the thresholds (set B) — and lets a new
/// combination of the parts be evaluated on the same inputs without rerunning the attacks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    /// Calibration set A (the p-values).
    pub calibration_a: Vec<RawScores>,
    /// Calibration set B (the thresholds).
    pub calibration_b: Vec<RawScores>,
    /// The clean evaluation inputs, in [`DetectReport::clean`]'s order.
    pub clean: Vec<RawScores>,
}

/// Per detector and ε, against the strongest adaptive attack tried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdaptiveRow {
    /// Detector name.
    pub detector: String,
    /// ε.
    pub eps: f32,
    /// Inputs attacked.
    pub inputs: usize,
    /// Fraction of inputs some attack flipped (whatever the detector said).
    pub flipped: f64,
    /// Fraction some attack flipped *and* the detector passed at its 5 % FPR threshold.
    pub evaded: f64,
    /// Of the flipped inputs, the fraction every flipping attack was caught (TPR at 5 % FPR);
    /// `None` when none flipped.
    pub tpr5: Option<f64>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectReport {
    /// The plan.
    pub plan: DetectPlan,
    /// Tap names of the covered layers.
    pub layer_names: Vec<String>,
    /// Library sizes of the covered layers.
    pub library_sizes: Vec<usize>,
    /// Ledoit–Wolf shrinkage per covered layer.
    pub shrinkage: Vec<f64>,
    /// Calibration set sizes (A, B).
    pub calibration: [usize; 2],
    /// Thresholds per statistic (`Detector::ALL` order) at 1 % and 5 % FPR (set B).
    pub thresholds: Vec<[f64; 2]>,
    /// Realised FPR on the clean evaluation inputs, per statistic, at 1 % and 5 %.
    pub realised_fpr: Vec<[f64; 2]>,
    /// Clean evaluation inputs' statistics (read leniently, as [`Setting::scores`]).
    #[serde(deserialize_with = "lenient::rows")]
    pub clean: Vec<Statistics>,
    /// Every setting.
    pub settings: Vec<Setting>,
    /// The adaptive summary.
    pub adaptive: Vec<AdaptiveRow>,
    /// Seconds per stage.
    pub seconds: Vec<(String, f64)>,
    /// The clean inputs' raw evidence (absent in reports written before it was stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

impl DetectReport {
    /// Whether the report holds every statistic of this build ([`Detector::ALL`]); one
    /// written before a statistic was added reads with it NaN, and [`rescore`] recomputes
    /// it from the raw evidence.
    pub fn is_current(&self) -> bool {
        self.thresholds.len() == STATISTICS
            && self.realised_fpr.len() == STATISTICS
            && self.settings.iter().all(|s| s.results.len() == STATISTICS)
    }
}

/// Statistics rows read from reports that may predate a statistic: shorter rows are padded
/// with NaN, longer ones refused; `null` (how JSON writes a NaN) reads as NaN.
mod lenient {
    use super::{STATISTICS, Statistics};
    use serde::{Deserialize, Deserializer, de::Error};

    fn row<E: Error>(v: Vec<Option<f64>>) -> Result<Statistics, E> {
        if v.len() > STATISTICS {
            return Err(E::custom(format!(
                "{} statistics per input; this build knows {STATISTICS}",
                v.len()
            )));
        }
        let mut s = [f64::NAN; STATISTICS];
        for (s, x) in s.iter_mut().zip(v) {
            *s = x.unwrap_or(f64::NAN);
        }
        Ok(s)
    }

    pub fn rows<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Statistics>, D::Error> {
        Vec::<Vec<Option<f64>>>::deserialize(d)?
            .into_iter()
            .map(row)
            .collect()
    }

    pub fn pairs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(Statistics, bool)>, D::Error> {
        Vec::<(Vec<Option<f64>>, bool)>::deserialize(d)?
            .into_iter()
            .map(|(v, b)| Ok((row(v)?, b)))
            .collect()
    }
}

/// Names of the statistics, in score order.
pub fn statistic_names() -> Vec<&'static str> {
    Detector::ALL.iter().map(|d| d.name()).collect()
}

/// A network with taps on both devices.
pub struct DetectNet<'a> {
    /// Taps and logits on the plain device.
    pub taps: &'a dyn Fn(Tensor<4>) -> Taps,
    /// Taps and logits on the autodiff device (frozen network).
    pub taps_ad: &'a dyn Fn(Tensor<4>) -> Taps,
    /// Plain device.
    pub device: Device,
    /// Autodiff device.
    pub ad: Device,
}

/// Raw evidence and squeeze scores of a batch of pixels.
fn score_batch<K: SimilarityKernel>(
    net: &DetectNet<'_>,
    det: &Detectors,
    x: Tensor<4>,
    bits: u32,
    kernel: &K,
) -> Result<Vec<RawScores>> {
    let host = to_host((net.taps)(x.clone()));
    let squeeze = squeeze_batch(|t| (net.taps)(t).logits, &x, &host.logits, bits);
    let haps: Vec<(usize, &[f32])> = host
        .layers
        .iter()
        .map(|(_, d, v)| (*d, v.as_slice()))
        .collect();
    Ok(det.raw(&haps, &host.answers, &squeeze, kernel)?)
}

fn score_images<K: SimilarityKernel>(
    net: &DetectNet<'_>,
    det: &Detectors,
    images: &LabelledImages,
    idx: &[usize],
    bits: u32,
    kernel: &K,
) -> Result<Vec<RawScores>> {
    let mut all = Vec::new();
    for chunk in idx.chunks(BATCH) {
        let (x, _) = images.batch(chunk, &net.device);
        all.extend(score_batch(net, det, x, bits, kernel)?);
    }
    Ok(all)
}

/// Fits the detectors on the first `plan.train_rows` training images.
pub fn fit_detectors<K: SimilarityKernel + Copy + Sync>(
    net: &NetFns<'_>,
    train: &LabelledImages,
    test: &LabelledImages,
    plan: &DetectPlan,
    kernel: K,
    progress: &mut dyn FnMut(&str, usize),
) -> Result<Detectors> {
    let grids: Vec<Vec<f32>> = plan.thetas.iter().map(|&t| vec![t]).collect();
    let f = fit(
        net,
        train,
        test,
        plan.train_rows,
        1_000,
        &grids,
        &[],
        plan.top_a,
        None,
        kernel,
        progress,
    )?;
    // One more pass: the network's answers (node classes) and the Gaussians' features.
    let mut answers_all = Vec::new();
    let mut feats: Vec<Vec<f32>> = vec![Vec::new(); plan.layers.len()];
    let mut dims = vec![0; plan.layers.len()];
    let idx: Vec<usize> = (0..plan.train_rows.min(train.count)).collect();
    for chunk in idx.chunks(BATCH) {
        let (x, _) = train.batch(chunk, &net.device);
        let host = to_host((net.taps)(x));
        for (k, &l) in plan.layers.iter().enumerate() {
            let (_, dim, values) = &host.layers[l];
            dims[k] = *dim;
            FeatureMap::for_tap(*dim, plan.channels[l]).apply(values, *dim, &mut feats[k]);
        }
        answers_all.extend(host.answers);
        progress("gaussian features", chunk.len());
    }
    let mut layers = Vec::new();
    for (k, &l) in plan.layers.iter().enumerate() {
        let lf = &f.layers[l];
        let map = FeatureMap::for_tap(dims[k], plan.channels[l]);
        let gaussian = ClassGaussian::fit(&feats[k], map.len(dims[k]), &answers_all, f.classes)?;
        layers.push(LayerDetector {
            name: lf.name.to_string(),
            tap: l,
            library: lf.libraries[0].clone(),
            links: lf.links[0].clone(),
            node_classes: node_classes(lf.libraries[0].source_ids(), &answers_all)?,
            features: map,
            gaussian,
        });
    }
    Ok(Detectors {
        layers,
        top_a: plan.top_a,
        classes: f.classes,
    })
}

fn statistics(comp: &Components, raw: &[RawScores]) -> Result<Vec<Statistics>> {
    Ok(raw
        .iter()
        .map(|r| comp.statistics(r))
        .collect::<hapscope_core::Result<_>>()?)
}

/// AUROC, interval and TPRs of each statistic: `attacked` (successes only) vs `clean`.
fn results(
    clean: &[Statistics],
    attacked: &[Statistics],
    thresholds: &[[f64; 2]],
    bootstrap: usize,
) -> Result<Vec<DetectorResult>> {
    columns_results(
        &statistic_names(),
        clean,
        attacked,
        thresholds,
        bootstrap,
        0,
    )
}

/// [`results`] for any named columns of scores (`names[d]` is column `d`); the bootstrap of
/// column `d` is seeded with `0xD7EC + seed_offset + d`.
pub(crate) fn columns_results<S: AsRef<[f64]>>(
    names: &[&str],
    clean: &[S],
    attacked: &[S],
    thresholds: &[[f64; 2]],
    bootstrap: usize,
    seed_offset: u64,
) -> Result<Vec<DetectorResult>> {
    use hapscope_core::auroc::auroc;
    use hapscope_core::bootstrap::auroc_interval;
    use hapscope_core::calibrate::flagged_rate;
    names
        .iter()
        .enumerate()
        .map(|(d, name)| {
            let c: Vec<f64> = clean.iter().map(|s| s.as_ref()[d]).collect();
            let a: Vec<f64> = attacked.iter().map(|s| s.as_ref()[d]).collect();
            let (auc, ci) = if a.is_empty() {
                (None, None)
            } else {
                let seed = 0xD7EC + seed_offset + d as u64;
                let (lo, hi) = auroc_interval(&a, &c, bootstrap, 0.95, seed)?;
                (Some(auroc(&a, &c)?), Some([lo, hi]))
            };
            Ok(DetectorResult {
                detector: name.to_string(),
                auroc: auc,
                ci,
                tpr: [
                    flagged_rate(&a, thresholds[d][0]),
                    flagged_rate(&a, thresholds[d][1]),
                ],
            })
        })
        .collect()
}

fn per_layer(clean: &[RawScores], attacked: &[RawScores]) -> Result<Vec<Option<[f64; 2]>>> {
    use hapscope_core::auroc::auroc;
    let layers = clean.first().map_or(0, |r| r.knn.len());
    if attacked.is_empty() {
        return Ok(vec![None; layers]);
    }
    (0..layers)
        .map(|l| {
            let k = |v: &[RawScores]| v.iter().map(|r| f64::from(r.knn[l])).collect::<Vec<_>>();
            let g = |v: &[RawScores]| v.iter().map(|r| r.gauss[l]).collect::<Vec<_>>();
            Ok(Some([
                auroc(&k(attacked), &k(clean))?,
                auroc(&g(attacked), &g(clean))?,
            ]))
        })
        .collect()
}

/// Runs the whole evaluation. `fashion` holds the out-of-training images (MNIST).
#[allow(clippy::too_many_arguments)]
pub fn detect_run<K: SimilarityKernel + Copy + Sync>(
    net: &DetectNet<'_>,
    fns: &NetFns<'_>,
    train: &LabelledImages,
    test: &LabelledImages,
    fashion: Option<&LabelledImages>,
    plan: &DetectPlan,
    kernel: K,
    progress: &mut dyn FnMut(&str, usize),
) -> Result<DetectReport> {
    let mut seconds = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &str, seconds: &mut Vec<(String, f64)>| {
        seconds.push((name.to_string(), clock.elapsed().as_secs_f64()));
        clock = std::time::Instant::now();
    };
    let det = fit_detectors(fns, train, test, plan, kernel, progress)?;
    lap("fit", &mut seconds);
    let bits = plan.squeeze_bits;
    let dealt = |rem: usize, modulus: usize, limit: usize| -> Vec<usize> {
        (0..test.count)
            .filter(|i| i % modulus == rem)
            .take(limit)
            .collect()
    };
    progress("calibration", 0);
    let a = score_images(
        net,
        &det,
        test,
        &dealt(1, 4, plan.calib_rows),
        bits,
        &kernel,
    )?;
    let b = score_images(
        net,
        &det,
        test,
        &dealt(3, 4, plan.calib_rows),
        bits,
        &kernel,
    )?;
    lap("calibration", &mut seconds);

    // Clean evaluation inputs: the first eval_rows correctly answered even-indexed images.
    let mut eval = Vec::new();
    for chunk in dealt(0, 2, usize::MAX).chunks(BATCH) {
        let (x, _) = test.batch(chunk, &net.device);
        let ans = answers((net.taps)(x).logits);
        eval.extend(
            chunk
                .iter()
                .zip(ans)
                .filter(|&(&i, a)| usize::from(test.labels[i]) == a)
                .map(|(&i, _)| i),
        );
        if eval.len() >= plan.eval_rows {
            break;
        }
    }
    eval.truncate(plan.eval_rows);
    let clean_scored = score_images(net, &det, test, &eval, bits, &kernel)?;
    lap("clean", &mut seconds);

    let mut settings = Vec::new();
    let setting = |kind: &str,
                   eps: f32,
                   target: Option<Target>,
                   lambda: Option<f32>,
                   scored: &[RawScores],
                   success: Vec<bool>|
     -> Result<Measured> {
        Ok(Measured {
            kind: kind.to_string(),
            eps,
            target,
            lambda,
            raw: scored.to_vec(),
            success,
        })
    };

    // Non-adaptive PGD-40.
    for &eps in &plan.eps {
        progress(&format!("PGD ε={eps}"), 0);
        let cfg = PgdConfig::new(eps);
        let mut scored = Vec::new();
        let mut success = Vec::new();
        for chunk in eval.chunks(100) {
            let (x, y) = test.batch(chunk, &net.device);
            let logits_ad = |p: Tensor<4>| (net.taps_ad)(p).logits;
            let adv = pgd(&logits_ad, x, y, &cfg, &PgdSpace::Pixel, &net.ad);
            let s = score_batch(net, &det, adv, bits, &kernel)?;
            success.extend(
                chunk
                    .iter()
                    .zip(&s)
                    .map(|(&i, r)| r.answer != usize::from(test.labels[i])),
            );
            scored.extend(s);
            progress(&format!("PGD ε={eps}"), chunk.len());
        }
        settings.push(setting("pgd", eps, None, None, &scored, success)?);
    }
    lap("pgd", &mut seconds);

    // Adaptive PGD-40: the loss plus λ times the detectors' differentiable terms.
    let surrogate = Surrogate::new(&det, plan.squeeze_bits, &net.ad);
    let adaptive_idx = &eval[..plan.adaptive_rows.min(eval.len())];
    for target in Target::ALL {
        for &lambda in &plan.lambdas {
            for &eps in &plan.eps {
                let name = format!("adaptive {} λ={lambda} ε={eps}", target.name());
                progress(&name, 0);
                let cfg = PgdConfig::new(eps);
                let mut scored = Vec::new();
                let mut success = Vec::new();
                for chunk in adaptive_idx.chunks(100) {
                    let (x, _) = test.batch(chunk, &net.device);
                    let labels: Vec<usize> =
                        chunk.iter().map(|&i| usize::from(test.labels[i])).collect();
                    let onehot = surrogate.one_hot(&labels, &net.ad);
                    let objective = |p: Tensor<4>| {
                        surrogate.objective(net.taps_ad, p, onehot.clone(), target, lambda)
                    };
                    let adv = try_pgd_objective(&objective, x, &cfg)
                        .map_err(|e| super::ExperimentError::Plan(e.to_string()))?;
                    let s = score_batch(net, &det, adv, bits, &kernel)?;
                    success.extend(
                        chunk
                            .iter()
                            .zip(&s)
                            .map(|(&i, r)| r.answer != usize::from(test.labels[i])),
                    );
                    scored.extend(s);
                    progress(&name, chunk.len());
                }
                settings.push(setting(
                    "adaptive",
                    eps,
                    Some(target),
                    Some(lambda),
                    &scored,
                    success,
                )?);
            }
        }
    }
    lap("adaptive", &mut seconds);

    if let Some(f) = fashion.filter(|_| plan.ood_rows > 0) {
        progress("out-of-training", 0);
        let idx: Vec<usize> = (0..plan.ood_rows.min(f.count)).collect();
        let s = score_images(net, &det, f, &idx, bits, &kernel)?;
        let all = vec![true; idx.len()];
        settings.push(setting("ood", 0.0, None, None, &s, all)?);
        lap("ood", &mut seconds);
    }

    let evidence = Evidence {
        calibration_a: a,
        calibration_b: b,
        clean: clean_scored,
    };
    let assessed = assess(plan, &evidence, settings)?;
    Ok(DetectReport {
        layer_names: det.layers.iter().map(|l| l.name.clone()).collect(),
        library_sizes: det.layers.iter().map(|l| l.library.len()).collect(),
        shrinkage: det.layers.iter().map(|l| l.gaussian.shrinkage()).collect(),
        calibration: [evidence.calibration_a.len(), evidence.calibration_b.len()],
        thresholds: assessed.thresholds,
        realised_fpr: assessed.realised_fpr,
        clean: assessed.clean,
        settings: assessed.settings,
        adaptive: assessed.adaptive,
        seconds,
        evidence: Some(evidence),
        plan: plan.clone(),
    })
}

/// What one setting measured, before any statistic: each input's raw evidence and whether
/// the attack flipped its answer.
struct Measured {
    kind: String,
    eps: f32,
    target: Option<Target>,
    lambda: Option<f32>,
    raw: Vec<RawScores>,
    success: Vec<bool>,
}

/// Everything a report derives from its raw evidence.
struct Assessed {
    thresholds: Vec<[f64; 2]>,
    realised_fpr: Vec<[f64; 2]>,
    clean: Vec<Statistics>,
    settings: Vec<Setting>,
    adaptive: Vec<AdaptiveRow>,
}

/// The statistics and tables of a run from its raw evidence — one implementation for
/// [`detect_run`] and [`rescore`]: set A's [`Components`] give every statistic, set B fixes
/// the thresholds, the clean evaluation inputs give the realised FPR, and each setting's
/// successful attacks the AUROCs, TPRs and per-layer AUROCs.
fn assess(plan: &DetectPlan, ev: &Evidence, measured: Vec<Measured>) -> Result<Assessed> {
    let comp = Components::new(&ev.calibration_a)?;
    let clean = statistics(&comp, &ev.clean)?;
    let (thresholds, realised_fpr) =
        columns_thresholds(&statistics(&comp, &ev.calibration_b)?, &clean, STATISTICS)?;
    let settings = measured
        .into_iter()
        .map(|m| {
            let stats = statistics(&comp, &m.raw)?;
            let hit = |i: &usize| m.success[*i];
            let succ: Vec<Statistics> = (0..stats.len()).filter(hit).map(|i| stats[i]).collect();
            let succ_raw: Vec<RawScores> = (0..m.raw.len())
                .filter(hit)
                .map(|i| m.raw[i].clone())
                .collect();
            Ok(Setting {
                inputs: m.success.len(),
                successes: succ.len(),
                results: results(&clean, &succ, &thresholds, plan.bootstrap)?,
                per_layer: per_layer(&ev.clean, &succ_raw)?,
                scores: stats.into_iter().zip(m.success).collect(),
                kind: m.kind,
                eps: m.eps,
                target: m.target,
                lambda: m.lambda,
                raw: m.raw,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let adaptive = adaptive_summary(&settings, &plan.eps, &thresholds);
    Ok(Assessed {
        thresholds,
        realised_fpr,
        clean,
        settings,
        adaptive,
    })
}

/// A value at 1 % and at 5 % FPR (a threshold, or the realised FPR at it).
type AtFpr = [f64; 2];

/// Each of `columns` columns' thresholds at 1 % and 5 % FPR, fixed on its clean set-B
/// scores `set_b`, and the fraction of the clean evaluation inputs `clean` flagged at them
/// (the realised FPR) — for the statistics and for the candidate combinations alike.
pub(crate) fn columns_thresholds<S: AsRef<[f64]>>(
    set_b: &[S],
    clean: &[S],
    columns: usize,
) -> Result<(Vec<AtFpr>, Vec<AtFpr>)> {
    use hapscope_core::calibrate::{Calibration, flagged_rate};
    let column = |v: &[S], d: usize| v.iter().map(|s| s.as_ref()[d]).collect::<Vec<f64>>();
    let mut thresholds = Vec::with_capacity(columns);
    let mut realised_fpr = Vec::with_capacity(columns);
    for d in 0..columns {
        let cal = Calibration::new(&column(set_b, d))?;
        let t = [cal.threshold(0.01)?, cal.threshold(0.05)?];
        let c = column(clean, d);
        realised_fpr.push([flagged_rate(&c, t[0]), flagged_rate(&c, t[1])]);
        thresholds.push(t);
    }
    Ok((thresholds, realised_fpr))
}

/// A setting's raw evidence, one per input; an error when it does not cover the inputs
/// (a report written before the evidence was stored has none).
pub(crate) fn setting_raw(s: &Setting) -> Result<&[RawScores]> {
    if s.raw.len() != s.scores.len() {
        return Err(super::ExperimentError::Plan(format!(
            "{} ε {}: {} raw scores for {} inputs",
            s.kind,
            s.eps,
            s.raw.len(),
            s.scores.len()
        )));
    }
    Ok(&s.raw)
}

/// `report` with every statistic, threshold and table recomputed from its raw evidence by
/// this build's detectors (no attack is rerun): how a report written before a statistic was
/// added gains it. Errors when the report stores no raw evidence, or a setting's raw
/// evidence does not cover its inputs.
pub fn rescore(report: &DetectReport) -> Result<DetectReport> {
    let ev = report.evidence.as_ref().ok_or_else(|| {
        super::ExperimentError::Plan(
            "the report stores no raw evidence (written before it was stored): rerun the attacks"
                .into(),
        )
    })?;
    let measured = report
        .settings
        .iter()
        .map(|s| {
            Ok(Measured {
                kind: s.kind.clone(),
                eps: s.eps,
                target: s.target,
                lambda: s.lambda,
                raw: setting_raw(s)?.to_vec(),
                success: s.scores.iter().map(|x| x.1).collect(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let assessed = assess(&report.plan, ev, measured)?;
    Ok(DetectReport {
        thresholds: assessed.thresholds,
        realised_fpr: assessed.realised_fpr,
        clean: assessed.clean,
        settings: assessed.settings,
        adaptive: assessed.adaptive,
        ..report.clone()
    })
}

/// Per statistic and ε: the attacker's best over every adaptive setting at that ε (each
/// input counts as evading if any attempt flipped it and scored at or below the 5 % FPR
/// threshold). The non-adaptive PGD at that ε counts as one more attempt (its first inputs
/// are the adaptive attacker's, in the same order).
pub fn adaptive_summary(
    settings: &[Setting],
    eps: &[f32],
    thresholds: &[[f64; 2]],
) -> Vec<AdaptiveRow> {
    let scored: Vec<(&Setting, Vec<Statistics>)> = settings
        .iter()
        .map(|s| (s, s.scores.iter().map(|x| x.0).collect()))
        .collect();
    columns_adaptive(&statistic_names(), &scored, eps, thresholds)
}

/// [`adaptive_summary`] for any named columns of scores, given per setting (its success
/// flags are the setting's own).
pub(crate) fn columns_adaptive<S: AsRef<[f64]>>(
    names: &[&str],
    settings: &[(&Setting, Vec<S>)],
    eps: &[f32],
    thresholds: &[[f64; 2]],
) -> Vec<AdaptiveRow> {
    let mut rows = Vec::new();
    for (d, name) in names.iter().enumerate() {
        for &e in eps {
            let at = |kind: &'static str| {
                settings
                    .iter()
                    .filter(move |(s, _)| s.kind == kind && (s.eps - e).abs() < 1e-6)
            };
            let Some(n) = at("adaptive").map(|(s, _)| s.inputs).min() else {
                continue;
            };
            let tries: Vec<&(&Setting, Vec<S>)> = at("adaptive").chain(at("pgd")).collect();
            let (mut flipped, mut evaded) = (0usize, 0usize);
            for i in 0..n {
                let hits: Vec<f64> = tries
                    .iter()
                    .filter(|(s, _)| s.scores[i].1)
                    .map(|(_, v)| v[i].as_ref()[d])
                    .collect();
                if !hits.is_empty() {
                    flipped += 1;
                    if hits.iter().any(|&v| v <= thresholds[d][1]) {
                        evaded += 1;
                    }
                }
            }
            rows.push(AdaptiveRow {
                detector: name.to_string(),
                eps: e,
                inputs: n,
                flipped: flipped as f64 / n.max(1) as f64,
                evaded: evaded as f64 / n.max(1) as f64,
                tpr5: (flipped > 0).then(|| (flipped - evaded) as f64 / flipped as f64),
            });
        }
    }
    rows
}

/// The ε at which half of the attacked inputs evade `detector` (linear interpolation between
/// the ε of the adaptive summary), or `None` if fewer than half evade at every ε.
pub fn half_evasion_eps(rows: &[AdaptiveRow], detector: &str) -> Option<f32> {
    let pts: Vec<(f32, f64)> = rows
        .iter()
        .filter(|r| r.detector == detector)
        .map(|r| (r.eps, r.evaded))
        .collect();
    let mut prev: Option<(f32, f64)> = None;
    for &(e, v) in &pts {
        if v >= 0.5 {
            return Some(match prev {
                Some((pe, pv)) if pv < 0.5 => pe + (e - pe) * ((0.5 - pv) / (v - pv)) as f32,
                _ => e,
            });
        }
        prev = Some((e, v));
    }
    None
}
