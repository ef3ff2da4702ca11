//! Exact bounds on cosines from a low-dimensional orthonormal subspace: the screen of the
//! θ-grid pass (libraries, links and predictions of a whole θ grid from one set of nodes).
//!
//! HAPs of a layer lie close to a subspace of far fewer dimensions than the layer has
//! units (measured on the MNIST LeNet: 256 directions leave a residual of ≈ 0.07 of a unit
//! CN1 HAP's length, 0.04 of CN2's; 128 directions, 0.13 and 0.06). With an orthonormal basis `B` (`k × dim`), a unit HAP
//! `x` has coordinates `a = Bx` and a residual `r = x − Bᵀa` orthogonal to them, so for two
//! unit HAPs
//!
//! ```text
//!     x·y = a·b + r_x·r_y,      |r_x·r_y| ≤ ‖r_x‖·‖r_y‖ = ρ(x)·ρ(y),   ρ(x)² = 1 − ‖a‖².
//! ```
//!
//! [`Subspace::bounds`] turns computed coordinates into an interval that **provably holds
//! the canonical similarity** [`crate::similarity::dot`]: `|dot(x, y) − p| ≤ ρ̂(x)·ρ̂(y) +
//! margin`, where `p` is the coordinates' dot product computed in `f32` in any order,
//! `ρ̂ ≥ ρ` is [`Subspace::radius`] and `margin` ([`Subspace::margin`]) covers every
//! rounding: the basis' departure from orthonormality `ε = ‖BBᵀ − I‖_F` (the cross terms
//! `cᵀ(G − G²)d` of the exact decomposition, at most `(1 + ε)²ε/(1 − ε)²`), coordinates
//! computed in `f64` — or, after [`Subspace::with_f32_slices`], as `f32` products of short
//! slices summed in `f64` — and rounded to `f32` (error at most
//! [`Subspace::coordinate_tolerance`] each, `η = √k ×` that in norm), the `f32` dot product
//! of the coordinates ([`crate::similarity::f32_dot_error_bound`]`(k)`), and the canonical dot's own distance from
//! the exact one (`f32_dot_error_bound(dim)`). Decisions taken on the bounds are therefore
//! those of the canonical definition: a node whose upper bound is below a threshold has a
//! canonical similarity below it; one whose lower bound reaches it, at or above it; only
//! the pairs in between are computed in full.
//!
//! The basis only decides how much work is skipped, never a result. The identity basis
//! ([`Subspace::identity`]) is the full computation: coordinates are the HAP itself and the
//! radius 0.

use alloc::vec;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::similarity::f32_dot_error_bound;

/// An orthonormal basis of `k` directions in HAP space, with the constants of its bounds.
#[derive(Debug, Clone)]
pub struct Subspace {
    dim: usize,
    k: usize,
    /// `k × dim`, row-major; empty for the identity.
    basis: Vec<f64>,
    /// The basis rounded to `f32`, and the slice length of the `f32` products that its
    /// coordinates may be computed with (empty and 0 unless [`Subspace::with_f32_slices`]).
    basis_f32: Vec<f32>,
    slice: usize,
    identity: bool,
    eps: f64,
    margin: f32,
}

/// A unit vector's squared norm may exceed 1 by rounding ([`crate::similarity::normalize`]
/// rounds each component of an `f64` quotient once): at most `dim · 2⁻²³`, bounded by this.
fn unit_excess(dim: usize) -> f64 {
    (dim as f64 + 1.0) * libm::ldexp(1.0, -23)
}

