//! Bootstrap confidence intervals for the AUROC ([`crate::auroc`]): resample the positives
//! and the negatives with replacement (each group keeps its size), recompute the AUROC, and
//! take the percentiles of the resampled values. Seeded, so a run reproduces exactly.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::auroc::auroc;
use crate::error::{Error, Result};

/// SplitMix64: a small, well-mixed, seedable stream (Steele, Lea & Flood 2014).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value uniform in [−1, 1) on a 2⁻²³ grid (test data, synthetic features).
    pub fn symmetric(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    /// A uniform index below `n` (`n ≥ 1`; Lemire's multiply-shift, bias < n / 2⁶⁴).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

fn resample(from: &[f64], rng: &mut SplitMix64, into: &mut Vec<f64>) {
    into.clear();
    into.extend((0..from.len()).map(|_| from[rng.below(from.len())]));
}

/// The percentile bootstrap interval of `AUROC(positives, negatives)` at `level` (e.g. 0.95)
/// from `resamples` resamples seeded by `seed`: `(low, high)`. Both groups non-empty, no NaN.
pub fn auroc_interval(
    positives: &[f64],
    negatives: &[f64],
    resamples: usize,
    level: f64,
    seed: u64,
) -> Result<(f64, f64)> {
    if resamples == 0 {
        return Err(Error::InvalidParameter {
            name: "resamples",
            reason: "must be at least 1",
        });
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::InvalidParameter {
            name: "level",
            reason: "must be in (0, 1)",
        });
    }
    // Validates both groups (empty, NaN) once.
    auroc(positives, negatives)?;
    let mut rng = SplitMix64::new(seed);
    let (mut p, mut n) = (Vec::new(), Vec::new());
    let mut values = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        resample(positives, &mut rng, &mut p);
        resample(negatives, &mut rng, &mut n);
        values.push(auroc(&p, &n)?);
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    let tail = (1.0 - level) / 2.0;
    let at = |q: f64| {
        let i = libm::round(q * (resamples - 1) as f64) as usize;
        values[i.min(resamples - 1)]
    };
    Ok((at(tail), at(1.0 - tail)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_holds_the_estimate_and_narrows_with_more_data() {
        // Overlapping groups: positives i/60, negatives i/60 − 0.3.
        let small_p: Vec<f64> = (0..30).map(|i| f64::from(i) / 60.0).collect();
        let small_n: Vec<f64> = small_p.iter().map(|x| x - 0.3).collect();
        let big_p: Vec<f64> = (0..600)
            .map(|i| f64::from(i % 30) / 60.0 + f64::from(i) * 1e-6)
            .collect();
        let big_n: Vec<f64> = big_p.iter().map(|x| x - 0.3).collect();
        let a = auroc(&small_p, &small_n).unwrap();
        let (lo, hi) = auroc_interval(&small_p, &small_n, 500, 0.95, 1).unwrap();
        assert!(lo <= a && a <= hi && lo < hi, "{lo} {a} {hi}");
        let (blo, bhi) = auroc_interval(&big_p, &big_n, 500, 0.95, 1).unwrap();
        assert!(bhi - blo < (hi - lo) / 2.0, "{blo}..{bhi} vs {lo}..{hi}");
        // Seeded: the same call gives the same interval.
        assert_eq!(
            auroc_interval(&small_p, &small_n, 500, 0.95, 1).unwrap(),
            (lo, hi)
        );
        // Perfect separation stays perfect in every resample.
        assert_eq!(
            auroc_interval(&[2.0, 3.0], &[0.0, 1.0], 50, 0.9, 2).unwrap(),
            (1.0, 1.0)
        );
        assert!(auroc_interval(&[], &[1.0], 10, 0.95, 0).is_err());
        assert!(auroc_interval(&[1.0], &[1.0], 0, 0.95, 0).is_err());
        assert!(auroc_interval(&[1.0], &[1.0], 10, 1.0, 0).is_err());
    }

    #[test]
    fn indices_are_in_range_and_spread() {
        let mut r = SplitMix64::new(9);
        let mut hits = [0usize; 7];
        for _ in 0..7000 {
            hits[r.below(7)] += 1;
        }
        assert!(hits.iter().all(|&h| (800..1200).contains(&h)), "{hits:?}");
    }
}
