//! The canonical similarity ([`hapscope_core::similarity::dot`], [`dot4`]) computed with
//! 256-bit AVX when the CPU has it. The canonical sum is eight lanes, each multiplied then
//! added in order, reduced in a fixed tree; one AVX register holds exactly those eight lanes
//! and `mul` + `add` (never fused) round as the scalar code does, so the bits are the same
//! (tested against the core on every call shape in `tests`). Elsewhere, the core's code.

use hapscope_core::similarity::{dot, dot4};

/// `dot(a, b)`, bit for bit.
#[inline]
pub(super) fn cdot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") && a.len() == b.len() {
        // SAFETY: AVX is present (checked above) and the lengths are equal.
        return unsafe { avx::dot4_avx(a, [b, b, b, b], 1)[0] };
    }
    dot(a, b)
}

/// `dot4(a, b)`, bit for bit.
#[inline]
pub(super) fn cdot4(a: &[f32], b: [&[f32]; 4]) -> [f32; 4] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") && b.iter().all(|b| b.len() == a.len()) {
        // SAFETY: AVX is present (checked above) and the lengths are equal.
        return unsafe { avx::dot4_avx(a, b, 4) };
    }
    dot4(a, b)
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use hapscope_core::similarity::{LANES, reduce};
    use std::arch::x86_64::*;

    /// The first `n ≤ 4` of `dot(a, b[r])`.
    ///
    /// # Safety
    /// The CPU must have AVX; every `b[r]` must be as long as `a`.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn dot4_avx(a: &[f32], b: [&[f32]; 4], n: usize) -> [f32; 4] {
        let chunks = a.len() / LANES;
        let mut acc = [_mm256_setzero_ps(); 4];
        for c in 0..chunks {
            // SAFETY: c·8 + 8 ≤ len for every slice (equal lengths, c < len / 8).
            let x = unsafe { _mm256_loadu_ps(a.as_ptr().add(c * LANES)) };
            for r in 0..n {
                let y = unsafe { _mm256_loadu_ps(b[r].as_ptr().add(c * LANES)) };
                acc[r] = _mm256_add_ps(acc[r], _mm256_mul_ps(x, y));
            }
        }
        let tail = chunks * LANES;
        let mut out = [0.0f32; 4];
        for r in 0..n {
            let mut lanes = [0.0f32; LANES];
            // SAFETY: `lanes` holds eight floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[r]) };
            for (l, (x, y)) in a[tail..].iter().zip(&b[r][tail..]).enumerate() {
                lanes[l] += x * y;
            }
            out[r] = reduce(&lanes);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bits_as_the_core() {
        let mut s = 0x1234_5678_u64;
        let mut rnd = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        for dim in [1, 5, 8, 9, 16, 100, 3200, 11_520, 11_523] {
            let v: Vec<Vec<f32>> = (0..5).map(|_| (0..dim).map(|_| rnd()).collect()).collect();
            let four = cdot4(&v[0], [&v[1], &v[2], &v[3], &v[4]]);
            let core4 = dot4(&v[0], [&v[1], &v[2], &v[3], &v[4]]);
            for r in 0..4 {
                let want = dot(&v[0], &v[r + 1]);
                assert_eq!(
                    cdot(&v[0], &v[r + 1]).to_bits(),
                    want.to_bits(),
                    "dim {dim}"
                );
                assert_eq!(four[r].to_bits(), want.to_bits(), "dim {dim}");
                assert_eq!(core4[r].to_bits(), want.to_bits(), "dim {dim}");
            }
        }
    }
}
