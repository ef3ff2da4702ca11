//! Cosine similarity of hidden-layer activity patterns (HAPs): the canonical definition.
//!
//! Lee (2019) prints Eq. 1 as `h = f·g / ‖f‖²`, a typo: the published code (and docs/method.md)
//! use the **cosine**, so a stored pattern shown again scores 1. hapscope fixes one exact
//! procedure so that every build (batched or not, native or wasm, plain or BLAS kernel)
//! agrees bit for bit:
//!
//! 1. [`normalize`]: a HAP `v` becomes `u = v / ‖v‖₂`, with the norm accumulated in `f64`
//!    in index order and each component rounded once to `f32`. A zero vector has no
//!    direction: it is reported as such and scores 0 against everything.
//! 2. [`dot`]: the similarity of two unit vectors is their dot product, accumulated in eight
//!    `f32` lanes (lane `l` sums the products at indices `≡ l (mod 8)`, in increasing order)
//!    and reduced as `((l0+l4)+(l1+l5)) + ((l2+l6)+(l3+l7))`. Eight lanes map onto two SSE /
//!    wasm-simd128 registers or one AVX register without changing the result.
//!
//! Because of `f32` rounding, `dot(u, u)` is 1 only to within `dim·2⁻²⁴`.
//! Faster kernels (see [`crate::kernel`]) may sum in another order; they declare a bound on
//! their deviation from [`dot`] and the library builder re-checks every decision that falls
//! within it, so results stay those of this definition.

/// Number of independent accumulators in [`dot`]; part of the definition of the result.
pub const LANES: usize = 8;

/// Writes `v / ‖v‖₂` into `out` and returns `true`, or writes zeros and returns `false`
/// when `v` is the zero vector (or its norm underflows).
///
/// # Panics
/// If `out.len() != v.len()`.
pub fn normalize(v: &[f32], out: &mut [f32]) -> bool {
    assert_eq!(v.len(), out.len(), "normalize: output length");
    let sq: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    scale_to_unit(v, sq, out)
}

/// [`normalize`] of each `dim`-long row of `raw` into `unit`, recording which rows were
/// non-zero — the same bits as row by row. The sums of squares are serial chains of `f64`
/// additions (index order is part of the definition), so eight rows' chains run interleaved:
/// eight additions in flight instead of one, each row still summed in its own order.
///
/// # Panics
/// If `unit` is not as long as `raw`, or `nonzero` not one per row.
pub fn normalize_rows(raw: &[f32], dim: usize, unit: &mut [f32], nonzero: &mut [bool]) {
    const ROWS: usize = 8;
    assert!(
        dim > 0 && unit.len() == raw.len() && nonzero.len() == raw.len() / dim,
        "normalize_rows: lengths"
    );
    let mut raw_blocks = raw.chunks_exact(ROWS * dim);
    let mut unit_blocks = unit.chunks_exact_mut(ROWS * dim);
    let mut nz_blocks = nonzero.chunks_exact_mut(ROWS);
    for ((r, u), nz) in (&mut raw_blocks).zip(&mut unit_blocks).zip(&mut nz_blocks) {
        normalize_block::<ROWS>(r, dim, u, nz);
    }
    for ((r, u), z) in raw_blocks
        .remainder()
        .chunks_exact(dim)
        .zip(unit_blocks.into_remainder().chunks_exact_mut(dim))
        .zip(nz_blocks.into_remainder())
    {
        *z = normalize(r, u);
    }
}

/// [`normalize_rows`] of `R` rows. A call per block, not one loop over every row: a
/// WebAssembly engine (V8) runs a function's first calls in its baseline compiler and
/// switches to the optimised code only from a later call, so one call over a page's 25 MB of
/// node rows would run unoptimised throughout.
#[inline(never)]
fn normalize_block<const R: usize>(r: &[f32], dim: usize, u: &mut [f32], nz: &mut [bool]) {
    let rows: [&[f32]; R] = core::array::from_fn(|l| &r[l * dim..][..dim]);
    let mut sq = [0.0f64; R];
    for i in 0..dim {
        for (s, row) in sq.iter_mut().zip(&rows) {
            let x = f64::from(row[i]);
            *s += x * x;
        }
    }
    for ((row, out), (s, z)) in rows
        .iter()
        .zip(u.chunks_exact_mut(dim))
        .zip(sq.iter().zip(nz.iter_mut()))
    {
        *z = scale_to_unit(row, *s, out);
    }
}

