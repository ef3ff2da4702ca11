//! Hebbian links from library nodes to the network's answers (Lee 2019, Eq. 2).
//!
//! `W[m][n] = Σ_k g(h_n^k) · O_m^k` over the training examples `k`, where `h_n^k` is the
//! cosine of example `k`'s HAP to node `n`, `g(x) = exp(−(1 − x) / 0.01)` and
//! `O_m^k = +1` if class `m` is the **network's answer** on example `k` (not the true
//! label), −1 otherwise.
//!
//! Because `O` is ±1, `W[m][n] = 2·A[n][m] − T[n]` with `A[n][m] = Σ_{k: answer m} g(h_n^k)`
//! and `T[n] = Σ_k g(h_n^k)`; [`HebbianAccumulator`] keeps `A` and `T` in `f64` (one pass,
//! summed in example order) and rounds `W` to `f32` once at the end.
//!
//! ## The link floor: what is summed, and the guarantee
//! `g` falls off fast: a similarity below [`LINK_FLOOR`] (0.7) contributes less than
//! `g(0.7) = e^−30 ≈ 9.4·10⁻¹⁴` to an entry, while every entry of a node holds its own
//! source example's term, `g(1) = 1`. Such terms are **left out**: over `N` training
//! examples each `W` entry differs from the full sum of Eq. 2 by at most
//! [`floor_error_bound`]`(N) = N · g(0.7)` (5.6·10⁻⁹ for MNIST's 60,000; an `f32` ulp at 1 is
//! 1.2·10⁻⁷), before the final rounding to `f32`.
//!
//! The terms that *are* summed use the **canonical** similarity
//! ([`crate::similarity::dot`]): [`HebbianAccumulator::add_kernel`] takes a fast kernel's
//! values and recomputes canonically every entry that may lie at or above the floor. So the
//! links — and the artifact bytes that hold them — are identical whatever kernel computed
//! the similarities (portable, BLAS-style with any runtime-dispatched SIMD, wasm), on every
//! CPU. Leaving the far terms out is also what makes this cheap: only the few entries near
//! the floor or above it are recomputed, and `g` is evaluated only for those.

use alloc::vec;
use alloc::vec::Vec;

use crate::error::{Error, Result, check_finite};

/// Width of the link kernel `g` (the paper's 0.01).
pub const G_WIDTH: f64 = 0.01;

/// Similarities below this are left out of Eq. 2 (see the module docs): each such term is
/// below `g(LINK_FLOOR) ≈ 9.4·10⁻¹⁴`.
pub const LINK_FLOOR: f32 = 0.7;

/// The most by which leaving out the terms below [`LINK_FLOOR`] can change any link weight,
/// over `examples` training examples: `examples · g(LINK_FLOOR)`.
pub fn floor_error_bound(examples: usize) -> f64 {
    examples as f64 * g(LINK_FLOOR)
}

/// The link kernel of Eq. 2: `g(x) = exp(−(1 − x) / 0.01)`; `g(1) = 1`, `g(0.9) ≈ 4.5e−5`.
#[inline]
pub fn g(x: f32) -> f64 {
    libm::exp(-(1.0 - f64::from(x)) / G_WIDTH)
}

/// Link weights `W`, stored node-major: `weights()[n * classes + m] = W[m][n]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Links {
    nodes: usize,
    classes: usize,
    weights: Vec<f32>,
}

impl Links {
    /// Reassembles links from node-major weights (`nodes × classes`).
    pub fn from_parts(nodes: usize, classes: usize, weights: Vec<f32>) -> Result<Self> {
        if classes == 0 {
            return Err(Error::InvalidParameter {
                name: "classes",
                reason: "must be at least 1",
            });
        }
        let expected = nodes.checked_mul(classes).ok_or(Error::TooManyRows)?;
        if weights.len() != expected {
            return Err(Error::DimMismatch {
                expected,
                got: weights.len(),
            });
        }
        check_finite(&weights)?;
        Ok(Links {
            nodes,
            classes,
            weights,
        })
    }

    /// Number of library nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Number of classes (answers).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// `W[·][n]`: node `n`'s weight to every class.
    ///
    /// # Panics
    /// If `n >= nodes()`.
    pub fn node(&self, n: usize) -> &[f32] {
        &self.weights[n * self.classes..][..self.classes]
    }

    /// All weights, node-major.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
}