impl Subspace {
    /// The identity basis (`k = dim`): coordinates are the HAP, the residual is 0, and the
    /// bounds are those of an `f32` dot product against the canonical one.
    pub fn identity(dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidParameter {
                name: "dim",
                reason: "must be at least 1",
            });
        }
        Ok(Subspace {
            dim,
            k: dim,
            basis: Vec::new(),
            basis_f32: Vec::new(),
            slice: 0,
            identity: true,
            eps: 0.0,
            margin: f32_dot_error_bound(dim) + 1e-6,
        })
    }

    /// Orthonormalizes `directions` (`n × dim`, row-major, any scale) in `f64` by modified
    /// Gram–Schmidt, applied twice; directions that are (numerically) combinations of the
    /// earlier ones are dropped. Errors if none is left, or on a shape mismatch or a
    /// non-finite value.
    pub fn orthonormalize(directions: &[f64], dim: usize) -> Result<Self> {
        if dim == 0 || directions.len() % dim != 0 {
            return Err(Error::DimMismatch {
                expected: directions.len().div_ceil(dim.max(1)) * dim.max(1),
                got: directions.len(),
            });
        }
        if directions.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                index: directions.iter().position(|v| !v.is_finite()).unwrap_or(0),
            });
        }
        let mut basis: Vec<f64> = Vec::with_capacity(directions.len());
        for v in directions.chunks_exact(dim) {
            let mut w = v.to_vec();
            let norm0 = libm::sqrt(w.iter().map(|x| x * x).sum::<f64>());
            if norm0 == 0.0 {
                continue;
            }
            for _ in 0..2 {
                for b in basis.chunks_exact(dim) {
                    let c = dot_f64(&w, b);
                    for (x, y) in w.iter_mut().zip(b) {
                        *x -= c * y;
                    }
                }
            }
            let norm = libm::sqrt(w.iter().map(|x| x * x).sum::<f64>());
            if norm <= 1e-6 * norm0 {
                continue;
            }
            basis.extend(w.iter().map(|x| x / norm));
        }
        let k = basis.len() / dim;
        if k == 0 {
            return Err(Error::Empty {
                what: "subspace basis",
            });
        }
        // ε = ‖BBᵀ − I‖_F, measured on the basis as stored.
        let mut e2 = 0.0;
        for (i, bi) in basis.chunks_exact(dim).enumerate() {
            for (j, bj) in basis.chunks_exact(dim).enumerate().skip(i) {
                let g = dot_f64(bi, bj);
                let d = if i == j { g - 1.0 } else { g };
                e2 += if i == j { d * d } else { 2.0 * d * d };
            }
        }
        // The Gram sums themselves round: at most dim · 2⁻⁵² each.
        let eps = libm::sqrt(e2) + k as f64 * dim as f64 * libm::ldexp(1.0, -52);
        if eps >= 1e-3 {
            return Err(Error::InvalidParameter {
                name: "directions",
                reason: "could not be orthonormalized to 1e-3",
            });
        }
        let mut s = Subspace {
            dim,
            k,
            basis,
            basis_f32: Vec::new(),
            slice: 0,
            identity: false,
            eps,
            margin: 0.0,
        };
        s.margin = s.compute_margin();
        Ok(s)
    }

    /// Allows coordinates computed the fast way: each coordinate `⟨bᵢ, x⟩` as the `f64` sum
    /// of `f32` dot products (any order, FMA or not) of `slice`-element slices of `x` with
    /// the same slices of [`Self::basis_f32`], rounded once to `f32`. A slice's error is at
    /// most `γ_slice·Σ|xⱼbⱼ|` instead of an `f64` sum's `γ_dim·Σ|xⱼbⱼ|` (with `u = 2⁻²⁴`
    /// instead of `2⁻⁵³`), so [`Self::coordinate_tolerance`] and the margin grow a little
    /// (for 3,200-long HAPs and 128-element slices, from `≈ 1e-7` to `≈ 8e-6` per
    /// coordinate), while the products run at `f32` speed on half the memory. The identity,
    /// or `slice = 0`, is left as it is.
    pub fn with_f32_slices(mut self, slice: usize) -> Self {
        if self.identity || slice == 0 {
            return self;
        }
        self.slice = slice.min(self.dim);
        self.basis_f32 = self.basis.iter().map(|&b| b as f32).collect();
        self.margin = self.compute_margin();
        self
    }

    /// The basis rounded to `f32`, `k × dim` row-major: what the `f32` slices of
    /// [`Self::with_f32_slices`] multiply (empty otherwise).
    pub fn basis_f32(&self) -> &[f32] {
        &self.basis_f32
    }

    /// The slice length of [`Self::with_f32_slices`] (0: coordinates in `f64`).
    pub fn f32_slice(&self) -> usize {
        self.slice
    }

    fn compute_margin(&self) -> f32 {
        let eps = self.eps;
        let nu = unit_excess(self.dim);
        let cross = (1.0 + eps) * (1.0 + eps) * eps / ((1.0 - eps) * (1.0 - eps)) * (1.0 + nu);
        let eta = self.eta();
        let norm = libm::sqrt((1.0 + eps) * (1.0 + nu));
        let coords = 2.0 * eta * norm + eta * eta;
        let pdot = f64::from(f32_dot_error_bound(self.k)) * (norm + eta) * (norm + eta);
        let canonical = f64::from(f32_dot_error_bound(self.dim));
        ((cross + coords + pdot + canonical) * 1.01 + 1e-6) as f32
    }

    /// `η`: the most by which computed coordinates (each within
    /// [`Self::coordinate_tolerance`]) can differ from the exact ones in norm.
    fn eta(&self) -> f64 {
        libm::sqrt(self.k as f64) * self.coordinate_tolerance()
    }

    /// HAP length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of directions (the coordinates' length).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Whether this is the identity (the full computation).
    pub fn is_identity(&self) -> bool {
        self.identity
    }

    /// The basis, `k × dim` row-major in `f64` (empty for the identity).
    pub fn basis(&self) -> &[f64] {
        &self.basis
    }

    /// `ε = ‖BBᵀ − I‖_F` (0 for the identity).
    pub fn orthonormality_error(&self) -> f64 {
        self.eps
    }

    /// The additive part of every bound (module docs).
    pub fn margin(&self) -> f32 {
        self.margin
    }

    /// How far each computed coordinate may be from the exact `⟨bᵢ, x⟩`: an `f64` dot
    /// product in any summation order, rounded once to `f32`. A caller computing
    /// coordinates some other way must stay within this.
    pub fn coordinate_tolerance(&self) -> f64 {
        if self.identity {
            return 0.0;
        }
        let nu = unit_excess(self.dim);
        let norm = libm::sqrt((1.0 + self.eps) * (1.0 + nu));
        let gamma = |n: usize, u: f64| n as f64 * u / (1.0 - n as f64 * u);
        let (u24, u53) = (libm::ldexp(1.0, -24), libm::ldexp(1.0, -53));
        let g = if self.slice == 0 {
            // One f64 dot product of `dim` terms: |error| ≤ γ_dim·Σ|xⱼbⱼ| ≤ γ_dim·‖x‖‖b‖.
            gamma(self.dim, u53) * norm
        } else {
            // The basis rounded to f32 moves each term by at most u·|xⱼbⱼ|; each slice's f32
            // sum errs by at most γ_slice times its terms' magnitudes; the f64 sum of the
            // `dim / slice` partial sums by at most γ times theirs.
            let slices = self.dim.div_ceil(self.slice);
            let g32 = gamma(self.slice, u24);
            (u24 + g32 * (1.0 + u24) + gamma(slices, u53) * (1.0 + g32) * (1.0 + u24)) * norm
        };
        // Rounding the result to f32: at most u·|computed| ≤ u·(norm + g).
        (g + u24 * (norm + g)) * 1.01
    }

    /// Coordinates of unit rows (`m × dim`) into `coords` (`m × k`), in portable `f64`
    /// arithmetic (a faster caller may compute them itself within
    /// [`Self::coordinate_tolerance`]).
    pub fn project(&self, unit: &[f32], coords: &mut [f32]) {
        let m = unit.len() / self.dim;
        assert_eq!(coords.len(), m * self.k, "Subspace::project: output length");
        if self.identity {
            coords.copy_from_slice(unit);
            return;
        }
        for (x, out) in unit
            .chunks_exact(self.dim)
            .zip(coords.chunks_exact_mut(self.k))
        {
            for (o, b) in out.iter_mut().zip(self.basis.chunks_exact(self.dim)) {
                *o = x
                    .iter()
                    .zip(b)
                    .map(|(&x, &b)| f64::from(x) * b)
                    .sum::<f64>() as f32;
            }
        }
    }

    /// `ρ̂`: an upper bound on the residual's length of the unit HAP whose computed
    /// coordinates are `coords` (0 for the identity).
    pub fn radius(&self, coords: &[f32]) -> f32 {
        if self.identity {
            return 0.0;
        }
        let a2: f64 = coords.iter().map(|&c| f64::from(c) * f64::from(c)).sum();
        let a = (libm::sqrt(a2) - self.eta()).max(0.0);
        let r2 = (1.0 + unit_excess(self.dim)) - a * a / (1.0 + self.eps);
        (libm::sqrt(r2.max(0.0)) * (1.0 + 1e-6) + 1e-7) as f32
    }

    /// The interval `[lower, upper]` that holds the canonical similarity of two unit HAPs
    /// whose coordinates' dot product (computed in `f32`) is `p` and whose radii are `rx`,
    /// `ry`.
    #[inline]
    pub fn bounds(&self, p: f32, rx: f32, ry: f32) -> (f32, f32) {
        let slack = rx * ry + self.margin;
        (p - slack, p + slack)
    }
}

