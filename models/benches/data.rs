//! Deterministic synthetic HAPs for the benchmarks.

/// A fast xorshift stream of uniform values in [−1, 1).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    #[inline]
    pub fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// `n × dim` values uniform in [−1, 1).
pub fn uniform(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n * dim).map(|_| r.next_f32()).collect()
}

/// `n × dim` unit rows.
pub fn unit_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut v = uniform(n, dim, seed);
    for row in v.chunks_exact_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// `rows × dim` HAPs in `clusters` clusters: a random centre plus uniform noise of scale
/// `sigma` (within-cluster cosine ≈ 1 / (1 + σ²), across clusters ≈ 0), cluster chosen
/// at random per row. At θ between those two, the library holds one node per cluster.
pub fn clustered(rows: usize, dim: usize, clusters: usize, sigma: f32, seed: u64) -> Vec<f32> {
    let centres = uniform(clusters, dim, seed);
    let mut r = Rng::new(seed ^ 0xABCD);
    let mut out = Vec::with_capacity(rows * dim);
    for _ in 0..rows {
        let c = (((r.next_f32() + 1.0) / 2.0 * clusters as f32) as usize).min(clusters - 1);
        out.extend(
            centres[c * dim..][..dim]
                .iter()
                .map(|&x| x + sigma * r.next_f32()),
        );
    }
    out
}
