//! The confusion index between classes (Lee 2019, Eq. 4 and Fig. 3).
//!
//! Two definitions, both over the test examples whose **library** top-1 prediction equals
//! their true class `d1` (so the index measures how strongly a correctly predicted `d1`
//! still pulls towards `d2`):
//!
//! - [`ConfusionVariant::Code`] (default; the published code): `CI(d1, d2)` = mean of
//!   `exp(P_d2 − P_d1)`; the diagonal is 0.
//! - [`ConfusionVariant::Printed`] (Eq. 4 as printed): mean of `P_d2 / Σ_i P_i`. Because
//!   Hebbian weights are −1-dominated for nine of ten classes, `Σ_i P_i` is ≤ 0 on almost
//!   every trial, where the ratio is meaningless; such trials are **skipped and counted**
//!   ([`ConfusionMatrix::skipped`]) so a caller can see how little data this variant used.
//!
//! A class with no qualifying trial has `NaN` in its row (no data), not 0.

use alloc::vec;
use alloc::vec::Vec;

use crate::error::{Error, Result, check_finite};
use crate::predict::argmax;

/// Which definition of the confusion index to compute (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfusionVariant {
    /// The published code: mean `exp(P_d2 − P_d1)`.
    #[default]
    Code,
    /// Eq. 4 as printed: mean `P_d2 / Σ_i P_i`, skipping trials with `Σ_i P_i ≤ 0`.
    Printed,
}

/// Accumulates trials of one layer.
#[derive(Debug, Clone)]
pub struct ConfusionAccumulator {
    classes: usize,
    variant: ConfusionVariant,
    sums: Vec<f64>,
    counts: Vec<u64>,
    skipped: u64,
}

/// The finished `classes × classes` matrix, row = true class `d1`, column = `d2`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionMatrix {
    /// Number of classes.
    pub classes: usize,
    /// Row-major `CI(d1, d2)`; NaN rows have no qualifying trial.
    pub values: Vec<f64>,
    /// Qualifying trials per true class (library top-1 == true class).
    pub trials: Vec<u64>,
    /// Trials dropped because the printed variant's normalizer `Σ_i P_i` was ≤ 0.
    pub skipped: u64,
}

impl ConfusionAccumulator {
    /// A new accumulator for `classes ≥ 2` classes.
    pub fn new(classes: usize, variant: ConfusionVariant) -> Result<Self> {
        if classes < 2 {
            return Err(Error::InvalidParameter {
                name: "classes",
                reason: "need at least 2",
            });
        }
        Ok(ConfusionAccumulator {
            classes,
            variant,
            sums: vec![0.0; classes * classes],
            counts: vec![0; classes],
            skipped: 0,
        })
    }

    /// Adds one test example: its true class and its class scores `P` (Eq. 3).
    /// Returns whether the trial counted.
    pub fn add(&mut self, true_class: usize, scores: &[f32]) -> Result<bool> {
        let c = self.classes;
        if scores.len() != c {
            return Err(Error::DimMismatch {
                expected: c,
                got: scores.len(),
            });
        }
        if true_class >= c {
            return Err(Error::ClassOutOfRange {
                class: true_class,
                classes: c,
            });
        }
        check_finite(scores)?;
        if argmax(scores) != Some(true_class) {
            return Ok(false);
        }
        let d1 = true_class;
        let p1 = f64::from(scores[d1]);
        let row = &mut self.sums[d1 * c..][..c];
        match self.variant {
            ConfusionVariant::Code => {
                for (d2, (s, &p2)) in row.iter_mut().zip(scores).enumerate() {
                    if d2 != d1 {
                        *s += libm::exp(f64::from(p2) - p1);
                    }
                }
            }
            ConfusionVariant::Printed => {
                let total: f64 = scores.iter().map(|&p| f64::from(p)).sum();
                if total.is_nan() || total <= 0.0 {
                    self.skipped += 1;
                    return Ok(false);
                }
                for (d2, (s, &p2)) in row.iter_mut().zip(scores).enumerate() {
                    if d2 != d1 {
                        *s += f64::from(p2) / total;
                    }
                }
            }
        }
        self.counts[d1] += 1;
        Ok(true)
    }

    /// The mean over trials per `(d1, d2)`.
    pub fn finish(self) -> ConfusionMatrix {
        let c = self.classes;
        let mut values = self.sums;
        for (d1, row) in values.chunks_exact_mut(c).enumerate() {
            let n = self.counts[d1];
            for (d2, v) in row.iter_mut().enumerate() {
                *v = if n == 0 {
                    f64::NAN
                } else if d2 == d1 {
                    0.0
                } else {
                    *v / n as f64
                };
            }
        }
        ConfusionMatrix {
            classes: c,
            values,
            trials: self.counts,
            skipped: self.skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_definition() {
        let mut acc = ConfusionAccumulator::new(3, ConfusionVariant::Code).unwrap();
        assert!(acc.add(0, &[2.0, 1.0, 0.0]).unwrap());
        assert!(acc.add(0, &[3.0, 1.0, 1.0]).unwrap());
        assert!(
            !acc.add(1, &[3.0, 1.0, 1.0]).unwrap(),
            "wrong top-1 does not count"
        );
        let m = acc.finish();
        assert_eq!(m.trials, vec![2, 0, 0]);
        assert_eq!(m.values[0], 0.0);
        let want = (libm::exp(-1.0) + libm::exp(-2.0)) / 2.0;
        assert!((m.values[1] - want).abs() < 1e-12);
        assert!(m.values[3].is_nan(), "no trials for class 1");
    }

    #[test]
    fn printed_definition_skips_nonpositive_normalizers() {
        let mut acc = ConfusionAccumulator::new(3, ConfusionVariant::Printed).unwrap();
        assert!(!acc.add(0, &[1.0, -2.0, -3.0]).unwrap());
        assert!(acc.add(0, &[2.0, 1.0, 1.0]).unwrap());
        let m = acc.finish();
        assert_eq!(m.skipped, 1);
        assert!((m.values[1] - 0.25).abs() < 1e-12);
    }
}
