//! hapscope's cross-crate tests, built as one binary.

/// Library artifacts: byte-identical across runs; the fuzz corpora decode without panics.
mod artifacts;
/// The models' decoders replay their fuzz corpora without panics.
mod fuzz_corpora;
/// The `gemm` kernel (models) gives the core's exact libraries and predictions at scale.
mod kernels_agree;
/// Shared synthetic data.
mod util;
