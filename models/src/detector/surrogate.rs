//! Differentiable stand-ins for the detectors, for the **adaptive attacker**: PGD that
//! ascends the network's loss plus λ times a term rewarding inputs the detector would pass
//! ([`crate::pgd::try_pgd_objective`]).
//!
//! - k-NN conformity: a *soft* top-k. Each layer's unit HAP meets every node by cosine; a
//!   softmax at temperature [`TAU`] over those cosines weighs the nodes (the nearest
//!   dominate), and the weighted node classes form a distribution `q`. The term is
//!   `Σ_layers log ⟨q, softmax(logits)⟩`: high when the nearest nodes share the network's
//!   (new) answer.
//! - Gaussian: the squared Mahalanobis distance to each class in whitened coordinates,
//!   `‖L⁻¹f − L⁻¹μ_c‖²`, averaged over classes with the network's softmax as weights (a
//!   smooth "distance to the answered class"), divided by the feature length; the term is
//!   its negative sum over layers.
//!
//! - CPL: Eq. 3 with the soft top-k weights in place of the top-a nodes, and Eq. 5's mean
//!   pairwise cosine of those scores (higher = consistent).
//! - Feature squeezing: minus the L1 distances between the softmax on the input and on its
//!   squeezed copies, the squeezers passed straight through (BPDA, Athalye et al. 2018:
//!   forward the squeezed pixels, differentiate as if the squeezer were the identity).
//!
//! The classification part is Carlini & Wagner's margin, `min(max_{j≠y} z_j − z_y, κ)`:
//! once the answer is wrong by [`KAPPA`] it stops pulling, and the detector terms steer.
//! Each term is a batch mean, so λ means the same at any batch size.

use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::{Detector, Detectors, LayerView};
use crate::taps::Taps;

/// Temperature of the soft top-k over cosine similarities.
pub const TAU: f32 = 0.02;

/// The logit margin beyond which the attacker stops pushing the answer further.
pub const KAPPA: f32 = 5.0;

/// Which detector the attacker adapts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// The library k-NN term.
    Knn,
    /// The Gaussian term.
    Gauss,
    /// The CPL term.
    Cpl,
    /// The feature-squeezing term.
    Squeeze,
    /// Every term (against the fusion).
    All,
}

impl Target {
    /// The terms an attacker adapting to detector `d` ascends.
    pub fn against(d: Detector) -> Self {
        match d {
            Detector::Knn => Target::Knn,
            Detector::Gauss => Target::Gauss,
            Detector::CplEq5 | Detector::CplTop20 => Target::Cpl,
            Detector::Squeeze => Target::Squeeze,
            Detector::Fusion | Detector::FusionMin | Detector::MinGaussMin => Target::All,
        }
    }

    /// All targets, in reporting order.
    pub const ALL: [Target; 5] = [
        Target::Knn,
        Target::Gauss,
        Target::Cpl,
        Target::Squeeze,
        Target::All,
    ];

    /// A short stable name.
    pub fn name(self) -> &'static str {
        match self {
            Target::Knn => "knn",
            Target::Gauss => "gauss",
            Target::Cpl => "cpl",
            Target::Squeeze => "squeeze",
            Target::All => "all",
        }
    }
}

struct LayerTerms {
    tap: usize,
    /// Unit node vectors, transposed: `[dim, nodes]`.
    nodes_t: Tensor<2>,
    /// One-hot node classes: `[nodes, classes]`.
    node_classes: Tensor<2>,
    /// Links (Eq. 2): `[nodes, classes]`.
    links: Tensor<2>,
    features: super::FeatureMap,
    /// `(L⁻¹)ᵀ`: `[features, features]`, so that `f·(L⁻¹)ᵀ` whitens a row.
    whiten_t: Tensor<2>,
    /// Whitened class means: `[classes, features]`.
    means: Tensor<2>,
    feature_len: usize,
}

/// The detectors' differentiable terms on one device.
pub struct Surrogate {
    layers: Vec<LayerTerms>,
    classes: usize,
    squeeze_bits: u32,
}

