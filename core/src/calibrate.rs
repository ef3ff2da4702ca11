//! Clean calibration of a detector's scores: empirical p-values, Fisher's combination of
//! several, and thresholds at a chosen false-positive rate.
//!
//! A detector here is any score where **higher means more anomalous**. Its calibration is
//! the sorted scores of clean inputs that took no part in fitting it. For a new score `s`,
//! the empirical p-value `(1 + #{clean ≥ s}) / (n + 1)` is the chance a clean input scores
//! at least as high (conformal prediction's definition, valid for exchangeable clean
//! inputs). Fisher's method turns the p-values of several detectors (layers, statistics)
//! into one score, `−2·Σ ln pᵢ` (Raghuram et al., ICML 2021 combine layer-wise tests the
//! same way); since the parts are dependent, the combined score is calibrated again on
//! clean inputs rather than read off a χ² table. No adversarial input enters any of this.
//!
//! The empirical p-value cannot fall below `1/(n+1)`, so in a combination a part that is
//! *far* outside the clean range would count no more than one just outside it. Beyond the
//! largest clean score, [`Calibration::p_value`] therefore continues with an exponential
//! tail, `p(s) = exp(−(s − max)/β) / (n + 1)`, where β is the mean excess over the
//! threshold of the top [`TAIL`] of clean scores (the peaks-over-threshold estimate of an
//! exponential tail). Inside the clean range the p-value is the empirical one, unchanged.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::error::{Error, Result};

/// The share of clean scores (at least 10 of them) whose excess sets the tail's scale.
pub const TAIL: f64 = 0.05;

/// Sorted clean scores of one detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    sorted: Vec<f64>,
    /// Scale β of the exponential tail beyond the largest clean score (> 0, finite).
    beta: f64,
}

impl Calibration {
    /// From clean scores (non-empty, no NaN; ±∞ allowed).
    pub fn new(clean: &[f64]) -> Result<Self> {
        if clean.is_empty() {
            return Err(Error::Empty {
                what: "calibration scores",
            });
        }
        if let Some(index) = clean.iter().position(|s| s.is_nan()) {
            return Err(Error::NonFinite { index });
        }
        let mut sorted = clean.to_vec();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
        let n = sorted.len();
        let k = (libm::ceil(TAIL * n as f64) as usize).max(10).min(n);
        let top = &sorted[n - k..];
        let excess = top.iter().map(|&s| s - top[0]).sum::<f64>() / k as f64;
        // A flat or infinite top (ties, ±∞) has no usable scale: fall back to the spread
        // of the whole set, then to 1.
        let spread = sorted[n - 1] - sorted[0];
        let beta = [excess, spread, 1.0]
            .into_iter()
            .find(|b| b.is_finite() && *b > 0.0)
            .unwrap_or(1.0);
        Ok(Calibration { sorted, beta })
    }

    /// Scale β of the exponential tail beyond the largest clean score.
    pub fn tail_scale(&self) -> f64 {
        self.beta
    }

    /// The sorted clean scores.
    pub fn scores(&self) -> &[f64] {
        &self.sorted
    }

    /// Number of clean scores.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Never true (a calibration has at least one score); for clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// `(1 + #{clean ≥ s}) / (n + 1)`, in `(0, 1]`, for `s` up to the largest clean score;
    /// beyond it the exponential tail `exp(−(s − max)/β) / (n + 1)`, still positive (so
    /// finite in [`fisher`]) except for `s = +∞`. A NaN score gets 1 (no evidence).
    pub fn p_value(&self, s: f64) -> f64 {
        let n = self.sorted.len();
        let max = self.sorted[n - 1];
        if s > max {
            let p = libm::exp(-(s - max) / self.beta) / (n + 1) as f64;
            return p.max(f64::MIN_POSITIVE);
        }
        let at_least = if s.is_nan() {
            n
        } else {
            n - self.sorted.partition_point(|&c| c < s)
        };
        (1 + at_least) as f64 / (n + 1) as f64
    }

    /// The threshold `t` that flags `s > t` with a false-positive rate of at most `fpr` on
    /// the calibration set: the `(n − ⌊fpr·n⌋)`-th smallest clean score. `fpr` in [0, 1).
    pub fn threshold(&self, fpr: f64) -> Result<f64> {
        if !(0.0..1.0).contains(&fpr) {
            return Err(Error::InvalidParameter {
                name: "fpr",
                reason: "must be in [0, 1)",
            });
        }
        let n = self.sorted.len();
        let allowed = libm::floor(fpr * n as f64) as usize;
        Ok(self.sorted[n - 1 - allowed.min(n - 1)])
    }
}

