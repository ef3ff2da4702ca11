//! What a `hapscope reproduce` run covers: rows, θ grids per tap, Table 1's threshold sets,
//! the ε of the attacks, the confusion matrices, and (MNIST) the out-of-training and
//! sparse-sampling studies — the paper's full setting or a fast reduction of it.
//!
//! A plan is only usable when every θ it asks for has a library: [`Plan::check`] verifies
//! that each threshold set's θ and each confusion matrix's θ lies on its tap's grid (and
//! the other invariants the experiments rely on), so no experiment ever falls back to
//! another θ.

use super::detect::{MNIST_SETS, RESNET_SETS, ThresholdSets};
use super::{ExperimentError, Result, require_grid_index, set_grid_indices};
use crate::nets::lenet::{LENET_TAPS, MNIST_MEAN, MNIST_STD};
use crate::nets::resnet44::{IMAGENET_MEAN, IMAGENET_STD, RESNET_TAPS};
use crate::pgd::PgdSpace;

/// What a run covers.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Figure numbers in the paper (MNIST: 2, 3, 5; ResNet: 4, –, the ResNet half of 5).
    pub figs: [&'static str; 3],
    /// The network's tap names, network order.
    pub taps: &'static [&'static str],
    /// Training images the libraries are built from (the first ones).
    pub train_rows: usize,
    /// Test images the agreement is measured on (the first ones).
    pub test_rows: usize,
    /// θ grid per tap.
    pub grids: Vec<Vec<f32>>,
    /// Table 1's threshold sets.
    pub sets: ThresholdSets,
    /// Eq. 3's `a`: 3 for MNIST, 8 for ResNet.
    pub top_a: usize,
    /// Test images attacked (the first ones).
    pub attack_rows: usize,
    /// ε of the pixel-space PGD attacks, ascending.
    pub eps: Vec<f32>,
    /// ε of the paper code's normalized-input attack (empty: not run).
    pub quirk_eps: Vec<f32>,
    /// The space of that attack.
    pub quirk: PgdSpace,
    /// (tap, θ) of each confusion-index matrix (Fig. 3).
    pub confusions: Vec<(&'static str, f32)>,
    /// MNIST only: test images per side of the out-of-training test (§4.2).
    pub ood_rows: Option<usize>,
    /// MNIST only: the K of the sparse-sampling study (§4.3); empty: not run.
    pub sparse_k: Vec<usize>,
}

/// θ from `lo` to `hi` (inclusive) in steps of `step`, rounded to 0.01.
pub fn theta_range(lo: f32, hi: f32, step: f32) -> Vec<f32> {
    (0..)
        .map(|i| ((lo + step * i as f32) * 100.0).round() / 100.0)
        .take_while(|&t| t <= hi + 1e-4)
        .collect()
}

impl Plan {
    /// The MNIST LeNet: Fig. 2, 3 and 5, the out-of-training test and sparse sampling.
    pub fn mnist(fast: bool) -> Plan {
        let grid = if fast {
            theta_range(0.55, 0.85, 0.05)
        } else {
            theta_range(0.4, 0.9, 0.05)
        };
        let eps = if fast {
            vec![0.1, 0.3]
        } else {
            vec![0.05, 0.1, 0.2, 0.3]
        };
        Plan {
            figs: ["2", "3", "5"],
            taps: &LENET_TAPS,
            train_rows: if fast { 6000 } else { 60_000 },
            test_rows: if fast { 1000 } else { 10_000 },
            grids: vec![grid; LENET_TAPS.len()],
            sets: ThresholdSets {
                layers: vec![0, 1, 2, 3],
                sets: MNIST_SETS.iter().map(|s| s.to_vec()).collect(),
            },
            top_a: 3,
            attack_rows: if fast { 50 } else { 200 },
            // The quirk's ε is in normalized units (÷ 0.3081 per pixel unit): the paper's
            // code swept it up to 1.0 (≈ 0.31 in pixels), where its Fig. 5B was measured.
            quirk_eps: if fast {
                vec![0.3]
            } else {
                vec![0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0]
            },
            eps,
            quirk: PgdSpace::NormalizedQuirk {
                mean: vec![MNIST_MEAN],
                std: vec![MNIST_STD],
            },
            confusions: ["CN1", "CN2", "FC1"]
                .iter()
                .flat_map(|&l| [0.65f32, 0.75].map(|t| (l, t)))
                .collect(),
            ood_rows: Some(if fast { 200 } else { 2000 }),
            sparse_k: if fast {
                vec![64, 256]
            } else {
                vec![64, 256, 1024]
            },
        }
    }

    /// ResNet44 on CIFAR-10: Fig. 4 and the ResNet half of Fig. 5. The full grids are the
    /// paper's per-layer θ levels (DESIGN.md) in steps of 0.02; the fast ones keep only the
    /// sets' values (and one θ for CN1, which no set covers).
    pub fn resnet(fast: bool) -> Plan {
        let levels = [
            (0.18, 0.34),
            (0.64, 0.78),
            (0.48, 0.62),
            (0.50, 0.64),
            (0.80, 0.94),
        ];
        let mut grids: Vec<Vec<f32>> = levels
            .iter()
            .map(|&(lo, hi)| theta_range(lo, hi, 0.02))
            .collect();
        if fast {
            grids[0] = vec![0.26];
            for (l, g) in grids.iter_mut().enumerate().skip(1) {
                let mut v: Vec<f32> = RESNET_SETS.iter().map(|s| s[l - 1]).collect();
                v.sort_by(f32::total_cmp);
                v.dedup();
                *g = v;
            }
        }
        let eps: Vec<f32> = if fast {
            vec![8.0 / 255.0]
        } else {
            [2.0, 4.0, 8.0, 16.0].iter().map(|e| e / 255.0).collect()
        };
        Plan {
            figs: ["4", "", "5-resnet"],
            taps: &RESNET_TAPS,
            train_rows: 4000,
            test_rows: 1000,
            grids,
            sets: ThresholdSets {
                layers: vec![1, 2, 3, 4],
                sets: RESNET_SETS.iter().map(|s| s.to_vec()).collect(),
            },
            top_a: 8,
            attack_rows: if fast { 20 } else { 200 },
            quirk_eps: if fast { vec![] } else { eps.clone() },
            eps,
            quirk: PgdSpace::NormalizedQuirk {
                mean: IMAGENET_MEAN.to_vec(),
                std: IMAGENET_STD.to_vec(),
            },
            confusions: Vec::new(),
            ood_rows: None,
            sparse_k: Vec::new(),
        }
    }