fn matrix(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

impl Surrogate {
    /// The terms of `detectors`, as constants on `device` (the autodiff device); feature
    /// squeezing at `squeeze_bits` bits.
    pub fn new(detectors: &Detectors, squeeze_bits: u32, device: &Device) -> Self {
        let taps: Vec<usize> = detectors.layers.iter().map(|l| l.tap).collect();
        let views: Vec<LayerView<'_>> = detectors.layers.iter().map(LayerView::from).collect();
        Self::from_views(&taps, &views, detectors.classes, squeeze_bits, device)
            .expect("every fitted layer has its detector parts")
    }

    /// The terms of layers `views`, read from `taps[k]` of a forward pass; `None` when a
    /// layer lacks its k-NN and Gaussian parts (a bundle without detectors).
    pub fn from_views(
        taps: &[usize],
        views: &[LayerView<'_>],
        classes: usize,
        squeeze_bits: u32,
        device: &Device,
    ) -> Option<Self> {
        let c = classes;
        let layers = taps
            .iter()
            .zip(views)
            .map(|(&tap, v)| {
                let parts = v.detector?;
                let (n, dim) = (v.library.len(), v.library.dim());
                let mut t = vec![0.0f32; dim * n];
                for j in 0..n {
                    for (k, &x) in v.library.node(j).iter().enumerate() {
                        t[k * n + j] = x;
                    }
                }
                let mut onehot = vec![0.0f32; n * c];
                for (j, &k) in parts.node_classes.iter().enumerate() {
                    onehot[j * c + k as usize] = 1.0;
                }
                let g = parts.gaussian;
                let fd = g.dim();
                // Row i of (L⁻¹)ᵀ is column i of L⁻¹: the solution of L·x = eᵢ.
                let mut whiten = vec![0.0f32; fd * fd];
                let mut e = vec![0.0f64; fd];
                for i in 0..fd {
                    e.iter_mut().for_each(|x| *x = 0.0);
                    e[i] = 1.0;
                    hapscope_core::cholesky::solve_lower(g.factor(), &mut e);
                    for (w, &x) in whiten[i * fd..][..fd].iter_mut().zip(&e) {
                        *w = x as f32;
                    }
                }
                let means: Vec<f32> = g.whitened_means().iter().map(|&x| x as f32).collect();
                Some(LayerTerms {
                    tap,
                    nodes_t: matrix(t, [dim, n], device),
                    node_classes: matrix(onehot, [n, c], device),
                    links: matrix(v.links.weights().to_vec(), [n, c], device),
                    features: parts.features,
                    whiten_t: matrix(whiten, [fd, fd], device),
                    means: matrix(means, [c, fd], device),
                    feature_len: fd,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Surrogate {
            layers,
            classes: c,
            squeeze_bits,
        })
    }

    /// Each layer's soft top-k weights over its nodes: `[batch, nodes]`.
    fn weights(&self, taps: &Taps) -> Vec<Tensor<2>> {
        self.layers
            .iter()
            .map(|l| {
                let h = taps.layers[l.tap].1.clone();
                let norm = (h.clone() * h.clone()).sum_dim(1).sqrt() + 1e-12;
                softmax((h / norm).matmul(l.nodes_t.clone()) / TAU, 1)
            })
            .collect()
    }

    /// The k-NN term (higher = the layers' nearest nodes agree with the answer).
    pub fn knn_term(&self, taps: &Taps) -> Tensor<1> {
        let p = softmax(taps.logits.clone(), 1);
        let mut total: Option<Tensor<1>> = None;
        for (l, w) in self.layers.iter().zip(self.weights(taps)) {
            let q = w.matmul(l.node_classes.clone());
            let agree = (q * p.clone()).sum_dim(1) + 1e-6;
            let term = agree.log().mean();
            total = Some(match total {
                None => term,
                Some(t) => t + term,
            });
        }
        total.expect("at least one layer")
    }

    /// The Gaussian term (higher = the layers' features sit near the answered class).
    pub fn gauss_term(&self, taps: &Taps) -> Tensor<1> {
        let p = softmax(taps.logits.clone(), 1);
        let mut total: Option<Tensor<1>> = None;
        for l in &self.layers {
            let f = super::features::feature_tensor(l.features, taps.layers[l.tap].1.clone());
            let z = f.matmul(l.whiten_t.clone());
            let zz = (z.clone() * z.clone()).sum_dim(1);
            let mm = (l.means.clone() * l.means.clone()).sum_dim(1).transpose();
            let d = zz - z.matmul(l.means.clone().transpose()) * 2.0 + mm;
            let expected = (d * p.clone()).sum_dim(1) / l.feature_len as f32;
            let term = expected.mean().neg();
            total = Some(match total {
                None => term,
                Some(t) => t + term,
            });
        }
        total.expect("at least one layer")
    }

    /// The CPL term: Eq. 5 on soft Eq. 3 scores (higher = the layers agree).
    pub fn cpl_term(&self, taps: &Taps) -> Tensor<1> {
        let scores: Vec<Tensor<2>> = self
            .layers
            .iter()
            .zip(self.weights(taps))
            .map(|(l, w)| {
                let s = w.matmul(l.links.clone());
                let n = (s.clone() * s.clone()).sum_dim(1).sqrt() + 1e-12;
                s / n
            })
            .collect();
        let mut sum: Option<Tensor<2>> = None;
        let mut pairs = 0;
        for i in 0..scores.len() {
            for j in i + 1..scores.len() {
                let c = (scores[i].clone() * scores[j].clone()).sum_dim(1);
                sum = Some(match sum {
                    None => c,
                    Some(t) => t + c,
                });
                pairs += 1;
            }
        }
        (sum.expect("at least two layers") / pairs as f32).mean()
    }

    /// The feature-squeezing term (higher = squeezing changes the softmax less), the
    /// squeezers passed straight through.
    pub fn squeeze_term(
        &self,
        forward: &dyn Fn(Tensor<4>) -> Taps,
        pixels: Tensor<4>,
        logits: Tensor<2>,
    ) -> Tensor<1> {
        let p = softmax(logits, 1);
        let mut total: Option<Tensor<1>> = None;
        let copies = super::squeeze::squeezed_tensor(pixels.clone().detach(), self.squeeze_bits);
        for target in copies {
            let through = pixels.clone() + (target - pixels.clone().detach());
            let q = softmax(forward(through).logits, 1);
            let term = (p.clone() - q).abs().sum_dim(1).mean().neg();
            total = Some(match total {
                None => term,
                Some(t) => t + term,
            });
        }
        total.expect("two squeezers")
    }

    /// The labels as one-hot rows (`[labels, classes]`) on `device`, built on the host: for
    /// [`Surrogate::objective`] (burn's `one_hot` checks its input by a synchronous read,
    /// which WebGPU cannot do).
    pub fn one_hot(&self, labels: &[usize], device: &Device) -> Tensor<2> {
        let c = self.classes;
        let mut v = vec![0.0f32; labels.len() * c];
        for (i, &l) in labels.iter().enumerate() {
            v[i * c + l.min(c - 1)] = 1.0;
        }
        matrix(v, [labels.len(), c], device)
    }

    /// The adaptive attacker's objective at `pixels` (autodiff): Carlini & Wagner's margin
    /// against the true labels (`onehot`, from [`Surrogate::one_hot`] on the autodiff
    /// device), capped at [`KAPPA`], plus λ times the `target` term(s).
    pub fn objective(
        &self,
        forward: &dyn Fn(Tensor<4>) -> Taps,
        pixels: Tensor<4>,
        onehot: Tensor<2>,
        target: Target,
        lambda: f32,
    ) -> Tensor<1> {
        let taps = forward(pixels.clone());
        let z = taps.logits.clone();
        let true_logit = (z.clone() * onehot.clone()).sum_dim(1);
        let other = (z - onehot * 1e4).max_dim(1);
        let margin = (other - true_logit).clamp_max(KAPPA).mean();
        let term = match target {
            Target::Knn => self.knn_term(&taps),
            Target::Gauss => self.gauss_term(&taps),
            Target::Cpl => self.cpl_term(&taps),
            Target::Squeeze => self.squeeze_term(forward, pixels, taps.logits.clone()),
            Target::All => {
                self.knn_term(&taps)
                    + self.gauss_term(&taps)
                    + self.cpl_term(&taps)
                    + self.squeeze_term(forward, pixels, taps.logits.clone())
            }
        };
        margin + term * lambda
    }
}