/// Accumulates Eq. 2 over training examples, one similarity row at a time.
#[derive(Debug, Clone)]
pub struct HebbianAccumulator {
    nodes: usize,
    classes: usize,
    per_class: Vec<f64>,
    total: Vec<f64>,
}

impl HebbianAccumulator {
    /// An accumulator for a library of `nodes` nodes and `classes` answers.
    pub fn new(nodes: usize, classes: usize) -> Result<Self> {
        if classes == 0 {
            return Err(Error::InvalidParameter {
                name: "classes",
                reason: "must be at least 1",
            });
        }
        let len = nodes.checked_mul(classes).ok_or(Error::TooManyRows)?;
        Ok(HebbianAccumulator {
            nodes,
            classes,
            per_class: vec![0.0; len],
            total: vec![0.0; nodes],
        })
    }

    /// Adds one training example: `sims[n]` is its **canonical** cosine to node `n`
    /// ([`crate::similarity::dot`] of the unit vectors), `answer` the network's answer on it.
    /// Terms below [`LINK_FLOOR`] are left out (module docs).
    pub fn add(&mut self, sims: &[f32], answer: usize) -> Result<()> {
        self.add_kernel(sims, 0.0, |n| sims[n], answer)
    }

    /// Adds one training example from a kernel's similarities: `fast[n]` is within `tol`
    /// of the canonical cosine `exact(n)` (e.g. a [`crate::kernel::SimilarityKernel`]'s
    /// output and its `error_bound`). Every entry whose kernel value is at least
    /// `LINK_FLOOR − tol` is recomputed with `exact` and summed iff that canonical value is
    /// at least [`LINK_FLOOR`], so the links are those of [`Self::add`] on canonical
    /// similarities, bit for bit, whatever the kernel.
    pub fn add_kernel(
        &mut self,
        fast: &[f32],
        tol: f32,
        exact: impl Fn(usize) -> f32,
        answer: usize,
    ) -> Result<()> {
        if fast.len() != self.nodes {
            return Err(Error::DimMismatch {
                expected: self.nodes,
                got: fast.len(),
            });
        }
        if answer >= self.classes {
            return Err(Error::ClassOutOfRange {
                class: answer,
                classes: self.classes,
            });
        }
        check_finite(fast)?;
        let cut = LINK_FLOOR - tol;
        for (n, &s) in fast.iter().enumerate() {
            if s < cut {
                continue;
            }
            let h = if tol == 0.0 { s } else { exact(n) };
            if h >= LINK_FLOOR {
                let w = g(h);
                self.per_class[n * self.classes + answer] += w;
                self.total[n] += w;
            }
        }
        Ok(())
    }

    /// Adds one (example, node) term of Eq. 2: `h` is the **canonical** cosine of the
    /// example to `node`, `answer` the network's answer on it; `g(h)` is summed iff
    /// `h ≥ LINK_FLOOR`. For screens that find the pairs at or above the floor themselves
    /// (the θ-grid pass): calling it for every such pair of every example, examples in order,
    /// gives the links of [`Self::add`] bit for bit — each entry's sum has the same terms in
    /// the same order.
    pub fn add_term(&mut self, node: usize, answer: usize, h: f32) -> Result<()> {
        if node >= self.nodes {
            return Err(Error::DimMismatch {
                expected: self.nodes,
                got: node + 1,
            });
        }
        if answer >= self.classes {
            return Err(Error::ClassOutOfRange {
                class: answer,
                classes: self.classes,
            });
        }
        check_finite(&[h])?;
        if h >= LINK_FLOOR {
            let w = g(h);
            self.per_class[node * self.classes + answer] += w;
            self.total[node] += w;
        }
        Ok(())
    }

