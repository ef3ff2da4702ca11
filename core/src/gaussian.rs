//! A class-conditional Gaussian of one layer's features (Lee, Lee, Lee & Shin, NeurIPS 2018,
//! "Mahalanobis"), fitted on clean examples only — without that paper's input
//! preprocessing or its adversarially tuned layer weights.
//!
//! Each class `c` has a mean `μ_c`; all classes share one covariance `Σ`, shrunk toward a
//! multiple of the identity by the Ledoit–Wolf (2004) rule, so it is well conditioned even
//! with more features than the data pins down. The detector's score for an input `f` and the
//! network's answer `y` is the squared Mahalanobis distance to the answered class,
//! `(f − μ_y)ᵀ Σ⁻¹ (f − μ_y)`: high when the layer's features do not look like the answered
//! class — the signature of an input whose answer was pushed across a boundary while some
//! layers stayed behind — and high for inputs unlike any class.
//!
//! Stored as the Cholesky factor `L` of `Σ` ([`crate::cholesky`]) and the whitened means
//! `L⁻¹μ_c`, so a distance is one forward substitution and a sum of squares.

use alloc::vec;
use alloc::vec::Vec;

use crate::cholesky::{cholesky, solve_lower};
use crate::error::{Error, Result, check_finite};

/// A fitted class-conditional Gaussian with a shared, shrunk covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassGaussian {
    dim: usize,
    classes: usize,
    /// Cholesky factor of the shrunk covariance, `dim × dim`, row-major.
    factor: Vec<f64>,
    /// `L⁻¹·μ_c` per class, `classes × dim`.
    whitened_means: Vec<f64>,
    /// The Ledoit–Wolf shrinkage weight γ ∈ [0, 1] the fit chose.
    shrinkage: f64,
}

