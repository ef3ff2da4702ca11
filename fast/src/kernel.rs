//! A BLAS-grade [`SimilarityKernel`]: the `gemm` crate's f32 matrix multiply
//! (runtime-dispatched AVX2/AVX-512/NEON micro-kernels, multi-threaded with rayon).
//!
//! It sums in its own order, so its values may differ from the canonical
//! [`hapscope_core::similarity::dot`] by up to [`f32_dot_error_bound`]; the core re-checks
//! decisions inside that bound, so libraries and predictions stay identical to the plain
//! kernel's (tested in `tests/`).

use gemm::{Parallelism, gemm};
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::similarity::f32_dot_error_bound;

/// The `gemm`-backed kernel. `threads = 0` uses every rayon thread (one per core).
#[derive(Debug, Clone, Copy, Default)]
pub struct GemmKernel {
    threads: usize,
}

impl GemmKernel {
    /// A kernel using `threads` threads (0 = all cores, 1 = the calling thread only).
    pub fn new(threads: usize) -> Self {
        GemmKernel { threads }
    }

    fn parallelism(&self) -> Parallelism {
        if self.threads == 1 {
            Parallelism::None
        } else {
            Parallelism::Rayon(self.threads)
        }
    }
}

impl SimilarityKernel for GemmKernel {
    fn dots(&self, q: &[f32], p: &[f32], dim: usize, out: &mut [f32]) {
        product(q, p, dim, out, [0.0, 1.0], self.parallelism());
    }

    fn error_bound(&self, dim: usize) -> f32 {
        f32_dot_error_bound(dim)
    }

    fn dots_f64(&self, q: &[f64], p: &[f64], dim: usize, out: &mut [f64]) {
        product(q, p, dim, out, [0.0, 1.0], self.parallelism());
    }
}

/// `out` (m × k, row-major): each row of `unit` (m × dim) against each row of `basis`
/// (k × dim), as the `f64` sum of `f32` products of `slice`-column slices — the coordinates
/// of [`hapscope_core::subspace::Subspace::with_f32_slices`], within its tolerance whatever
/// order gemm sums a slice in. On the calling thread (callers split rows over the cores).
pub fn sliced_products(unit: &[f32], basis: &[f32], dim: usize, slice: usize, out: &mut [f64]) {
    let m = unit.len() / dim.max(1);
    let k = basis.len() / dim.max(1);
    assert!(
        slice > 0 && unit.len() == m * dim && basis.len() == k * dim && out.len() == m * k,
        "sliced_products: shapes"
    );
    out.fill(0.0);
    if m == 0 || k == 0 {
        return;
    }
    let mut partial = vec![0.0f32; m * k];
    for c in (0..dim).step_by(slice) {
        let l = slice.min(dim - c);
        // SAFETY: row i of the lhs is unit[i·dim + c ..][..l] and column j of the rhs is
        // basis[j·dim + c ..][..l], both inside the slices checked above (c + l ≤ dim);
        // `partial` is m × k and unaliased.
        unsafe {
            gemm(
                m,
                k,
                l,
                partial.as_mut_ptr(),
                1,
                k as isize,
                false,
                unit.as_ptr().add(c),
                1,
                dim as isize,
                basis.as_ptr().add(c),
                dim as isize,
                1,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
        for (o, &p) in out.iter_mut().zip(&partial) {
            *o += f64::from(p);
        }
    }
}

/// `out` (m×n, row-major) = Q (m×dim, row-major) · Pᵀ (element (k, j) = `p[j·dim + k]`), in
/// `f32` or `f64`; `[zero, one]` are that type's 0 and 1 (gemm's β and α).
fn product<T: 'static + Copy>(
    q: &[T],
    p: &[T],
    dim: usize,
    out: &mut [T],
    [zero, one]: [T; 2],
    parallelism: Parallelism,
) {
    let m = q.len() / dim;
    let n = p.len() / dim;
    assert!(
        q.len() == m * dim && p.len() == n * dim && out.len() == m * n,
        "GemmKernel: shapes"
    );
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the pointers and strides describe exactly the slices checked above; `out` does
    // not alias `q` or `p` (it is a unique borrow).
    unsafe {
        gemm(
            m,
            n,
            dim,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            q.as_ptr(),
            1,
            dim as isize,
            p.as_ptr(),
            dim as isize,
            1,
            zero,
            one,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hapscope_core::similarity::dot;

    #[test]
    fn sliced_products_are_within_the_slices_bound() {
        let (m, k, dim) = (37, 9, 1000);
        let unit: Vec<f32> = (0..m * dim)
            .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.45) / 9.0)
            .collect();
        let basis: Vec<f32> = (0..k * dim)
            .map(|i| ((i * 104_729 % 977) as f32 / 977.0 - 0.52) / 9.0)
            .collect();
        for slice in [1, 64, 128, 1000, 4096] {
            let mut out = vec![0.0f64; m * k];
            sliced_products(&unit, &basis, dim, slice, &mut out);
            let gamma = slice.min(dim) as f64 * 2f64.powi(-24) * 1.01;
            for i in 0..m {
                for j in 0..k {
                    let (x, b) = (&unit[i * dim..][..dim], &basis[j * dim..][..dim]);
                    let exact: f64 = x
                        .iter()
                        .zip(b)
                        .map(|(&x, &b)| f64::from(x) * f64::from(b))
                        .sum();
                    let mag: f64 = x.iter().zip(b).map(|(&x, &b)| f64::from(x * b).abs()).sum();
                    let err = (out[i * k + j] - exact).abs();
                    assert!(
                        err <= gamma * mag + 1e-12,
                        "slice {slice} ({i},{j}): {err} > {}",
                        gamma * mag
                    );
                }
            }
        }
    }

    #[test]
    fn within_declared_bound_of_canonical_dot() {
        for (m, n, dim) in [(1, 1, 1), (3, 7, 5), (17, 33, 500), (64, 40, 3200)] {
            let q: Vec<f32> = (0..m * dim)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / (dim as f32).sqrt() / 4.0)
                .collect();
            let p: Vec<f32> = (0..n * dim)
                .map(|i| ((i * 5 % 11) as f32 - 5.0) / (dim as f32).sqrt() / 4.0)
                .collect();
            let mut out = vec![0.0; m * n];
            GemmKernel::default().dots(&q, &p, dim, &mut out);
            let bound = GemmKernel::default().error_bound(dim);
            for i in 0..m {
                for j in 0..n {
                    let want = dot(&q[i * dim..][..dim], &p[j * dim..][..dim]);
                    assert!(
                        (out[i * n + j] - want).abs() <= bound,
                        "({i},{j}) {} vs {want}",
                        out[i * n + j]
                    );
                }
            }
        }
    }
}
