//! Other combinations of the detectors' parts, scored beside [`Detector::ALL`](super::Detector)
//! from a report's raw evidence — candidates for the page's verdict, not on the page.
//!
//! The parts are [`Components`]' own, calibrated on the same clean set A; only how they are
//! combined differs. Both keep every layer's Gaussian p-value as a part of its own (where
//! [`Detector::MinGaussMin`](super::Detector::MinGaussMin), promoted from this list, keeps
//! only the most extreme layer):
//!
//! - **`min-7`**: Tippett's `−2 ln min p` over seven parts — each layer's Gaussian p-value,
//!   the k-NN sum, CPL (Eq. 5) and squeezing.
//! - **`fisher-7`**: Fisher's `−2 Σ ln p` over the seven parts of `min-7`.
//!
//! Clean data only, as everywhere in [`super`]: set A gives every p-value; a candidate's
//! thresholds come from its scores on set B, like any statistic's.

use hapscope_core::calibrate::fisher;

use super::{Components, RawScores, tippett};

/// Number of candidate combinations.
pub const CANDIDATES: usize = 2;

/// Stable names of the candidates, in score order.
pub const CANDIDATE_NAMES: [&str; CANDIDATES] = ["min-7", "fisher-7"];

/// The candidates' calibrations: [`Components`]' own.
#[derive(Debug, Clone)]
pub struct Candidates {
    comp: Components,
}

impl Candidates {
    /// From the raw scores of clean calibration set A (the set [`Components::new`] takes).
    pub fn new(clean: &[RawScores]) -> hapscope_core::Result<Self> {
        Ok(Candidates {
            comp: Components::new(clean)?,
        })
    }

    /// One input's candidate scores, in [`CANDIDATE_NAMES`] order (higher = more anomalous).
    pub fn scores(&self, r: &RawScores) -> hapscope_core::Result<[f64; CANDIDATES]> {
        let layers = self.comp.layer_p_values(r)?;
        let [knn, _, cpl, squeeze] = self.comp.part_p_values(r, &layers)?;
        let mut seven = layers;
        seven.extend([knn, cpl, squeeze]);
        Ok([tippett(&seven), fisher(&seven)?])
    }
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

    use crate::detector::tests::clean_parts as clean;

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
    fn wrong_layer_counts_are_errors() {
        let c = Candidates::new(&clean()).unwrap();
        let mut bad = raw(0, [0.0, 0.0], 0.0, 0.0);
        bad.gauss.push(1.0);
        assert!(c.scores(&bad).is_err());
    }
}