impl ClassGaussian {
    /// Fits class means and one shared covariance to `features` (`rows × dim`, row-major)
    /// whose classes are `labels` (each `< classes`; every class must occur). The covariance
    /// is the within-class scatter over `rows`, shrunk as `γ·m·I + (1 − γ)·S` with
    /// `m = tr(S)/dim` and γ by Ledoit–Wolf, computed exactly in a second pass.
    pub fn fit(features: &[f32], dim: usize, labels: &[usize], classes: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidParameter {
                name: "dim",
                reason: "must be at least 1",
            });
        }
        if classes == 0 {
            return Err(Error::InvalidParameter {
                name: "classes",
                reason: "must be at least 1",
            });
        }
        if features.len() != labels.len() * dim {
            return Err(Error::DimMismatch {
                expected: labels.len() * dim,
                got: features.len(),
            });
        }
        if labels.is_empty() {
            return Err(Error::Empty { what: "features" });
        }
        check_finite(features)?;
        if let Some(&class) = labels.iter().find(|&&c| c >= classes) {
            return Err(Error::ClassOutOfRange { class, classes });
        }
        let n = labels.len();
        // Pass 1: class means.
        let mut means = vec![0.0f64; classes * dim];
        let mut counts = vec![0usize; classes];
        for (row, &c) in features.chunks_exact(dim).zip(labels) {
            counts[c] += 1;
            for (m, &x) in means[c * dim..][..dim].iter_mut().zip(row) {
                *m += f64::from(x);
            }
        }
        if counts.contains(&0) {
            return Err(Error::Empty {
                what: "class (every class needs at least one example)",
            });
        }
        for (c, &k) in counts.iter().enumerate() {
            means[c * dim..][..dim]
                .iter_mut()
                .for_each(|m| *m /= k as f64);
        }
        // Pass 2: within-class scatter (lower triangle) and Σ‖x − μ‖⁴ for Ledoit–Wolf.
        let mut s = vec![0.0f64; dim * dim];
        let mut fourth = 0.0f64;
        let mut centered = vec![0.0f64; dim];
        for (row, &c) in features.chunks_exact(dim).zip(labels) {
            for ((z, &x), &m) in centered.iter_mut().zip(row).zip(&means[c * dim..][..dim]) {
                *z = f64::from(x) - m;
            }
            let sq: f64 = centered.iter().map(|z| z * z).sum();
            fourth += sq * sq;
            for i in 0..dim {
                let zi = centered[i];
                let out = &mut s[i * dim..][..=i];
                for (o, &zj) in out.iter_mut().zip(&centered[..=i]) {
                    *o += zi * zj;
                }
            }
        }
        let nf = n as f64;
        for i in 0..dim {
            for j in 0..=i {
                s[i * dim + j] /= nf;
            }
        }
        // Ledoit–Wolf: m = tr S / d, d² = ‖S − mI‖², b̄² = (Σ‖x‖⁴ − n‖S‖²)/n² (the centred
        // rows satisfy Σ xᵀSx = n‖S‖²), γ = min(b̄², d²)/d².
        let m = (0..dim).map(|i| s[i * dim + i]).sum::<f64>() / dim as f64;
        let (mut frob, mut off) = (0.0f64, 0.0f64);
        for i in 0..dim {
            for j in 0..=i {
                let v = s[i * dim + j];
                let w = if i == j { 1.0 } else { 2.0 };
                frob += w * v * v;
                let dev = if i == j { v - m } else { v };
                off += w * dev * dev;
            }
        }
        let b2 = ((fourth - nf * frob) / (nf * nf)).max(0.0);
        let shrinkage = if off > 0.0 { b2.min(off) / off } else { 1.0 };
        // A floor keeps constant features (dead units) from making Σ singular.
        let ridge = 1e-9 * m + 1e-12;
        let mut cov = vec![0.0f64; dim * dim];
        for i in 0..dim {
            for j in 0..=i {
                let v = (1.0 - shrinkage) * s[i * dim + j];
                cov[i * dim + j] = if i == j { v + shrinkage * m + ridge } else { v };
            }
        }
        let factor = cholesky(&cov, dim)?;
        let mut whitened_means = means;
        for mu in whitened_means.chunks_exact_mut(dim) {
            solve_lower(&factor, mu);
        }
        Ok(ClassGaussian {
            dim,
            classes,
            factor,
            whitened_means,
            shrinkage,
        })
    }

    /// Reassembles a fitted Gaussian from [`ClassGaussian::factor`] and
    /// [`ClassGaussian::whitened_means`] (e.g. read from a file): the factor must be
    /// `dim × dim`, lower-triangular with a positive diagonal, everything finite.
    pub fn from_parts(
        dim: usize,
        classes: usize,
        factor: Vec<f64>,
        whitened_means: Vec<f64>,
        shrinkage: f64,
    ) -> Result<Self> {
        if dim == 0 || classes == 0 {
            return Err(Error::Empty {
                what: "Gaussian (no features or no classes)",
            });
        }
        if factor.len() != dim * dim {
            return Err(Error::DimMismatch {
                expected: dim * dim,
                got: factor.len(),
            });
        }
        if whitened_means.len() != classes * dim {
            return Err(Error::DimMismatch {
                expected: classes * dim,
                got: whitened_means.len(),
            });
        }
        if let Some(index) = factor
            .iter()
            .chain(&whitened_means)
            .position(|v| !v.is_finite())
        {
            return Err(Error::NonFinite { index });
        }
        for i in 0..dim {
            if factor[i * dim + i] <= 0.0
                || factor[i * dim + i + 1..(i + 1) * dim]
                    .iter()
                    .any(|&v| v != 0.0)
            {
                return Err(Error::InvalidParameter {
                    name: "factor",
                    reason: "not lower-triangular with a positive diagonal",
                });
            }
        }
        if !(0.0..=1.0).contains(&shrinkage) {
            return Err(Error::InvalidParameter {
                name: "shrinkage",
                reason: "must be in [0, 1]",
            });
        }
        Ok(ClassGaussian {
            dim,
            classes,
            factor,
            whitened_means,
            shrinkage,
        })
    }

    /// Feature length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The Cholesky factor `L` of the shared covariance (`dim × dim`, row-major).
    pub fn factor(&self) -> &[f64] {
        &self.factor
    }

    /// `L⁻¹·μ_c` per class (`classes × dim`).
    pub fn whitened_means(&self) -> &[f64] {
        &self.whitened_means
    }

    /// The shrinkage weight γ the fit chose.
    pub fn shrinkage(&self) -> f64 {
        self.shrinkage
    }

    /// Squared Mahalanobis distance of `feature` (length `dim`, finite) to every class mean,
    /// into `out` (length `classes`).
    pub fn distances(&self, feature: &[f32], out: &mut [f64]) -> Result<()> {
        if feature.len() != self.dim {
            return Err(Error::DimMismatch {
                expected: self.dim,
                got: feature.len(),
            });
        }
        if out.len() != self.classes {
            return Err(Error::DimMismatch {
                expected: self.classes,
                got: out.len(),
            });
        }
        check_finite(feature)?;
        let mut z: Vec<f64> = feature.iter().map(|&x| f64::from(x)).collect();
        solve_lower(&self.factor, &mut z);
        for (o, mu) in out
            .iter_mut()
            .zip(self.whitened_means.chunks_exact(self.dim))
        {
            *o = z.iter().zip(mu).map(|(a, b)| (a - b) * (a - b)).sum();
        }
        Ok(())
    }

    /// The detector's score: the squared Mahalanobis distance of `feature` to the mean of
    /// class `answer` (the network's answer). Higher is more anomalous.
    pub fn score(&self, feature: &[f32], answer: usize) -> Result<f64> {
        if answer >= self.classes {
            return Err(Error::ClassOutOfRange {
                class: answer,
                classes: self.classes,
            });
        }
        let mut d = vec![0.0; self.classes];
        self.distances(feature, &mut d)?;
        Ok(d[answer])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uniform values in [−1, 1), seeded.
    fn stream(seed: u64) -> impl FnMut() -> f32 {
        let mut rng = crate::bootstrap::SplitMix64::new(seed);
        move || rng.symmetric()
    }

    #[test]
    fn without_shrinkage_the_distance_is_the_textbook_one() {
        // Two classes in 2-D with many rows: γ is small, and the distance to each class
        // mean is (f − μ)ᵀ Σ⁻¹ (f − μ) for the fitted Σ, checked by a direct 2 × 2 inverse.
        let mut r = stream(7);
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for i in 0..4000 {
            let c = i % 2;
            let (a, b) = (r(), r());
            xs.extend([a + 3.0 * c as f32, 0.5 * a + b]);
            ys.push(c);
        }
        let g = ClassGaussian::fit(&xs, 2, &ys, 2).unwrap();
        assert!(g.shrinkage() < 0.05, "{}", g.shrinkage());
        // Reconstruct Σ = L·Lᵀ and μ_c = L·(L⁻¹μ_c), then the distance by hand.
        let l = g.factor();
        let cov = [l[0] * l[0], l[0] * l[2], l[2] * l[2] + l[3] * l[3]];
        let det = cov[0] * cov[2] - cov[1] * cov[1];
        let f = [2.5f32, 1.0];
        let mut d = [0.0; 2];
        g.distances(&f, &mut d).unwrap();
        for (c, &dc) in d.iter().enumerate() {
            let w = &g.whitened_means()[c * 2..][..2];
            let mu = [l[0] * w[0], l[2] * w[0] + l[3] * w[1]];
            let (u, v) = (f64::from(f[0]) - mu[0], f64::from(f[1]) - mu[1]);
            let want = (cov[2] * u * u - 2.0 * cov[1] * u * v + cov[0] * v * v) / det;
            assert!((dc - want).abs() < 1e-9 * want.max(1.0), "{dc} vs {want}");
        }
        // (2.5, 1) lies near class 1's mean (3, 1.5), far from class 0's (0, 0).
        assert!(d[1] < d[0]);
        assert_eq!(g.score(&f, 1).unwrap(), d[1]);
    }

    #[test]
    fn few_rows_many_features_still_fit_by_shrinking() {
        // 20 rows in 50 dimensions: the scatter is singular, the shrunk covariance is not.
        let mut r = stream(3);
        let xs: Vec<f32> = (0..20 * 50).map(|_| r()).collect();
        let ys: Vec<usize> = (0..20).map(|i| i % 2).collect();
        let g = ClassGaussian::fit(&xs, 50, &ys, 2).unwrap();
        assert!(g.shrinkage() > 0.3, "{}", g.shrinkage());
        let mut d = [0.0; 2];
        g.distances(&xs[..50], &mut d).unwrap();
        assert!(d.iter().all(|v| v.is_finite() && *v >= 0.0));
        // A constant (dead) feature does not make it singular either.
        let dead: Vec<f32> = xs
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % 50 == 0 { 0.0 } else { v })
            .collect();
        assert!(ClassGaussian::fit(&dead, 50, &ys, 2).is_ok());
    }

    #[test]
    fn parts_round_trip_and_bad_input_is_refused() {
        let xs = [0.0f32, 1.0, 1.0, 0.0, 0.5, 0.5, 2.0, 2.0];
        let ys = [0usize, 1, 0, 1];
        let g = ClassGaussian::fit(&xs, 2, &ys, 2).unwrap();
        let h = ClassGaussian::from_parts(
            2,
            2,
            g.factor().to_vec(),
            g.whitened_means().to_vec(),
            g.shrinkage(),
        )
        .unwrap();
        assert_eq!(g, h);
        assert!(
            ClassGaussian::from_parts(2, 2, vec![1.0, 1.0, 0.0, 1.0], vec![0.0; 4], 0.0).is_err()
        );
        assert!(ClassGaussian::from_parts(2, 2, vec![1.0; 3], vec![0.0; 4], 0.0).is_err());
        assert!(ClassGaussian::fit(&xs, 2, &ys, 3).is_err()); // class 2 never occurs
        assert!(ClassGaussian::fit(&xs, 2, &[0, 1, 0, 5], 2).is_err());
        assert!(ClassGaussian::fit(&xs[..7], 2, &ys, 2).is_err());
        assert!(ClassGaussian::fit(&[f32::NAN, 0.0], 2, &[0], 1).is_err());
        assert!(ClassGaussian::fit(&[], 2, &[], 1).is_err());
        assert!(g.score(&[0.0, 0.0], 2).is_err());
        assert!(g.score(&[0.0], 0).is_err());
        assert!(g.score(&[f32::INFINITY, 0.0], 0).is_err());
    }
}
