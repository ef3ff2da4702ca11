//! # hapscope-fast
//!
//! The library method at scale, on host HAP matrices — what the CLI, the page's bundle
//! builder and the Python package share, with no network in sight (the networks are
//! `hapscope-models`'). The arithmetic is `hapscope-core`'s; this crate streams rows through
//! it quickly:
//!
//! - [`kernel`] (feature `gemm`): a BLAS-grade similarity kernel;
//! - [`method`]: build a layer's library, link it to the network's answers (Eq. 2), predict
//!   (Eq. 3), in blocks, with a progress callback;
//! - [`grid`]: every library of a θ grid in one pass, bit for bit the sequential ones;
//! - [`detector`]: the attack-agnostic detectors — fitted layers, raw evidence, clean
//!   calibration, Fisher's and Tippett's fusions.
#![deny(missing_docs)]

pub mod detector;
pub mod grid;
#[cfg(feature = "gemm")]
pub mod kernel;
pub mod method;
