//! An exact shortcut for library building: screen queries in a random low-dimensional
//! projection before matching them in full.
//!
//! Most training HAPs are *not* novel: some node already has cosine ≥ θ with them, and
//! finding one such node settles the matter. The screen projects unit HAPs onto `k` random
//! ±1/√k directions (Johnson–Lindenstrauss: cosines are roughly preserved), finds each
//! query's few best nodes in the projection (`k` instead of `dim` flops per node), and
//! checks those candidates with the canonical [`crate::similarity::dot`]. A candidate with
//! canonical cosine ≥ θ proves the query is not novel — exactly the definition's
//! condition, so the screen never changes a library. Queries it cannot settle go through
//! the full match against every node. Projections only decide *where to look first*.
//!
//! Cost per query: `dim·k` (projection) + `nodes·k` (projected match) + `c·dim` (checks),
//! against `nodes·dim` for the full match: with k = 256 and thousands of nodes of
//! dimension 11,520, about a tenth.

use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::kernel::SimilarityKernel;

/// Random projection of unit HAPs and the projected library nodes.
#[derive(Debug, Clone)]
pub struct Screen {
    k: usize,
    candidates: usize,
    /// `k × dim` projection, row-major.
    projection: Vec<f32>,
    /// `nodes × k` projected nodes.
    nodes: Vec<f32>,
}

impl Screen {
    /// A screen of `k ≥ 1` random directions for HAPs of length `dim`, checking the
    /// `candidates ≥ 1` best projected nodes per query. `seed` fixes the directions (they
    /// affect speed only, never results).
    pub fn new(dim: usize, k: usize, candidates: usize, seed: u64) -> Result<Self> {
        if k == 0 || candidates == 0 || dim == 0 {
            return Err(Error::InvalidParameter {
                name: "screen",
                reason: "dim, k and candidates must be at least 1",
            });
        }
        let len = k.checked_mul(dim).ok_or(Error::TooManyRows)?;
        let scale = 1.0 / libm::sqrtf(k as f32);
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let projection = (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                if s >> 63 == 0 { scale } else { -scale }
            })
            .collect();
        Ok(Screen {
            k,
            candidates,
            projection,
            nodes: Vec::new(),
        })
    }

    /// Number of projected dimensions.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Projects unit rows (`m × dim`) into `out` (`m × k`).
    pub fn project<K: SimilarityKernel>(&self, kernel: &K, unit: &[f32], out: &mut Vec<f32>) {
        let dim = self.projection.len() / self.k;
        let m = unit.len() / dim;
        out.resize(m * self.k, 0.0);
        if m > 0 {
            kernel.dots(unit, &self.projection, dim, out);
        }
    }

    /// Projected similarities of projected queries (`m × k`) to every node: `m × nodes`.
    pub fn match_nodes<K: SimilarityKernel>(
        &self,
        kernel: &K,
        projected: &[f32],
        out: &mut Vec<f32>,
    ) {
        let m = projected.len() / self.k;
        let n = self.nodes.len() / self.k;
        out.resize(m * n, 0.0);
        if m > 0 && n > 0 {
            kernel.dots(projected, &self.nodes, self.k, out);
        }
    }

    /// Appends the projections of one or more nodes (rows of [`Screen::project`]'s output),
    /// in creation order.
    pub fn push_node(&mut self, projected: &[f32]) {
        self.nodes.extend_from_slice(projected);
    }

    /// The indices of the `candidates` largest values of `row`, best first.
    pub fn best(&self, row: &[f32], out: &mut Vec<usize>) {
        out.clear();
        for (j, &v) in row.iter().enumerate() {
            if out.len() < self.candidates {
                out.push(j);
            } else if v > row[out[self.candidates - 1]] {
                out[self.candidates - 1] = j;
            } else {
                continue;
            }
            // Keep `out` sorted by value, descending (insertion step).
            let mut i = out.len() - 1;
            while i > 0 && row[out[i]] > row[out[i - 1]] {
                out.swap(i, i - 1);
                i -= 1;
            }
        }
    }
}
