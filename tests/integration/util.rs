//! Deterministic clustered HAP-like data: `protos` random directions plus noise, with a
//! spread of noise levels so libraries grow smoothly with θ.

/// A seeded xorshift stream of values uniform in [−1, 1).
fn uniform(seed: u64) -> impl FnMut() -> f32 {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

pub fn clustered(rows: usize, dim: usize, protos: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rnd = uniform(seed);
    let centres: Vec<f32> = (0..protos * dim).map(|_| rnd()).collect();
    let mut data = Vec::with_capacity(rows * dim);
    let mut answers = Vec::with_capacity(rows);
    for _ in 0..rows {
        let c = (((rnd() + 1.0) / 2.0 * protos as f32) as usize).min(protos - 1);
        let noise = 0.3 + 0.5 * (rnd() + 1.0);
        data.extend(centres[c * dim..][..dim].iter().map(|&x| x + noise * rnd()));
        answers.push(c % 10);
    }
    (data, answers)
}

/// Rows near a `rank`-dimensional subspace (random mixtures of `rank` directions plus
/// `noise`), answers by the dominant direction: the kind of data the θ-grid screen's
/// subspace bounds are tight on (as real conv HAPs are).
pub fn low_rank(
    rows: usize,
    dim: usize,
    rank: usize,
    noise: f32,
    seed: u64,
) -> (Vec<f32>, Vec<usize>) {
    let mut rnd = uniform(seed);
    let dirs: Vec<f32> = (0..rank * dim).map(|_| rnd()).collect();
    let mut data = Vec::with_capacity(rows * dim);
    let mut answers = Vec::with_capacity(rows);
    for _ in 0..rows {
        let w: Vec<f32> = (0..rank).map(|_| rnd().powi(3)).collect();
        let top = (0..rank)
            .max_by(|&a, &b| w[a].abs().total_cmp(&w[b].abs()))
            .unwrap_or(0);
        data.extend(
            (0..dim)
                .map(|d| (0..rank).map(|r| w[r] * dirs[r * dim + d]).sum::<f32>() + noise * rnd()),
        );
        answers.push(top % 10);
    }
    (data, answers)
}
