//! Cholesky factorization and triangular solves, in f64, for the class-conditional
//! Gaussian detector ([`crate::gaussian`]): `A = L·Lᵀ` for a symmetric positive definite
//! `A`, then `L⁻¹·b` by forward substitution.
//!
//! Matrices are dense and row-major (`n × n` values); only the lower triangle of the input
//! is read, and the factor's upper triangle is zero.

use alloc::vec;
use alloc::vec::Vec;

use crate::error::{Error, Result};

/// The lower-triangular Cholesky factor `L` of the symmetric positive definite `a`
/// (`n × n`, row-major; only its lower triangle is read). Errors when `a` has the wrong
/// length, holds a non-finite value, or is not positive definite (a pivot ≤ 0).
pub fn cholesky(a: &[f64], n: usize) -> Result<Vec<f64>> {
    if n == 0 {
        return Err(Error::Empty { what: "matrix" });
    }
    if a.len() != n * n {
        return Err(Error::DimMismatch {
            expected: n * n,
            got: a.len(),
        });
    }
    if let Some(index) = a.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { index });
    }
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                // `is_nan` too: a NaN pivot compares false to everything.
                if s <= 0.0 || s.is_nan() {
                    return Err(Error::InvalidParameter {
                        name: "covariance",
                        reason: "not positive definite",
                    });
                }
                l[i * n + i] = libm::sqrt(s);
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Ok(l)
}

/// Solves `L·x = b` in place (`b` becomes `x`) for the lower-triangular `l` (`n × n`) that
/// [`cholesky`] returned. `b.len()` must be `n`.
pub fn solve_lower(l: &[f64], b: &mut [f64]) {
    let n = b.len();
    debug_assert_eq!(l.len(), n * n);
    for i in 0..n {
        let row = &l[i * n..][..i];
        let s: f64 = row.iter().zip(&b[..i]).map(|(x, y)| x * y).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul_llt(l: &[f64], n: usize) -> Vec<f64> {
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| l[i * n + k] * l[j * n + k]).sum();
            }
        }
        a
    }

    #[test]
    fn factor_times_its_transpose_is_the_matrix() {
        // A = MᵀM + I is symmetric positive definite.
        let n = 5;
        let m: Vec<f64> = (0..n * n)
            .map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| m[k * n + i] * m[k * n + j]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let l = cholesky(&a, n).unwrap();
        for (x, y) in matmul_llt(&l, n).iter().zip(&a) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        // Upper triangle is zero; L·(L⁻¹b) = b.
        assert!((0..n).all(|i| (i + 1..n).all(|j| l[i * n + j] == 0.0)));
        let b: Vec<f64> = (0..n).map(|i| i as f64 - 2.0).collect();
        let mut x = b.clone();
        solve_lower(&l, &mut x);
        for i in 0..n {
            let back: f64 = (0..=i).map(|k| l[i * n + k] * x[k]).sum();
            assert!((back - b[i]).abs() < 1e-12);
        }
    }

    #[test]
    fn refuses_what_it_cannot_factor() {
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_err()); // indefinite
        assert!(cholesky(&[0.0], 1).is_err()); // singular
        assert!(cholesky(&[1.0, 0.0, 0.0], 2).is_err()); // wrong length
        assert!(cholesky(&[f64::NAN], 1).is_err());
        assert!(cholesky(&[], 0).is_err());
    }
}
