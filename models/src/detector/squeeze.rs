//! Feature squeezing (Xu, Evans & Qi, NDSS 2018), the outside anchor the library detectors
//! are measured against: squeeze the input (fewer bits per pixel; a 2 × 2 median filter),
//! and score the largest L1 distance between the network's softmax on the input and on a
//! squeezed copy. Higher is more anomalous. Only clean inputs set its threshold.
//!
//! Squeezers as in the paper's best joint detectors: MNIST 1-bit depth and a 2 × 2 median;
//! CIFAR-10 5-bit depth and a 2 × 2 median (its third, non-local means, is left out).
//! The 2 × 2 median follows scipy's `median_filter(size=2)` as the authors' code used it:
//! the window at `(i, j)` covers rows `i−1..=i` and columns `j−1..=j` with edges reflected
//! (`mode='reflect'`, so index −1 reads index 0), and the median of four values is the
//! upper middle one (scipy's rank `size²/2`).

use burn::prelude::*;

/// Rounds each value in [0, 1] to `bits` bits: `round(x·(2ᵇ − 1)) / (2ᵇ − 1)`, ties to
/// even (as burn's tensor `round`, so [`squeezed_tensor`] gives the same values).
pub fn reduce_bits(pixels: &[f32], bits: u32) -> Vec<f32> {
    let levels = ((1u32 << bits) - 1) as f32;
    pixels
        .iter()
        .map(|&x| (x.clamp(0.0, 1.0) * levels).round_ties_even() / levels)
        .collect()
}

/// The 2 × 2 median filter of images `[n, c, h, w]` (flattened), each `h × w` plane alone.
pub fn median_2x2(pixels: &[f32], h: usize, w: usize) -> Vec<f32> {
    let mut out = vec![0.0; pixels.len()];
    for (src, dst) in pixels.chunks_exact(h * w).zip(out.chunks_exact_mut(h * w)) {
        for i in 0..h {
            for j in 0..w {
                let (i0, j0) = (i.saturating_sub(1), j.saturating_sub(1));
                let mut v = [
                    src[i0 * w + j0],
                    src[i0 * w + j],
                    src[i * w + j0],
                    src[i * w + j],
                ];
                v.sort_by(f32::total_cmp);
                dst[i * w + j] = v[2];
            }
        }
    }
    out
}

/// The two squeezed copies of images `px` (`[n, c, h, w]` flattened, `h × w` planes):
/// `bits`-bit depth, then the 2 × 2 median — what the network is run on for
/// [`squeeze_scores`].
pub fn squeezed(px: &[f32], h: usize, w: usize, bits: u32) -> [Vec<f32>; 2] {
    [reduce_bits(px, bits), median_2x2(px, h, w)]
}

/// [`squeezed`] on a `[n, c, h, w]` tensor, on its device (the page squeezes where the
/// network runs, and reads nothing back): the same values as the host functions — rounding
/// is the only arithmetic, and the median a selection (the upper middle of four is
/// `max(min(max(a, b), max(c, d)), max(min(a, b), min(c, d)))`).
pub fn squeezed_tensor(x: Tensor<4>, bits: u32) -> [Tensor<4>; 2] {
    let levels = ((1u32 << bits) - 1) as f32;
    let reduced = (x.clone().clamp(0.0, 1.0) * levels).round() / levels;
    let [n, c, h, w] = x.dims();
    // Row i−1 and column j−1, the first row and column reflected onto themselves.
    let up = |t: Tensor<4>| {
        Tensor::cat(
            vec![
                t.clone().slice([0..n, 0..c, 0..1, 0..w]),
                t.slice([0..n, 0..c, 0..h - 1, 0..w]),
            ],
            2,
        )
    };
    let left = |t: Tensor<4>| {
        Tensor::cat(
            vec![
                t.clone().slice([0..n, 0..c, 0..h, 0..1]),
                t.slice([0..n, 0..c, 0..h, 0..w - 1]),
            ],
            3,
        )
    };
    let (a, b, c2, d) = (left(up(x.clone())), up(x.clone()), left(x.clone()), x);
    let (hi1, lo1) = (a.clone().max_pair(b.clone()), a.min_pair(b));
    let (hi2, lo2) = (c2.clone().max_pair(d.clone()), c2.min_pair(d));
    let median = hi1.min_pair(hi2).max_pair(lo1.max_pair(lo2));
    [reduced, median]
}