/// Fisher's combination `−2·Σ ln pᵢ` of p-values in `(0, 1]`: higher is more anomalous.
pub fn fisher(p_values: &[f64]) -> Result<f64> {
    if p_values.is_empty() {
        return Err(Error::Empty { what: "p-values" });
    }
    let mut s = 0.0;
    for (index, &p) in p_values.iter().enumerate() {
        if !(p > 0.0 && p <= 1.0) {
            return Err(Error::NonFinite { index });
        }
        s -= 2.0 * libm::log(p);
    }
    Ok(s)
}

/// The fraction of `scores` above `threshold` (flagged): the true-positive rate on attacked
/// inputs, the realised false-positive rate on clean ones. 0 for no scores.
pub fn flagged_rate(scores: &[f64], threshold: f64) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    scores.iter().filter(|&&s| s > threshold).count() as f64 / scores.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values_count_clean_scores_at_least_as_high() {
        let c = Calibration::new(&[3.0, 1.0, 2.0, 2.0]).unwrap();
        assert_eq!(c.scores(), &[1.0, 2.0, 2.0, 3.0]);
        assert_eq!(c.p_value(3.0), 2.0 / 5.0);
        assert_eq!(c.p_value(2.0), 4.0 / 5.0);
        assert_eq!(c.p_value(0.0), 1.0);
        assert_eq!(c.p_value(f64::NAN), 1.0);
        assert!(Calibration::new(&[]).is_err());
        assert!(Calibration::new(&[f64::NAN]).is_err());
    }

    #[test]
    fn beyond_the_clean_range_the_tail_keeps_falling() {
        let clean: Vec<f64> = (0..100).map(f64::from).collect();
        let c = Calibration::new(&clean).unwrap();
        // Top 10 scores 90..99: mean excess over 90 is 4.5.
        assert_eq!(c.tail_scale(), 4.5);
        let at = |s: f64| c.p_value(s);
        assert_eq!(at(99.0), 2.0 / 101.0);
        assert!((at(99.0 + 1e-9) - 1.0 / 101.0).abs() < 1e-9);
        assert!((at(99.0 + 4.5) - (-1.0f64).exp() / 101.0).abs() < 1e-15);
        assert!(at(200.0) < at(150.0) && at(150.0) < at(100.0));
        assert!(at(1e6) > 0.0 && fisher(&[at(1e6)]).unwrap().is_finite());
        // Ties at the top fall back to the spread.
        let mut flat = [5.0; 13];
        flat[0] = 0.0;
        let flat = Calibration::new(&flat).unwrap();
        assert_eq!(flat.tail_scale(), 5.0);
        assert_eq!(Calibration::new(&[2.0]).unwrap().tail_scale(), 1.0);
    }

    #[test]
    fn thresholds_hold_the_false_positive_rate_on_the_calibration_set() {
        let clean: Vec<f64> = (0..200).map(|i| f64::from(i) * 0.5).collect();
        let c = Calibration::new(&clean).unwrap();
        for fpr in [0.0, 0.01, 0.05, 0.2, 0.5] {
            let t = c.threshold(fpr).unwrap();
            let r = flagged_rate(&clean, t);
            assert!(r <= fpr, "fpr {fpr}: {r}");
            // And it is the loosest such threshold: one step lower breaks it.
            assert!(flagged_rate(&clean, t - 0.25) > fpr);
        }
        assert!(c.threshold(1.0).is_err() && c.threshold(-0.1).is_err());
        assert_eq!(flagged_rate(&[], 0.0), 0.0);
    }

    #[test]
    fn fisher_sums_log_p_values() {
        let f = fisher(&[0.5, 0.25]).unwrap();
        assert!((f - (-2.0 * (0.5f64.ln() + 0.25f64.ln()))).abs() < 1e-12);
        assert_eq!(fisher(&[1.0, 1.0]).unwrap(), 0.0);
        assert!(fisher(&[]).is_err());
        assert!(fisher(&[0.0]).is_err());
        assert!(fisher(&[1.5]).is_err());
    }
}
