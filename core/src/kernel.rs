//! Block similarity kernels: the hot loop of library building and matching.
//!
//! Matching a block of `m` query HAPs against `n` library nodes is the matrix product
//! `S = Q·Pᵀ` (`m × dim` times `dim × n`). [`SimilarityKernel`] is the small seam through
//! which a faster implementation (e.g. a BLAS-style GEMM in `hapscope-models`) plugs in.
//! A kernel states how far its results may stray from the canonical [`dot`]
//! ([`SimilarityKernel::error_bound`]); callers that make threshold decisions re-check the
//! entries that fall within that bound with [`dot`], so the *decisions* are those of the
//! canonical definition whatever kernel is used.
//!
//! [`PlainKernel`] is the portable default: plain Rust, cache-blocked over queries and
//! nodes, and bit-identical to [`dot`] (its bound is 0).

use crate::similarity::{LANES, dot, reduce};

/// Computes blocks of dot products between unit-norm rows.
pub trait SimilarityKernel {
    /// Writes `out[i * n + j] = ⟨q_i, p_j⟩` for the `m = q.len() / dim` rows of `q` and the
    /// `n = p.len() / dim` rows of `p` (both row-major, `dim` columns).
    ///
    /// Callers guarantee `q.len()` and `p.len()` are multiples of `dim`, `dim > 0`, and
    /// `out.len() == m * n`.
    fn dots(&self, q: &[f32], p: &[f32], dim: usize, out: &mut [f32]);

    /// The largest `|out[i*n+j] − dot(q_i, p_j)|` this kernel can produce for unit rows of
    /// length `dim`. 0 means bit-identical to [`dot`].
    fn error_bound(&self, dim: usize) -> f32;

    /// The same product in `f64` (for the θ-grid pass's subspace coordinates, whose
    /// bounds assume `f64` accumulation; any summation order is fine). The default is
    /// portable loops; a BLAS-style kernel overrides it.
    fn dots_f64(&self, q: &[f64], p: &[f64], dim: usize, out: &mut [f64]) {
        let n = p.len() / dim;
        for (qi, row) in q.chunks_exact(dim).zip(out.chunks_exact_mut(n.max(1))) {
            for (o, pj) in row.iter_mut().zip(p.chunks_exact(dim)) {
                *o = qi.iter().zip(pj).map(|(a, b)| a * b).sum();
            }
        }
    }
}

impl<K: SimilarityKernel + ?Sized> SimilarityKernel for &K {
    fn dots(&self, q: &[f32], p: &[f32], dim: usize, out: &mut [f32]) {
        (**self).dots(q, p, dim, out)
    }
    fn error_bound(&self, dim: usize) -> f32 {
        (**self).error_bound(dim)
    }
    fn dots_f64(&self, q: &[f64], p: &[f64], dim: usize, out: &mut [f64]) {
        (**self).dots_f64(q, p, dim, out)
    }
}

/// The portable kernel: [`dot`] for every pair, tiled 2 × 2 so each loaded chunk of a row
/// is used twice, and blocked over node panels that stay in cache.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainKernel;

/// Node rows per panel: the panel (`NODE_PANEL × dim` floats) is reused by every query.
const NODE_PANEL: usize = 64;

impl SimilarityKernel for PlainKernel {
    fn dots(&self, q: &[f32], p: &[f32], dim: usize, out: &mut [f32]) {
        let m = q.len() / dim;
        let n = p.len() / dim;
        debug_assert_eq!(out.len(), m * n);
        for j0 in (0..n).step_by(NODE_PANEL) {
            let j1 = (j0 + NODE_PANEL).min(n);
            let mut i = 0;
            while i + 2 <= m {
                let (qa, qb) = (&q[i * dim..][..dim], &q[(i + 1) * dim..][..dim]);
                let mut j = j0;
                while j + 2 <= j1 {
                    let (pa, pb) = (&p[j * dim..][..dim], &p[(j + 1) * dim..][..dim]);
                    let [s00, s01, s10, s11] = dot2x2(qa, qb, pa, pb);
                    out[i * n + j] = s00;
                    out[i * n + j + 1] = s01;
                    out[(i + 1) * n + j] = s10;
                    out[(i + 1) * n + j + 1] = s11;
                    j += 2;
                }
                if j < j1 {
                    let pa = &p[j * dim..][..dim];
                    out[i * n + j] = dot(qa, pa);
                    out[(i + 1) * n + j] = dot(qb, pa);
                }
                i += 2;
            }
            if i < m {
                let qa = &q[i * dim..][..dim];
                for j in j0..j1 {
                    out[i * n + j] = dot(qa, &p[j * dim..][..dim]);
                }
            }
        }
    }

    fn error_bound(&self, _dim: usize) -> f32 {
        0.0
    }
}

/// Four canonical dot products at once: `[⟨a,x⟩, ⟨a,y⟩, ⟨b,x⟩, ⟨b,y⟩]`, each summed exactly
/// as [`dot`] sums it (same lanes, same order), so the results are bit-identical.
#[inline]
fn dot2x2(a: &[f32], b: &[f32], x: &[f32], y: &[f32]) -> [f32; 4] {
    let mut acc = [[0.0f32; LANES]; 4];
    let chunks = a.len() / LANES;
    for c in 0..chunks {
        let r = c * LANES..(c + 1) * LANES;
        let (a, b, x, y) = (&a[r.clone()], &b[r.clone()], &x[r.clone()], &y[r]);
        for l in 0..LANES {
            acc[0][l] += a[l] * x[l];
            acc[1][l] += a[l] * y[l];
            acc[2][l] += b[l] * x[l];
            acc[3][l] += b[l] * y[l];
        }
    }
    for (l, k) in (chunks * LANES..a.len()).enumerate() {
        acc[0][l] += a[k] * x[k];
        acc[1][l] += a[k] * y[k];
        acc[2][l] += b[k] * x[k];
        acc[3][l] += b[k] * y[k];
    }
    [
        reduce(&acc[0]),
        reduce(&acc[1]),
        reduce(&acc[2]),
        reduce(&acc[3]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn rows(m: usize, dim: usize, seed: u32) -> Vec<f32> {
        (0..m * dim)
            .map(|i| libm::sinf((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) as f32))
            .collect()
    }

    #[test]
    fn plain_kernel_is_bit_identical_to_dot() {
        for (m, n, dim) in [(1, 1, 1), (3, 5, 7), (2, 130, 9), (5, 67, 24), (4, 4, 500)] {
            let q = rows(m, dim, 1);
            let p = rows(n, dim, 2);
            let mut out = vec![0.0; m * n];
            PlainKernel.dots(&q, &p, dim, &mut out);
            for i in 0..m {
                for j in 0..n {
                    let want = dot(&q[i * dim..][..dim], &p[j * dim..][..dim]);
                    assert_eq!(
                        out[i * n + j].to_bits(),
                        want.to_bits(),
                        "m={m} n={n} dim={dim} ({i},{j})"
                    );
                }
            }
        }
    }
}