/// Feature squeezing's scores of images `x` (`[n, c, h, w]` pixels) whose logits `plain`
/// (`n × classes`) are already known: both [`squeezed`] copies through `forward`, on `x`'s
/// device, then [`squeeze_scores`].
pub fn squeeze_batch(
    forward: impl Fn(Tensor<4>) -> Tensor<2>,
    x: &Tensor<4>,
    plain: &[f32],
    bits: u32,
) -> Vec<f64> {
    let [n, c, h, w] = x.dims();
    let device = x.device();
    let px: Vec<f32> = x
        .clone()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 pixels");
    let copies: Vec<Vec<f32>> = squeezed(&px, h, w, bits)
        .into_iter()
        .map(|p| {
            forward(Tensor::<4>::from_data(
                TensorData::new(p, [n, c, h, w]),
                &device,
            ))
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 logits")
        })
        .collect();
    squeeze_scores(plain, &copies, plain.len() / n.max(1))
}

/// `max_s ‖softmax(z) − softmax(z_s)‖₁` per row, from the logits of the input (`plain`,
/// `rows × classes`) and of each squeezed copy (`squeezed[s]`, same shape).
pub fn squeeze_scores(plain: &[f32], squeezed: &[Vec<f32>], classes: usize) -> Vec<f64> {
    let soft = |row: &[f32]| {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f64> = row.iter().map(|&x| f64::from(x - max).exp()).collect();
        let s: f64 = e.iter().sum();
        e.into_iter().map(|x| x / s).collect::<Vec<f64>>()
    };
    plain
        .chunks_exact(classes)
        .enumerate()
        .map(|(i, row)| {
            let p = soft(row);
            squeezed
                .iter()
                .map(|sq| {
                    let q = soft(&sq[i * classes..][..classes]);
                    p.iter().zip(&q).map(|(a, b)| (a - b).abs()).sum::<f64>()
                })
                .fold(0.0, f64::max)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_median_follow_the_reference_definitions() {
        // 0.5 is a tie: to even, 0.
        assert_eq!(
            reduce_bits(&[0.2, 0.5, 0.51, 1.0], 1),
            vec![0.0, 0.0, 1.0, 1.0]
        );
        assert_eq!(reduce_bits(&[0.5], 5), vec![16.0 / 31.0]);
        // 3 × 3 image; reflected edges: (0,0) is its own window.
        let img = [1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0];
        let m = median_2x2(&img, 3, 3);
        // (1,1): {1, 9, 8, 3} → sorted 1 3 8 9 → upper middle 8.
        assert_eq!(m[4], 8.0);
        assert_eq!(m[0], 1.0);
        // (0,1): rows 0,0 cols 0,1 → {1, 9, 1, 9} → 9.
        assert_eq!(m[1], 9.0);
    }

    #[test]
    fn the_tensor_squeezers_give_the_host_values() {
        let (n, c, h, w) = (2, 3, 5, 4);
        let px: Vec<f32> = (0..n * c * h * w)
            .map(|i| ((i * 37 % 101) as f32) / 100.0)
            .collect();
        let t = Tensor::<4>::from_data(TensorData::new(px.clone(), [n, c, h, w]), &Device::flex());
        for bits in [1, 5] {
            let host = squeezed(&px, h, w, bits);
            let dev = squeezed_tensor(t.clone(), bits);
            for (hs, ds) in host.iter().zip(dev) {
                let ds: Vec<f32> = ds.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
                assert_eq!(hs, &ds, "bits {bits}");
            }
        }
    }

    #[test]
    fn the_score_is_the_largest_l1_between_softmaxes() {
        let plain = [0.0f32, 0.0];
        let same = vec![0.0f32, 0.0];
        let far = vec![100.0f32, 0.0];
        let s = squeeze_scores(&plain, &[same, far], 2);
        assert!((s[0] - 1.0).abs() < 1e-9, "{s:?}");
    }
}