    /// The strongest pixel-space ε (the sparse-sampling study's attack).
    pub fn strongest_eps(&self) -> Result<f32> {
        self.eps
            .iter()
            .copied()
            .max_by(f32::total_cmp)
            .ok_or_else(|| ExperimentError::Plan("no ε to attack with".into()))
    }

    /// One θ per tap from threshold set 1, for the sparse-sampling study (which refits only
    /// those): every tap must be covered by the sets.
    pub fn set1_grids(&self) -> Result<Vec<Vec<f32>>> {
        let set1 = self
            .sets
            .sets
            .first()
            .ok_or_else(|| ExperimentError::Plan("no threshold set".into()))?;
        (0..self.taps.len())
            .map(|l| {
                let j = self
                    .sets
                    .layers
                    .iter()
                    .position(|&c| c == l)
                    .ok_or_else(|| {
                        ExperimentError::Plan(format!(
                            "sparse sampling needs a set-1 θ for every tap; {} has none",
                            self.taps[l]
                        ))
                    })?;
                Ok(vec![set1[j]])
            })
            .collect()
    }

    /// Checks the invariants the experiments rely on: one grid per tap, every set's θ and
    /// every confusion matrix's θ on its tap's grid, ε to attack with, and, when sparse
    /// sampling runs, a set-1 θ for every tap.
    pub fn check(&self) -> Result<()> {
        if self.grids.len() != self.taps.len() {
            return Err(ExperimentError::Plan(format!(
                "{} θ grids for {} taps",
                self.grids.len(),
                self.taps.len()
            )));
        }
        if self.sets.is_empty() {
            return Err(ExperimentError::Plan("no threshold set".into()));
        }
        for s in 0..self.sets.len() {
            set_grid_indices(self.taps, &self.grids, &self.sets, s)?;
        }
        for &(layer, theta) in &self.confusions {
            let l = self
                .taps
                .iter()
                .position(|&t| t == layer)
                .ok_or_else(|| ExperimentError::UnknownLayer(layer.to_string()))?;
            require_grid_index(layer, &self.grids[l], theta)?;
        }
        self.strongest_eps()?;
        if !self.sparse_k.is_empty() {
            self.set1_grids()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_plans_hold_their_invariants() {
        for fast in [true, false] {
            Plan::mnist(fast).check().unwrap();
            Plan::resnet(fast).check().unwrap();
        }
        assert_eq!(
            Plan::mnist(true).grids[0],
            [0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85]
        );
        assert_eq!(Plan::mnist(false).grids[0].len(), 11);
        assert_eq!(Plan::resnet(true).grids[1], [0.72, 0.74, 0.76, 0.78]);
        assert_eq!(Plan::resnet(false).grids[4].len(), 8);
        assert_eq!(Plan::mnist(true).strongest_eps().unwrap(), 0.3);
        assert_eq!(
            Plan::mnist(true).set1_grids().unwrap(),
            [[0.55], [0.75], [0.75], [0.8]]
        );
        // ResNet's sets leave CN1 out: no sparse study there.
        assert!(Plan::resnet(true).set1_grids().is_err());
    }

    #[test]
    fn a_set1_theta_off_the_grid_is_an_error() {
        let mut p = Plan::mnist(true);
        p.sets.sets[0][1] = 0.72;
        let e = p.check().unwrap_err();
        assert!(
            matches!(&e, ExperimentError::ThetaOffGrid { layer, .. } if layer == "CN2"),
            "{e}"
        );
        // The full grid does not stand in for a coarser one either.
        let mut p = Plan::mnist(true);
        p.grids[3] = vec![0.55, 0.65];
        assert!(matches!(
            p.check(),
            Err(ExperimentError::ThetaOffGrid { .. })
        ));
    }

    #[test]
    fn other_broken_plans_are_errors() {
        let mut p = Plan::mnist(true);
        p.confusions.push(("CN1", 0.9));
        assert!(matches!(
            p.check(),
            Err(ExperimentError::ThetaOffGrid { .. })
        ));
        let mut p = Plan::mnist(true);
        p.confusions.push(("XX", 0.65));
        assert!(matches!(p.check(), Err(ExperimentError::UnknownLayer(_))));
        let mut p = Plan::mnist(true);
        p.eps.clear();
        assert!(matches!(p.check(), Err(ExperimentError::Plan(_))));
        let mut p = Plan::mnist(true);
        p.grids.pop();
        assert!(matches!(p.check(), Err(ExperimentError::Plan(_))));
        let mut p = Plan::resnet(true);
        p.sparse_k = vec![64];
        assert!(matches!(p.check(), Err(ExperimentError::Plan(_))));
    }
}
