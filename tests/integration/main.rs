//! hapscope's cross-crate tests, built as one binary.

/// Library artifacts: byte-identical across runs.
mod artifacts;
/// Every fuzz corpus (the core's artifact decoder, the models' decoders) replays without
/// panics, checksums recomputed so the inputs reach the decoders behind them.
mod fuzz_corpora;
/// The θ-grid pass (models) equals the one-θ-at-a-time definitions, bit for bit.
mod grid;
/// The `gemm` kernel (models) gives the core's exact libraries, links and predictions.
mod kernels_agree;
/// Shared synthetic data.
mod util;
