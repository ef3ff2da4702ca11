//! Other combinations of the detectors' parts, scored beside [`Detector::ALL`](super::Detector)
//! from a report's raw evidence — candidates for the page's verdict, not yet on the page.
//!
//! The parts are [`Components`]' own, calibrated on the same clean set A; only how they are
//! combined differs. [`Components`] sums the layers' Gaussian evidence by Fisher's method
//! before the fusions see it, which dilutes a layer that is far out with layers that are
//! not; the candidates keep the layers apart:
//!
//! - **`min-7`**: Tippett's `−2 ln min p` over seven parts — each layer's Gaussian p-value,
//!   the k-NN sum, CPL (Eq. 5) and squeezing.
//! - **`min-gauss-min`**: Tippett over the usual four parts, with the Gaussian part taken at
//!   its most extreme layer (the layers' smallest p-value, turned back into a p-value on set
//!   A, so the layers' number and dependence cost what they cost on clean inputs).
//! - **`fisher-7`**: Fisher's `−2 Σ ln p` over the seven parts of `min-7`.
//!
//! Clean data only, as everywhere in [`super`]: set A gives every p-value; a candidate's
//! thresholds come from its scores on set B, like any statistic's.

use hapscope_core::calibrate::{Calibration, fisher};

use super::{Components, RawScores};

/// Number of candidate combinations.
pub const CANDIDATES: usize = 3;

/// Stable names of the candidates, in score order.
pub const CANDIDATE_NAMES: [&str; CANDIDATES] = ["min-7", "min-gauss-min", "fisher-7"];

/// The candidates' calibrations: [`Components`] plus the clean distribution of the layers'
/// smallest Gaussian p-value.
#[derive(Debug, Clone)]
pub struct Candidates {
    comp: Components,
    gauss_min: Calibration,
}

impl Candidates {
    /// From the raw scores of clean calibration set A (the set [`Components::new`] takes).
    pub fn new(clean: &[RawScores]) -> hapscope_core::Result<Self> {
        let comp = Components::new(clean)?;
        let mins = clean
            .iter()
            .map(|r| Ok(tippett(&comp.layer_p_values(r)?)))
            .collect::<hapscope_core::Result<Vec<_>>>()?;
        Ok(Candidates {
            gauss_min: Calibration::new(&mins)?,
            comp,
        })
    }

    /// One input's candidate scores, in [`CANDIDATE_NAMES`] order (higher = more anomalous).
    pub fn scores(&self, r: &RawScores) -> hapscope_core::Result<[f64; CANDIDATES]> {
        let layers = self.comp.layer_p_values(r)?;
        let [knn, _, cpl, squeeze] = self.comp.part_p_values(r, &layers)?;
        let mut seven = layers.clone();
        seven.extend([knn, cpl, squeeze]);
        let gauss_min = self.gauss_min.p_value(tippett(&layers));
        Ok([
            tippett(&seven),
            tippett(&[knn, gauss_min, cpl, squeeze]),
            fisher(&seven)?,
        ])
    }
}

/// Tippett's `−2 ln min p` (0 for no p-values).
pub fn tippett(p: &[f64]) -> f64 {
    p.iter().map(|&x| -2.0 * x.ln()).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(knn: u32, gauss: [f64; 2], cpl: f64, squeeze: f64) -> RawScores {
        RawScores {
            answer: 0,
            cpl_eq5: cpl,
            cpl_top20: cpl,
            knn: vec![knn, 0],
            gauss: gauss.to_vec(),
            squeeze,
        }
    }

    /// 20 clean inputs whose parts are independent-looking permutations of 0..20.
    fn clean() -> Vec<RawScores> {
        (0..20u32)
            .map(|i| {
                let f = f64::from(i);
                raw(
                    (i * 7) % 20,
                    [f, f64::from((i * 3) % 20)],
                    -f64::from((i * 11) % 20),
                    f64::from((i * 13) % 20),
                )
            })
            .collect()
    }

    #[test]
    fn a_typical_input_scores_low_and_one_far_layer_scores_high() {
        let c = Candidates::new(&clean()).unwrap();
        let typical = c.scores(&raw(0, [0.0, 0.0], 0.0, 0.0)).unwrap();
        // One Gaussian layer far beyond every clean score, the rest typical.
        let far = c.scores(&raw(0, [1e3, 0.0], 0.0, 0.0)).unwrap();
        for k in 0..CANDIDATES {
            assert!(far[k] > typical[k], "{}", CANDIDATE_NAMES[k]);
        }
        // Tippett over seven sees the far layer's own p-value (exponential tail, tiny).
        let p_far = c
            .comp
            .layer_p_values(&raw(0, [1e3, 0.0], 0.0, 0.0))
            .unwrap()[0];
        assert_eq!(far[0], -2.0 * p_far.ln());
        // Every part typical: finite, non-negative scores.
        assert!(typical.iter().all(|s| s.is_finite() && *s >= 0.0));
    }

    #[test]
    fn the_layer_minimum_is_recalibrated_on_set_a() {
        let set = clean();
        let c = Candidates::new(&set).unwrap();
        // On set A itself, the layers' minimum is a conformal p-value of its own sample:
        // (1 + #{set A's minima at least as extreme}) / (n + 1) — not the raw minimum, which
        // is smaller (two layers give two chances to look extreme).
        let mins: Vec<f64> = set
            .iter()
            .map(|r| tippett(&c.comp.layer_p_values(r).unwrap()))
            .collect();
        let mut below_raw = 0;
        for (r, &m) in set.iter().zip(&mins) {
            let at_least = mins.iter().filter(|&&x| x >= m).count();
            assert_eq!(c.gauss_min.p_value(m), (1 + at_least) as f64 / 21.0);
            let raw_min = c
                .comp
                .layer_p_values(r)
                .unwrap()
                .into_iter()
                .fold(1.0, f64::min);
            below_raw += usize::from(raw_min < c.gauss_min.p_value(m));
        }
        assert!(below_raw > 10, "{below_raw} of 20");
        assert_eq!(tippett(&[]), 0.0);
        assert_eq!(tippett(&[0.5, 0.25, 1.0]), -2.0 * 0.25f64.ln());
    }

    #[test]
    fn wrong_layer_counts_are_errors() {
        let c = Candidates::new(&clean()).unwrap();
        let mut bad = raw(0, [0.0, 0.0], 0.0, 0.0);
        bad.gauss.push(1.0);
        assert!(c.scores(&bad).is_err());
    }
}