/// The rest of [`normalize`], given `v`'s sum of squares `sq` (accumulated in index order).
fn scale_to_unit(v: &[f32], sq: f64, out: &mut [f32]) -> bool {
    let norm = libm::sqrt(sq);
    if norm.is_nan() || norm <= 0.0 || !norm.is_finite() {
        out.fill(0.0);
        return false;
    }
    let inv = 1.0 / norm;
    for (o, &x) in out.iter_mut().zip(v) {
        *o = (f64::from(x) * inv) as f32;
    }
    // A positive norm can still round every component to zero (subnormal inputs).
    out.iter().any(|&x| x != 0.0)
}

/// The canonical similarity: the dot product of two (unit) vectors, summed as described in
/// the module docs.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot: lengths differ");
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    for (l, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
        acc[l] += x * y;
    }
    reduce(&acc)
}

/// Four canonical similarities of `a` at once: `[dot(a, b[0]), …, dot(a, b[3])]`, each
/// summed exactly as [`dot`] sums it (same lanes, same order), so bit-identical. Four
/// independent accumulations keep the adder busy where one [`dot`] waits on its own sums.
///
/// # Panics
/// If any length differs from `a`'s.
pub fn dot4(a: &[f32], b: [&[f32]; 4]) -> [f32; 4] {
    assert!(b.iter().all(|b| b.len() == a.len()), "dot4: lengths differ");
    let chunks = a.len() / LANES;
    let mut acc = [[0.0f32; LANES]; 4];
    #[allow(clippy::needless_range_loop)] // indexed loops vectorize here; iterators did not
    for c in 0..chunks {
        let x: &[f32; LANES] = a[c * LANES..][..LANES].try_into().expect("chunk");
        for r in 0..4 {
            let y: &[f32; LANES] = b[r][c * LANES..][..LANES].try_into().expect("chunk");
            for l in 0..LANES {
                acc[r][l] += x[l] * y[l];
            }
        }
    }
    let tail = chunks * LANES;
    let mut out = [0.0f32; 4];
    for r in 0..4 {
        let mut lanes = acc[r];
        for (l, (x, y)) in a[tail..].iter().zip(&b[r][tail..]).enumerate() {
            lanes[l] += x * y;
        }
        out[r] = reduce(&lanes);
    }
    out
}

/// The fixed reduction order of the eight lanes.
#[inline(always)]
pub fn reduce(acc: &[f32; LANES]) -> f32 {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// Cosine similarity of two raw (not normalized) vectors, following the canonical
/// procedure; 0 when either is the zero vector.
///
/// Allocates two temporaries; hot loops should normalize once and call [`dot`].
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let mut ua = alloc::vec![0.0; a.len()];
    let mut ub = alloc::vec![0.0; b.len()];
    if !normalize(a, &mut ua) || !normalize(b, &mut ub) {
        return 0.0;
    }
    dot(&ua, &ub)
}

