//! Hebbian links from library nodes to the network's answers (Lee 2019, Eq. 2).
//!
//! `W[m][n] = Σ_k g(h_n^k) · O_m^k` over the training examples `k`, where `h_n^k` is the
//! cosine of example `k`'s HAP to node `n`, `g(x) = exp(−(1 − x) / 0.01)` and
//! `O_m^k = +1` if class `m` is the **network's answer** on example `k` (not the true
//! label), −1 otherwise.
//!
//! Because `O` is ±1, `W[m][n] = 2·A[n][m] − T[n]` with `A[n][m] = Σ_{k: answer m} g(h_n^k)`
//! and `T[n] = Σ_k g(h_n^k)`; [`HebbianAccumulator`] keeps `A` and `T` in `f64` (one pass,
//! `O(nodes)` per example, summed in example order) and rounds `W` to `f32` once at the end.

use alloc::vec;
use alloc::vec::Vec;

use crate::error::{Error, Result, check_finite};

/// Width of the link kernel `g` (the paper's 0.01).
pub const G_WIDTH: f64 = 0.01;

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

    /// Adds one training example: `sims[n]` is its cosine to node `n`, `answer` the
    /// network's answer on it.
    pub fn add(&mut self, sims: &[f32], answer: usize) -> Result<()> {
        if sims.len() != self.nodes {
            return Err(Error::DimMismatch {
                expected: self.nodes,
                got: sims.len(),
            });
        }
        if answer >= self.classes {
            return Err(Error::ClassOutOfRange {
                class: answer,
                classes: self.classes,
            });
        }
        check_finite(sims)?;
        for (n, &h) in sims.iter().enumerate() {
            let w = g(h);
            self.per_class[n * self.classes + answer] += w;
            self.total[n] += w;
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
