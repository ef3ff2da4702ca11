//! The screen's subspace: a randomized range finder (one power iteration) on the layer's
//! first unit HAPs, orthonormalized in `f64` by the core.

use hapscope_core::Result;
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::subspace::Subspace;

use super::{SUBSPACE_K, SUBSPACE_MIN_DIM};

/// Above this median residual radius of the sample the bounds are too loose to settle
/// pairs (every interval spans more than ±0.25), and the full products are cheaper.
pub const MAX_MEDIAN_RADIUS: f32 = 0.5;

/// A subspace for unit rows `sample` (`s × dim`), or the identity when `screen` is off,
/// the HAPs are short, there is nothing to fit, or the HAPs are not close to any
/// 128-dimensional subspace (median radius above [`MAX_MEDIAN_RADIUS`]: isotropic noise,
/// say). The directions affect speed only.
pub(super) fn fit_subspace<K: SimilarityKernel + Sync>(
    sample: &[f32],
    dim: usize,
    kernel: &K,
    screen: bool,
) -> Result<Subspace> {
    let s = sample.len() / dim;
    if !screen || dim < SUBSPACE_MIN_DIM || s == 0 {
        return Subspace::identity(dim);
    }
    let k = SUBSPACE_K;
    // Sᵀ (dim × s), so that products over the sample's rows are kernel calls.
    let mut st = vec![0.0f32; dim * s];
    for (i, row) in sample.chunks_exact(dim).enumerate() {
        for (d, &v) in row.iter().enumerate() {
            st[d * s + i] = v;
        }
    }
    // Ω (k × s): fixed pseudo-random ±1 mixing weights.
    let mut x: u64 = 0x4752_4944_5355_4253;
    let omega: Vec<f32> = (0..k * s)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x >> 63 == 0 { 1.0 } else { -1.0 }
        })
        .collect();
    let mut q0 = vec![0.0f32; k * dim];
    kernel.dots(&omega, &st, s, &mut q0); // Ω·S
    let mut t = vec![0.0f32; s * k];
    kernel.dots(sample, &q0, dim, &mut t); // S·Q0ᵀ
    let mut tt = vec![0.0f32; k * s];
    for i in 0..s {
        for j in 0..k {
            tt[j * s + i] = t[i * k + j];
        }
    }
    let mut q1 = vec![0.0f32; k * dim];
    kernel.dots(&tt, &st, s, &mut q1); // (S·Q0ᵀ)ᵀ·S = Q0·SᵀS
    let dirs: Vec<f64> = q1.iter().map(|&v| f64::from(v)).collect();
    let subspace = Subspace::orthonormalize(&dirs, dim)?;
    let sketch = super::sketch(&subspace, kernel, sample);
    let mut radii = sketch.radius;
    radii.sort_by(f32::total_cmp);
    if radii[radii.len() / 2] > MAX_MEDIAN_RADIUS {
        return Subspace::identity(dim);
    }
    Ok(subspace)
}