/// An `f64` dot product in four interleaved sums (any order will do here: the basis only
/// has to be orthonormal to within the ε it reports; four sums keep the adder busy).
fn dot_f64(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Radii of several rows of coordinates (`m × k`).
pub fn radii(subspace: &Subspace, coords: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; coords.len() / subspace.k()];
    for (o, c) in out.iter_mut().zip(coords.chunks_exact(subspace.k())) {
        *o = subspace.radius(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity::{dot, normalize};

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    /// `n` rows near the span of the 6 rows of `centres` (in R^40), plus `noise`.
    fn rows(centres: &[f32], n: usize, noise: f32, seed: &mut u64) -> Vec<f32> {
        let dim = 40;
        let mut out = vec![0.0; n * dim];
        for r in out.chunks_exact_mut(dim) {
            let w: Vec<f32> = (0..6).map(|_| lcg(seed)).collect();
            for (d, o) in r.iter_mut().enumerate() {
                *o = (0..6).map(|c| w[c] * centres[c * dim + d]).sum::<f32>() + noise * lcg(seed);
            }
        }
        out
    }

    #[test]
    fn bounds_hold_the_canonical_similarity() {
        let mut seed = 7;
        let dim = 40;
        let centres: Vec<f32> = (0..6 * dim).map(|_| lcg(&mut seed)).collect();
        for (k, noise) in [(4, 0.3), (6, 0.01), (6, 0.5), (12, 0.2)] {
            let dirs: Vec<f64> = rows(&centres, k, 0.0, &mut seed)
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let s = Subspace::orthonormalize(&dirs, dim).unwrap();
            assert!(s.orthonormality_error() < 1e-12);
            let raw = rows(&centres, 60, noise, &mut seed);
            let mut unit = vec![0.0; raw.len()];
            for (r, u) in raw.chunks_exact(dim).zip(unit.chunks_exact_mut(dim)) {
                assert!(normalize(r, u));
            }
            // Coordinates in f64, and as f32 slices (16, 16 and 8 long) summed in f64.
            let mut coords = vec![0.0; 60 * s.k()];
            s.project(&unit, &mut coords);
            check_bounds(&s, &unit, &coords, k, noise);
            let sliced = s.clone().with_f32_slices(16);
            assert!(sliced.coordinate_tolerance() > s.coordinate_tolerance());
            assert!(sliced.margin() > s.margin());
            let b32 = sliced.basis_f32();
            for (x, out) in unit.chunks_exact(dim).zip(coords.chunks_exact_mut(s.k())) {
                for (o, b) in out.iter_mut().zip(b32.chunks_exact(dim)) {
                    *o = x
                        .chunks(16)
                        .zip(b.chunks(16))
                        .map(|(xs, bs)| {
                            f64::from(xs.iter().zip(bs).map(|(x, b)| x * b).sum::<f32>())
                        })
                        .sum::<f64>() as f32;
                }
            }
            check_bounds(&sliced, &unit, &coords, k, noise);
        }
    }

    /// Every pair's canonical similarity lies within the bounds from `coords`, and (near
    /// the subspace) the bounds are narrow.
    fn check_bounds(s: &Subspace, unit: &[f32], coords: &[f32], k: usize, noise: f32) {
        let dim = s.dim();
        let rad = radii(s, coords);
        let mut tight = 0;
        for i in 0..60 {
            for j in 0..60 {
                let (ci, cj) = (&coords[i * s.k()..][..s.k()], &coords[j * s.k()..][..s.k()]);
                let p: f32 = ci.iter().zip(cj).map(|(a, b)| a * b).sum();
                let (lo, hi) = s.bounds(p, rad[i], rad[j]);
                let d = dot(&unit[i * dim..][..dim], &unit[j * dim..][..dim]);
                assert!(
                    lo <= d && d <= hi,
                    "{lo} ≤ {d} ≤ {hi} (k {k}, noise {noise}, slice {})",
                    s.f32_slice()
                );
                tight += usize::from(hi - lo < 0.1);
            }
        }
        if noise < 0.05 {
            // Near the subspace the bounds are narrow: they are useful, not just true.
            assert_eq!(tight, 3600, "k {k}");
        }
    }

    #[test]
    fn identity_bounds_are_the_kernel_error() {
        let s = Subspace::identity(3).unwrap();
        assert_eq!(s.k(), 3);
        assert_eq!(s.radius(&[0.6, 0.8, 0.0]), 0.0);
        let (lo, hi) = s.bounds(0.5, 0.0, 0.0);
        assert!(lo < 0.5 && hi > 0.5 && hi - lo < 1e-5);
        let mut c = [0.0; 3];
        s.project(&[0.6, 0.8, 0.0], &mut c);
        assert_eq!(c, [0.6, 0.8, 0.0]);
    }

    #[test]
    fn dependent_directions_are_dropped_and_bad_input_refused() {
        let d = [1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        let s = Subspace::orthonormalize(&d, 3).unwrap();
        assert_eq!(s.k(), 2);
        assert!(Subspace::orthonormalize(&[0.0; 6], 3).is_err());
        assert!(Subspace::orthonormalize(&[1.0; 5], 3).is_err());
        assert!(Subspace::orthonormalize(&[f64::NAN, 0.0, 0.0], 3).is_err());
        assert!(Subspace::identity(0).is_err());
    }
}
