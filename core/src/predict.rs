//! Per-layer prediction of the network's answer from a library (Lee 2019, Eq. 3).
//!
//! For a query HAP with raw cosines `h` to the library's nodes (g of Eq. 2 is **not**
//! applied here), take the `a` nodes with the highest cosine (a = 3 for MNIST, 8 for
//! ResNet in the paper; the published code's CPL variant uses 20) and score each class
//! `P_m = Σ_{n ∈ top-a} W[m][n] · h_n`. The layer's prediction is `argmax_m P_m`.
//!
//! Ties are broken deterministically: nodes by (cosine desc, node index asc), classes by
//! (score desc, class index asc). The top-a selection is made on canonical similarities
//! ([`crate::similarity::dot`]): kernel values within the kernel's error bound of the
//! selection boundary are recomputed, so every kernel gives the same P, bit for bit.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::error::{Error, Result};
use crate::hebbian::Links;
use crate::kernel::SimilarityKernel;
use crate::library::{Library, check_rows, normalize_rows};
use crate::similarity::dot;

/// Orders (node, similarity) pairs best first: similarity descending, then node index
/// ascending (the tie-break of Eq. 3's top-a).
pub fn node_order(a: &(usize, f32), b: &(usize, f32)) -> Ordering {
    b.1.partial_cmp(&a.1)
        .unwrap_or(Ordering::Equal)
        .then(a.0.cmp(&b.0))
}

/// The `a` best (node, canonical similarity) pairs, best first.
///
/// `fast[j]` is a kernel value within `tol` of `exact(j)`, the canonical similarity.
pub fn top_nodes(
    fast: &[f32],
    a: usize,
    tol: f32,
    exact: impl Fn(usize) -> f32,
    out: &mut Vec<(usize, f32)>,
) {
    out.clear();
    let a = a.min(fast.len());
    if a == 0 {
        return;
    }
    // a-th largest kernel value; any node of the true top-a has a kernel value ≥ v − 2·tol.
    let mut best: Vec<(usize, f32)> = fast.iter().copied().enumerate().take(a).collect();
    best.sort_by(node_order);
    for (j, &s) in fast.iter().enumerate().skip(a) {
        if node_order(&(j, s), &best[a - 1]) == Ordering::Less {
            best[a - 1] = (j, s);
            best.sort_by(node_order);
        }
    }
    if tol == 0.0 {
        out.extend_from_slice(&best);
        return;
    }
    let cut = best[a - 1].1 - 2.0 * tol;
    out.extend(
        fast.iter()
            .enumerate()
            .filter(|&(_, &s)| s >= cut)
            .map(|(j, _)| (j, exact(j))),
    );
    out.sort_by(node_order);
    out.truncate(a);
}

/// Eq. 3: `out[m] = Σ W[m][n] · h_n` over the selected `(n, h_n)` nodes.
pub fn class_scores(links: &Links, top: &[(usize, f32)], out: &mut [f32]) {
    out.fill(0.0);
    for &(n, h) in top {
        for (o, &w) in out.iter_mut().zip(links.node(n)) {
            *o += w * h;
        }
    }
}

/// Class indices ordered by score, best first (ties: lower index first); the first `k`.
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| {
        scores[b]
            .partial_cmp(&scores[a])
            .unwrap_or(Ordering::Equal)
            .then(a.cmp(&b))
    });
    idx.truncate(k);
    idx
}

/// The best class (ties: lowest index). `None` for an empty slice.
pub fn argmax(scores: &[f32]) -> Option<usize> {
    top_k(scores, 1).first().copied()
}

/// What [`Predictor::explain`] returns for one HAP.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// Class scores `P` (Eq. 3).
    pub scores: Vec<f32>,
    /// The top-a nodes (index, canonical cosine), best first. For a zero HAP every cosine is
    /// 0 and the tie-break picks the lowest indices; check `nonzero` before showing them.
    pub nodes: Vec<(usize, f32)>,
    /// Whether the HAP had a direction (a zero HAP scores 0 everywhere).
    pub nonzero: bool,
}

/// A layer's predictor: a library, its links and the number `a` of top nodes.
#[derive(Debug, Clone, Copy)]
pub struct Predictor<'a> {
    library: &'a Library,
    links: &'a Links,
    top_a: usize,
}

impl<'a> Predictor<'a> {
    /// Pairs a library with its links; `top_a ≥ 1`.
    pub fn new(library: &'a Library, links: &'a Links, top_a: usize) -> Result<Self> {
        if links.nodes() != library.len() {
            return Err(Error::DimMismatch {
                expected: library.len(),
                got: links.nodes(),
            });
        }
        if library.is_empty() {
            return Err(Error::Empty { what: "library" });
        }
        if top_a == 0 {
            return Err(Error::InvalidParameter {
                name: "top_a",
                reason: "must be at least 1",
            });
        }
        Ok(Predictor {
            library,
            links,
            top_a,
        })
    }

    /// Number of classes scored.
    pub fn classes(&self) -> usize {
        self.links.classes()
    }

