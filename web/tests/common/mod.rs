//! What the wasm tests share: the committed weights and four synthetic digits.

#![allow(dead_code)] // each test binary uses a part

/// The committed MNIST weights (the page ships the same file).
pub const WEIGHTS: &[u8] = include_bytes!("../../../models/weights/mnist-lenet.safetensors");

/// Four deterministic "digits" in [0, 1], 784 values each: soft vertical strokes at
/// different places.
pub fn digits() -> Vec<f32> {
    (0..4 * 784)
        .map(|i| {
            let (k, p) = (i / 784, i % 784);
            let (x, y) = ((p % 28) as f32, (p / 28) as f32);
            let d = (x - 8.0 - 3.0 * k as f32).abs() + (y - 14.0).abs() * 0.3;
            (1.0 - d / 4.0).clamp(0.0, 1.0)
        })
        .collect()
}

/// The same digits as bytes, as a bundle ships exemplars.
pub fn digit_bytes() -> Vec<u8> {
    digits()
        .into_iter()
        .map(|v| (v * 255.0).round() as u8)
        .collect()
}