/// A bound on `|fast − dot(a, b)|` for unit vectors of length `dim`, valid for **any**
/// summation order with `f32` accumulators (with or without fused multiply-add).
///
/// Classical error analysis gives `|computed − exact| ≤ γ_n Σ|aᵢbᵢ|` with
/// `γ_n = n·u / (1 − n·u)`, `u = 2⁻²⁴`, for every summation tree of height ≤ n; for unit
/// vectors `Σ|aᵢbᵢ| ≤ 1 + O(u)`. Two such errors (the fast result's and [`dot`]'s) add up,
/// hence the factor 2; the 1.01 and the additive `2⁻²⁰` absorb the `O(u)` terms.
pub fn f32_dot_error_bound(dim: usize) -> f32 {
    let nu = dim as f64 * libm::ldexp(1.0, -24);
    if nu >= 0.5 {
        return f32::INFINITY;
    }
    let gamma = nu / (1.0 - nu);
    (2.0 * gamma * 1.01 + libm::ldexp(1.0, -20)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn normalize_rows_is_normalize_row_by_row_bit_for_bit() {
        for (rows, dim) in [(1, 5), (8, 3), (19, 301), (16, 1)] {
            let mut raw: Vec<f32> = (0..rows * dim)
                .map(|i| ((i * 7919) % 1013) as f32 / 1013.0 - 0.41)
                .collect();
            // A zero row, a subnormal one (its norm underflows to 0), one of huge values.
            raw[..dim].fill(0.0);
            if rows > 2 {
                raw[dim..2 * dim].fill(1e-45);
                raw[2 * dim..3 * dim].fill(3e38);
            }
            let mut unit = alloc::vec![1.0; raw.len()];
            let mut nonzero = alloc::vec![true; rows];
            normalize_rows(&raw, dim, &mut unit, &mut nonzero);
            for r in 0..rows {
                let mut want = alloc::vec![0.0; dim];
                let nz = normalize(&raw[r * dim..][..dim], &mut want);
                assert_eq!(nonzero[r], nz, "row {r} of {rows} × {dim}");
                let got = &unit[r * dim..][..dim];
                assert!(
                    got.iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "row {r} of {rows} × {dim}"
                );
            }
            assert!(!nonzero[0]);
        }
    }

    #[test]
    fn dot4_is_four_dots_bit_for_bit() {
        for dim in [1, 7, 8, 13, 64, 301] {
            let v: Vec<Vec<f32>> = (0..5)
                .map(|r| {
                    (0..dim)
                        .map(|i| ((i * 37 + r * 101) % 97) as f32 / 97.0 - 0.31)
                        .collect()
                })
                .collect();
            let got = dot4(&v[0], [&v[1], &v[2], &v[3], &v[4]]);
            for r in 0..4 {
                assert_eq!(
                    got[r].to_bits(),
                    dot(&v[0], &v[r + 1]).to_bits(),
                    "dim {dim}"
                );
            }
        }
    }

    #[test]
    fn zero_vector_has_no_direction() {
        let mut out = [1.0; 5];
        assert!(!normalize(&[0.0; 5], &mut out));
        assert_eq!(out, [0.0; 5]);
        assert_eq!(cosine(&[0.0; 3], &[1.0, 2.0, 3.0]), 0.0);
    }

    #[test]
    fn stored_pattern_scores_one_within_rounding() {
        let v: Vec<f32> = (0..11_520)
            .map(|i| ((i * 7919) % 1000) as f32 / 300.0 - 1.2)
            .collect();
        let mut u = alloc::vec![0.0; v.len()];
        assert!(normalize(&v, &mut u));
        let s = dot(&u, &u);
        assert!(
            (1.0 - s).abs() <= v.len() as f32 * f32::EPSILON / 2.0,
            "{s}"
        );
    }

    #[test]
    fn dot_matches_f64_reference() {
        for n in [0, 1, 7, 8, 9, 63, 500] {
            let a: Vec<f32> = (0..n).map(|i| libm::sinf(i as f32)).collect();
            let b: Vec<f32> = (0..n).map(|i| libm::cosf(i as f32 * 0.3)).collect();
            let exact: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            let got = f64::from(dot(&a, &b));
            assert!(
                (got - exact).abs() < 1e-5 * (1.0 + n as f64),
                "n={n}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn cosine_is_scale_invariant() {
        let a = [1.0, -2.0, 3.0, 0.5];
        let b = [2.0, -4.0, 6.0, 1.0];
        assert!((cosine(&a, &b) - 1.0).abs() < 1e-6);
        assert!((cosine(&a, &[-1.0, 2.0, -3.0, -0.5]) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn error_bound_grows_with_dim() {
        assert!(f32_dot_error_bound(10) < f32_dot_error_bound(11_520));
        assert!(f32_dot_error_bound(11_520) < 2e-3);
    }
}
