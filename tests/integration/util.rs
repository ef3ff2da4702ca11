//! Deterministic clustered HAP-like data: `protos` random directions plus noise, with a
//! spread of noise levels so libraries grow smoothly with θ.

pub fn clustered(rows: usize, dim: usize, protos: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
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