    /// Class scores `P` (Eq. 3) for a block of raw HAPs (row-major, `dim` columns):
    /// `scores[i * classes + m]`. A zero HAP has cosine 0 to every node and so scores 0.
    /// `nonzero[i]` reports which rows had a direction.
    pub fn scores<K: SimilarityKernel>(
        &self,
        haps: &[f32],
        kernel: &K,
        scores: &mut [f32],
        nonzero: &mut [bool],
    ) -> Result<()> {
        self.scores_with_nodes(haps, kernel, scores, nonzero, |_, _| {})
    }

    /// One HAP's scores and the top-a nodes that cast them (node index, canonical cosine),
    /// best first — the library's "reasons": each node is a stored training example.
    pub fn explain<K: SimilarityKernel>(&self, hap: &[f32], kernel: &K) -> Result<Explanation> {
        let mut scores = alloc::vec![0.0; self.classes()];
        let mut nonzero = [false];
        let mut nodes = Vec::new();
        self.scores_with_nodes(hap, kernel, &mut scores, &mut nonzero, |_, top| {
            nodes = top.to_vec();
        })?;
        Ok(Explanation {
            scores,
            nodes,
            nonzero: nonzero[0],
        })
    }

    /// [`Predictor::scores`], also handing each row's top-a nodes to `on_nodes(row, nodes)`.
    pub fn scores_with_nodes<K: SimilarityKernel>(
        &self,
        haps: &[f32],
        kernel: &K,
        scores: &mut [f32],
        nonzero: &mut [bool],
        mut on_nodes: impl FnMut(usize, &[(usize, f32)]),
    ) -> Result<()> {
        let dim = self.library.dim();
        check_rows(haps, dim)?;
        let m = haps.len() / dim;
        let classes = self.classes();
        if scores.len() != m * classes {
            return Err(Error::DimMismatch {
                expected: m * classes,
                got: scores.len(),
            });
        }
        if nonzero.len() != m {
            return Err(Error::DimMismatch {
                expected: m,
                got: nonzero.len(),
            });
        }
        let mut unit = alloc::vec![0.0; haps.len()];
        normalize_rows(haps, dim, &mut unit, nonzero);
        let n = self.library.len();
        let mut sims = alloc::vec![0.0; m * n];
        self.library.similarities(&unit, kernel, &mut sims)?;
        let tol = kernel.error_bound(dim);
        let mut top = Vec::with_capacity(self.top_a);
        for i in 0..m {
            let q = &unit[i * dim..][..dim];
            let row = &sims[i * n..][..n];
            top_nodes(
                row,
                self.top_a,
                tol,
                |j| dot(q, self.library.node(j)),
                &mut top,
            );
            class_scores(self.links, &top, &mut scores[i * classes..][..classes]);
            on_nodes(i, &top);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn top_nodes_breaks_ties_by_index() {
        let mut out = Vec::new();
        top_nodes(&[0.5, 0.9, 0.9, 0.1], 2, 0.0, |_| unreachable!(), &mut out);
        assert_eq!(out, vec![(1, 0.9), (2, 0.9)]);
        top_nodes(&[0.5], 3, 0.0, |_| unreachable!(), &mut out);
        assert_eq!(out, vec![(0, 0.5)]);
    }

    #[test]
    fn top_nodes_rechecks_near_the_boundary() {
        // Kernel values are off by up to tol; the exact values reorder nodes 1 and 2.
        let exact = [0.10f32, 0.50, 0.51, 0.90];
        let fast = [0.10f32, 0.52, 0.50, 0.90];
        let mut out = Vec::new();
        top_nodes(&fast, 2, 0.02, |j| exact[j], &mut out);
        assert_eq!(out, vec![(3, 0.90), (2, 0.51)]);
    }

    #[test]
    fn eq3_scores() {
        let links = Links::from_parts(2, 2, vec![1.0, -1.0, -2.0, 3.0]).unwrap();
        let mut out = [0.0; 2];
        class_scores(&links, &[(0, 0.5), (1, 0.25)], &mut out);
        assert_eq!(out, [0.5 - 0.5, -0.5 + 0.75]);
        assert_eq!(top_k(&[0.1, 0.3, 0.3, -1.0], 3), vec![1, 2, 0]);
        assert_eq!(argmax(&[]), None);
    }

    #[test]
    fn explain_matches_scores_and_names_the_voting_nodes() {
        use crate::kernel::PlainKernel;
        // Three 2-D nodes; the query is nearest node 2, then node 0.
        let lib = Library::build_sequential(&[1.0, 0.0, 0.0, 1.0, 0.8, 0.6], 2, 0.95).unwrap();
        assert_eq!(lib.len(), 3);
        let links = Links::from_parts(3, 2, vec![1.0, -1.0, -1.0, 1.0, 2.0, 0.0]).unwrap();
        let p = Predictor::new(&lib, &links, 2).unwrap();
        let q = [0.9f32, 0.5];
        let e = p.explain(&q, &PlainKernel).unwrap();
        let mut scores = [0.0; 2];
        let mut nz = [false];
        p.scores(&q, &PlainKernel, &mut scores, &mut nz).unwrap();
        assert_eq!(e.scores, scores.to_vec());
        assert!(e.nonzero && nz[0]);
        assert_eq!(e.nodes.iter().map(|n| n.0).collect::<Vec<_>>(), vec![2, 0]);
        let zero = p.explain(&[0.0, 0.0], &PlainKernel).unwrap();
        assert!(!zero.nonzero);
        assert_eq!(zero.scores, vec![0.0, 0.0]);
    }
}
