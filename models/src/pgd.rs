//! Projected gradient descent (L∞ PGD), with advertorch's `LinfPGDAttack` semantics as the
//! paper's code used them.
//!
//! Start from `x + U(−ε, ε)` clipped to [0, 1]; then `steps` times: step `α·sign(∇ₓ CE)`
//! (gradient of the cross-entropy of the logits against the **true** labels), project back
//! into the ε-ball around `x` and into [0, 1]. Defaults: 40 steps of α = 0.01.
//! advertorch sums the loss over the batch; this uses the mean, which has the same sign of
//! gradient, so the steps are identical.
//!
//! [`PgdSpace::NormalizedQuirk`] reproduces the paper code's bug: the attack ran on inputs
//! that were **already normalized** (mean/std), while still clipping to [0, 1] and using ε
//! in normalized units. It is an explicitly named option, never the default.
//!
//! ε is validated in one place, [`check_eps`], by every caller that takes it from a user
//! (the CLI's `attack`, the page's wasm API) and by [`try_pgd`] itself.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::Distribution;

/// Why an attack was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum PgdError {
    /// ε is not a finite number in (0, 1].
    #[error("ε must be in (0, 1], got {0}")]
    InvalidEps(f32),
}

/// Checks that `eps` is a usable L∞ radius: a finite number in (0, 1] (the attacked space
/// is clipped to [0, 1], so a larger radius means nothing, and ε = 0 is no attack). Returns
/// it unchanged.
pub fn check_eps(eps: f32) -> Result<f32, PgdError> {
    // NaN fails both comparisons; ±∞ fails one.
    if eps > 0.0 && eps <= 1.0 {
        Ok(eps)
    } else {
        Err(PgdError::InvalidEps(eps))
    }
}

/// PGD settings (advertorch defaults as the paper's code used them).
#[derive(Config, Debug)]
pub struct PgdConfig {
    /// L∞ radius ε, in the attacked space's units (pixels in [0, 1] by default).
    pub eps: f32,
    /// Number of steps.
    #[config(default = 40)]
    pub steps: usize,
    /// Step size α.
    #[config(default = 0.01)]
    pub step_size: f32,
    /// Start from a uniform random point of the ε-ball.
    #[config(default = true)]
    pub rand_init: bool,
    /// Seed of the random start.
    #[config(default = 1)]
    pub seed: u64,
}

/// Where the attack operates.
#[derive(Debug, Clone, PartialEq)]
pub enum PgdSpace {
    /// Pixel space: `x` in [0, 1], the network normalizes internally (correct).
    Pixel,
    /// The paper code's quirk: attack `z = (x − mean) / std` per channel, clip `z` to [0, 1].
    NormalizedQuirk {
        /// Per-channel mean.
        mean: Vec<f32>,
        /// Per-channel standard deviation.
        std: Vec<f32>,
    },
}

fn channel(v: &[f32], device: &Device) -> Tensor<4> {
    Tensor::<1>::from_floats(v, device).reshape([1, v.len(), 1, 1])
}

/// Attacks a batch. `forward` maps pixels `[b, c, h, w]` to logits on the autodiff
/// `device` (a frozen network loaded there); `x` (pixels in [0, 1]) and `y` (true labels)
/// live on the plain device. Returns the adversarial pixels on the plain device, or an error
/// if `cfg.eps` is not in (0, 1] ([`check_eps`]).
pub fn try_pgd(
    forward: &dyn Fn(Tensor<4>) -> Tensor<2>,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    cfg: &PgdConfig,
    space: &PgdSpace,
    device: &Device,
) -> Result<Tensor<4>, PgdError> {
    check_eps(cfg.eps)?;
    Ok(attack(forward, x, y, cfg, space, device))
}

/// [`try_pgd`] for an ε the caller has already checked with [`check_eps`].
///
/// # Panics
/// If `cfg.eps` is not in (0, 1], with [`PgdError`]'s message (never deep in the sampler).
pub fn pgd(
    forward: &dyn Fn(Tensor<4>) -> Tensor<2>,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    cfg: &PgdConfig,
    space: &PgdSpace,
    device: &Device,
) -> Tensor<4> {
    match try_pgd(forward, x, y, cfg, space, device) {
        Ok(adv) => adv,
        Err(e) => panic!("pgd: {e} (validate ε with check_eps first)"),
    }
}

/// PGD in pixel space on any objective: like [`try_pgd`], but each step ascends
/// `objective(pixels)` — a scalar (`[1]`) on the autodiff `device` — instead of the
/// cross-entropy. The adaptive attacks use it: the network's loss minus λ times a
/// detector's differentiable score. `x` lives on the plain device; so does the result, and
/// `objective` receives `x`'s autodiff counterpart.
pub fn try_pgd_objective(
    objective: &dyn Fn(Tensor<4>) -> Tensor<1>,
    x: Tensor<4>,
    cfg: &PgdConfig,
) -> Result<Tensor<4>, PgdError> {
    check_eps(cfg.eps)?;
    Ok(ascend(objective, x, cfg))
}

