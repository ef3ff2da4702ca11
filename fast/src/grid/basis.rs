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
    let st = transpose(sample, s, dim);
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
    let tt = transpose(&t, s, k);
    let mut q1 = vec![0.0f32; k * dim];
    kernel.dots(&tt, &st, s, &mut q1); // (S·Q0ᵀ)ᵀ·S = Q0·SᵀS
    let dirs: Vec<f64> = q1.iter().map(|&v| f64::from(v)).collect();
    let subspace = Subspace::orthonormalize(&dirs, dim)?;
    // With gemm's f32 kernels, coordinates from f32 slices (the bounds account for them).
    #[cfg(feature = "gemm")]
    let subspace = subspace.with_f32_slices(super::F32_SLICE);
    let sketch = super::sketch(&subspace, kernel, sample);
    let mut radii = sketch.radius;
    radii.sort_by(f32::total_cmp);
    if radii[radii.len() / 2] > MAX_MEDIAN_RADIUS {
        return Subspace::identity(dim);
    }
    Ok(subspace)
}

/// The transpose (`cols × rows`) of a `rows × cols` row-major matrix, in 32 × 32 tiles (a
/// column-by-column write would miss the cache on nearly every element).
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut out = vec![0.0f32; m.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = m[r * cols + c];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn transpose_moves_every_element() {
        for (rows, cols) in [(1, 1), (3, 70), (65, 33)] {
            let m: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
            let t = super::transpose(&m, rows, cols);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(t[c * rows + r], m[r * cols + c]);
                }
            }
        }
    }
}
