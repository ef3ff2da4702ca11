//! # hapscope-models
//!
//! Everything between raw data and `hapscope-core`'s arithmetic: file readers
//! ([`data`]), a BLAS-grade similarity kernel ([`kernel`], feature `gemm`), and the method
//! run end to end on HAP matrices ([`method`]). The `hapscope` command-line tool lives in
//! `src/bin/hapscope/` (feature `cli`).
//!
//! The burn networks (MNIST LeNet, ResNet44), layer taps, PGD and training join this crate
//! with the models issue.
#![deny(missing_docs)]

pub mod data;
#[cfg(feature = "gemm")]
pub mod kernel;
pub mod method;
