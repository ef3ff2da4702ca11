//! # hapscope-models
//!
//! Everything between raw data and `hapscope-core`'s arithmetic: file readers
//! ([`data`]); the method at scale on HAP matrices — a BLAS-grade similarity kernel
//! ([`kernel`], feature `gemm`), [`method`], the θ-[`grid`] pass — is `hapscope-fast`'s,
//! re-exported here. The `hapscope` command-line tool lives in
//! `src/bin/hapscope/` (feature `cli`).
//!
//! The burn networks ([`nets`]: the paper-time MNIST LeNet, ResNet44) expose their hidden
//! layers by name ([`taps`]); [`network`] is either one, loaded, for the CLI and the page; [`train`] trains the LeNet as the paper's code did and [`weights`]
//! loads and saves weights; [`pgd`] attacks them; [`experiment`] runs the paper's
//! experiments. Natively they run on burn's CPU backend (flex).
//!
//! [`page`] is what the web page runs (its bundle and analysis), [`digit`] turns a drawing
//! or a photo into an MNIST-style digit, and [`image_header`] refuses an upload by its header
//! before the browser decodes it.
#![deny(missing_docs)]

pub mod data;
pub mod detector;
pub mod digit;
pub mod experiment;
pub mod image_header;
pub mod nets;
pub mod network;
pub mod page;
pub mod pgd;
pub mod taps;
pub mod train;
pub mod weights;

#[cfg(feature = "gemm")]
pub use hapscope_fast::kernel;
pub use hapscope_fast::{grid, method};