fn attack(
    forward: &dyn Fn(Tensor<4>) -> Tensor<2>,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    cfg: &PgdConfig,
    space: &PgdSpace,
    device: &Device,
) -> Tensor<4> {
    let plain = x.device();
    let ce = CrossEntropyLossConfig::new().init(device);
    // The attacked variable z maps to pixels as z·scale + shift (per channel): the identity
    // in pixel space, the de-normalization for the quirk. Built once per device.
    let affine = |d: &Device| match space {
        PgdSpace::Pixel => None,
        PgdSpace::NormalizedQuirk { mean, std } => Some((channel(std, d), channel(mean, d))),
    };
    let (on_plain, on_ad) = (affine(&plain), affine(device));
    let to_pixels = |z: Tensor<4>, a: &Option<(Tensor<4>, Tensor<4>)>| match a {
        None => z,
        Some((scale, shift)) => z * scale.clone() + shift.clone(),
    };
    let z0 = match &on_plain {
        None => x,
        Some((scale, shift)) => (x - shift.clone()) / scale.clone(),
    };
    let y = y.autodiff();
    let objective = |za: Tensor<4>| ce.forward(forward(to_pixels(za, &on_ad)), y.clone());
    to_pixels(ascend(&objective, z0, cfg), &on_plain)
}

/// The PGD iteration on the attacked variable `z` (in [0, 1], plain device): a random start
/// in the ε-ball, then `steps` signed-gradient steps on `objective`, each projected back
/// into the ball around `z0` and the unit box.
fn ascend(objective: &dyn Fn(Tensor<4>) -> Tensor<1>, z0: Tensor<4>, cfg: &PgdConfig) -> Tensor<4> {
    let plain = z0.device();
    let mut z = z0.clone();
    if cfg.rand_init {
        plain.seed(cfg.seed);
        let eps = f64::from(cfg.eps);
        z = (z + Tensor::random(z0.shape(), Distribution::Uniform(-eps, eps), &plain))
            .clamp(0.0, 1.0);
    }
    for _ in 0..cfg.steps {
        let za = z.clone().autodiff().require_grad();
        let grads = objective(za.clone()).backward();
        let g = za.grad(&grads).expect("the input requires a gradient");
        let stepped = z + g.sign() * cfg.step_size;
        z = (z0.clone() + (stepped - z0.clone()).clamp(-cfg.eps, cfg.eps)).clamp(0.0, 1.0);
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::lenet::{LeNet, MNIST_MEAN, MNIST_STD};
    use burn::module::Module;

    fn setup() -> (Device, Device, LeNet, Tensor<4>, Tensor<1, Int>) {
        let device = Device::flex();
        let ad = device.clone().autodiff();
        ad.seed(3);
        let net = LeNet::new(&ad).freeze();
        device.seed(4);
        let x = Tensor::<4>::random([4, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 3, 7, 9], [4]), &device);
        (device, ad, net, x, y)
    }

    fn max_abs(t: Tensor<4>) -> f32 {
        t.abs().max().into_scalar::<f32>()
    }

    #[test]
    fn stays_in_the_eps_ball_and_the_unit_box() {
        let (_, ad, net, x, y) = setup();
        let cfg = PgdConfig::new(0.1).with_steps(5);
        let adv = pgd(
            &|p| net.forward(p),
            x.clone(),
            y,
            &cfg,
            &PgdSpace::Pixel,
            &ad,
        );
        assert!(max_abs(adv.clone() - x) <= 0.1 + 1e-6);
        assert!(
            adv.clone().min().into_scalar::<f32>() >= 0.0 && adv.max().into_scalar::<f32>() <= 1.0
        );
    }

    #[test]
    fn the_quirk_works_in_normalized_units() {
        let (_, ad, net, x, y) = setup();
        let cfg = PgdConfig::new(0.1).with_steps(5);
        let space = PgdSpace::NormalizedQuirk {
            mean: vec![MNIST_MEAN],
            std: vec![MNIST_STD],
        };
        let adv = pgd(&|p| net.forward(p), x.clone(), y, &cfg, &space, &ad);
        // In normalized units z = (x − m)/s the result is clipped to [0, 1]: pixels to [m, m + s].
        let z = (adv.clone() - MNIST_MEAN) / MNIST_STD;
        assert!(
            z.clone().min().into_scalar::<f32>() >= -1e-5
                && z.max().into_scalar::<f32>() <= 1.0 + 1e-5
        );
        // ε-ball in normalized units, measured against the (clipped) start in z space.
        let z0 = ((x - MNIST_MEAN) / MNIST_STD).clamp(0.0, 1.0);
        let zs = (adv - MNIST_MEAN) / MNIST_STD;
        assert!(max_abs(zs - z0) <= 0.1 + 1e-5);
    }

    #[test]
    fn eps_outside_zero_one_is_refused_not_a_panic() {
        for eps in [
            0.0,
            -0.0,
            -0.1,
            1.5,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ] {
            assert_eq!(
                check_eps(eps).map_err(|e| e.to_string()),
                Err(format!("ε must be in (0, 1], got {eps}")),
                "{eps}"
            );
        }
        for eps in [f32::MIN_POSITIVE, 0.1, 1.0] {
            assert_eq!(check_eps(eps), Ok(eps));
        }
        // The attack itself refuses instead of reaching burn's sampler (which panics on an
        // empty range), with and without the random start.
        let (_, ad, net, x, y) = setup();
        for rand_init in [true, false] {
            let cfg = PgdConfig::new(0.0).with_steps(1).with_rand_init(rand_init);
            let r = try_pgd(
                &|p| net.forward(p),
                x.clone(),
                y.clone(),
                &cfg,
                &PgdSpace::Pixel,
                &ad,
            );
            assert_eq!(r.err(), Some(PgdError::InvalidEps(0.0)));
        }
    }
}