    /// The link weights.
    pub fn finish(self) -> Links {
        let classes = self.classes;
        let weights = self
            .per_class
            .chunks_exact(classes)
            .zip(&self.total)
            .flat_map(|(a, &t)| a.iter().map(move |&a| (2.0 * a - t) as f32))
            .collect();
        Links {
            nodes: self.nodes,
            classes,
            weights,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_eq2_written_out() {
        // Two nodes, three classes, three examples.
        let sims = [[1.0f32, 0.2], [0.95, 0.99], [0.5, 1.0]];
        let answers = [0usize, 2, 2];
        let mut acc = HebbianAccumulator::new(2, 3).unwrap();
        for (s, &a) in sims.iter().zip(&answers) {
            acc.add(s, a).unwrap();
        }
        let links = acc.finish();
        for n in 0..2 {
            for m in 0..3 {
                let want: f64 = sims
                    .iter()
                    .zip(&answers)
                    .map(|(s, &a)| {
                        libm::exp(-(1.0 - f64::from(s[n])) / 0.01) * if a == m { 1.0 } else { -1.0 }
                    })
                    .sum();
                let got = f64::from(links.node(n)[m]);
                assert!(
                    (got - want).abs() <= 1e-6 * want.abs().max(1e-30),
                    "W[{m}][{n}] = {got}, want {want}"
                );
            }
        }
    }

    #[test]
    fn floor_leaves_out_only_what_its_bound_covers() {
        // Node 0's similarities straddle the floor; the full Eq. 2 sum differs from the
        // floored one by the left-out terms only, within floor_error_bound.
        let sims = [[1.0f32, 0.69999], [0.7, 0.2], [0.6999, 0.95], [0.9, -1.0]];
        let answers = [1usize, 0, 1, 0];
        let mut acc = HebbianAccumulator::new(2, 2).unwrap();
        for (s, &a) in sims.iter().zip(&answers) {
            acc.add(s, a).unwrap();
        }
        let links = acc.finish();
        for n in 0..2 {
            for m in 0..2 {
                let o = |a: usize| if a == m { 1.0 } else { -1.0 };
                let full: f64 = sims
                    .iter()
                    .zip(&answers)
                    .map(|(s, &a)| g(s[n]) * o(a))
                    .sum();
                let kept: f64 = sims
                    .iter()
                    .zip(&answers)
                    .filter(|(s, _)| s[n] >= LINK_FLOOR)
                    .map(|(s, &a)| g(s[n]) * o(a))
                    .sum();
                let got = f64::from(links.node(n)[m]);
                assert!(
                    (got - kept).abs() <= 1.2e-7 * kept.abs().max(1.0),
                    "W[{m}][{n}] = {got}: the kept terms only, {kept}"
                );
                assert!(
                    (got - full).abs() <= floor_error_bound(sims.len()) + 6e-8 * full.abs(),
                    "W[{m}][{n}] = {got}, full Eq. 2 {full}"
                );
            }
        }
        // A node seen only below the floor links to nothing (the full sum, −g(0.69) ≈
        // −4·10⁻¹⁴ per class, is representable in f32: the floor is what makes it 0).
        let mut acc = HebbianAccumulator::new(1, 2).unwrap();
        acc.add(&[0.69], 0).unwrap();
        assert_eq!(acc.finish().weights(), &[0.0, 0.0]);
        assert!((-g(0.69)) as f32 != 0.0);
    }

    #[test]
    fn kernel_values_give_the_canonical_links() {
        // A "kernel" off by up to tol: values near the floor are recomputed exactly, so the
        // links equal those from the exact values, bit for bit, even where the kernel's value
        // falls on the other side of the floor.
        let exact = [0.7f32, 0.69995, 0.9, 0.3, 1.0];
        let fast = [0.69995f32, 0.7, 0.90004, 0.3, 0.99996];
        let tol = 1e-4;
        let mut a = HebbianAccumulator::new(5, 3).unwrap();
        let mut b = HebbianAccumulator::new(5, 3).unwrap();
        a.add(&exact, 2).unwrap();
        b.add_kernel(&fast, tol, |n| exact[n], 2).unwrap();
        let bits = |l: Links| l.weights().iter().map(|w| w.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a.finish()), bits(b.finish()));
        // Without the recomputation the raw kernel values give other bytes.
        let mut c = HebbianAccumulator::new(5, 3).unwrap();
        c.add(&fast, 2).unwrap();
        let mut d = HebbianAccumulator::new(5, 3).unwrap();
        d.add(&exact, 2).unwrap();
        assert_ne!(bits(c.finish()), bits(d.finish()));
    }

    #[test]
    fn g_is_one_at_one() {
        assert_eq!(g(1.0), 1.0);
        assert!((g(0.9) - libm::exp(-10.0)).abs() < 1e-9);
    }

    #[test]
    fn rejects_bad_answers_and_shapes() {
        let mut acc = HebbianAccumulator::new(2, 3).unwrap();
        assert_eq!(
            acc.add(&[0.1, 0.2], 3),
            Err(Error::ClassOutOfRange {
                class: 3,
                classes: 3
            })
        );
        assert_eq!(
            acc.add(&[0.1], 0),
            Err(Error::DimMismatch {
                expected: 2,
                got: 1
            })
        );
        assert!(acc.add(&[0.1, f32::NAN], 0).is_err());
    }
}
