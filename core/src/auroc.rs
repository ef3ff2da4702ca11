//! Area under the ROC curve, as the Mann–Whitney statistic.
//!
//! `AUROC(pos, neg)` = P(a random positive scores higher than a random negative), ties
//! counting one half: `(#{p > n} + ½·#{p = n}) / (|pos|·|neg|)`. Computed in
//! `O((P+N) log(P+N))` from mid-ranks. `AUROC(pos, neg) + AUROC(neg, pos) = 1`, and any
//! strictly increasing map of the scores leaves it unchanged.
//!
//! Orientation is the caller's: to score CPL as a detector of adversarial inputs (which
//! have *lower* CPL), pass the clean inputs as positives.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::error::{Error, Result};

/// The Mann–Whitney AUROC of `positives` over `negatives`; both non-empty, no NaN.
pub fn auroc(positives: &[f64], negatives: &[f64]) -> Result<f64> {
    if positives.is_empty() {
        return Err(Error::Empty {
            what: "positive scores",
        });
    }
    if negatives.is_empty() {
        return Err(Error::Empty {
            what: "negative scores",
        });
    }
    let mut all: Vec<(f64, bool)> = Vec::with_capacity(positives.len() + negatives.len());
    for (i, &s) in positives.iter().chain(negatives).enumerate() {
        if s.is_nan() {
            return Err(Error::NonFinite { index: i });
        }
        all.push((s, i < positives.len()));
    }
    all.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
    // Sum of the positives' mid-ranks (1-based).
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mid = (i + 1 + j) as f64 / 2.0;
        let pos_in_tie = all[i..j].iter().filter(|x| x.1).count();
        rank_sum += mid * pos_in_tie as f64;
        i = j;
    }
    let (np, nn) = (positives.len() as f64, negatives.len() as f64);
    Ok((rank_sum - np * (np + 1.0) / 2.0) / (np * nn))
}

/// The ROC curve of `positives` over `negatives` (both non-empty, no NaN): `(FPR, TPR)`
/// points from `(0, 0)` to `(1, 1)`, one per distinct score, flagging scores `≥` it.
/// The trapezoid area under these points equals [`auroc`].
pub fn roc_points(positives: &[f64], negatives: &[f64]) -> Result<Vec<(f64, f64)>> {
    auroc(positives, negatives)?;
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|&s| (s, true))
        .chain(negatives.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal));
    let (np, nn) = (positives.len() as f64, negatives.len() as f64);
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut out = alloc::vec![(0.0, 0.0)];
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            if all[j].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            j += 1;
        }
        out.push((fp as f64 / nn, tp as f64 / np));
        i = j;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_chance_and_ties() {
        assert_eq!(auroc(&[3.0, 4.0], &[1.0, 2.0]).unwrap(), 1.0);
        assert_eq!(auroc(&[1.0, 2.0], &[3.0, 4.0]).unwrap(), 0.0);
        assert_eq!(auroc(&[1.0], &[1.0]).unwrap(), 0.5);
        // pairs: (2>1) 1, (2=2) .5, (3>1) 1, (3>2) 1 → 3.5/4
        assert_eq!(auroc(&[2.0, 3.0], &[1.0, 2.0]).unwrap(), 0.875);
    }

    #[test]
    fn the_roc_curve_encloses_the_auroc() {
        let (p, n) = ([2.0, 3.0, 5.0, 1.0], [1.0, 2.0, 0.5]);
        let pts = roc_points(&p, &n).unwrap();
        assert_eq!(pts.first(), Some(&(0.0, 0.0)));
        assert_eq!(pts.last(), Some(&(1.0, 1.0)));
        let area: f64 = pts
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum();
        assert!((area - auroc(&p, &n).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn errors() {
        assert!(auroc(&[], &[1.0]).is_err());
        assert!(auroc(&[f64::NAN], &[1.0]).is_err());
    }
}
