//! # hapscope-core
//!
//! The arithmetic of Jung Hoon Lee's *library networks* (2019): how to see, layer by layer,
//! what a trained network's hidden activity says about its answer, and how consistent the
//! layers are — which drops when the network is being fooled.
//!
//! - [`library`]: novelty memories of hidden-layer activity patterns (HAPs) with a cosine
//!   threshold θ, built one at a time or batched with identical results.
//! - [`hebbian`]: links from library nodes to the network's answers (Eq. 2).
//! - [`predict`]: per-layer prediction of the answer (Eq. 3), top-k.
//! - [`confusion`]: the confusion index (Eq. 4, the code's and the printed definition).
//! - [`cpl`]: consistency of predictions across layers (Eq. 5 and the code's variant).
//! - [`auroc`]: the Mann–Whitney AUROC, to score CPL as a detector; [`bootstrap`]: its
//!   confidence interval.
//! - Detectors beyond CPL, fitted and calibrated on clean inputs only: [`conformity`]
//!   (library k-NN, Deep k-NN's idea on the libraries), [`gaussian`] (class-conditional
//!   Gaussian, Mahalanobis, with [`cholesky`]), and [`calibrate`] (empirical p-values,
//!   Fisher's fusion, thresholds at a false-positive rate).
//! - [`artifact`]: a versioned, checksummed binary format for built libraries.
//! - [`similarity`] and [`kernel`]: the canonical cosine and the seam for faster kernels;
//!   [`screen`]: an exact shortcut that makes large builds several times cheaper.
//!
//! The crate is `#![no_std]` with `alloc`, depends on `libm` only, and knows nothing of
//! networks, files or GPUs: the same functions run natively and in WebAssembly.
//!
//! ```
//! use hapscope_core::{kernel::PlainKernel, library::{Library, LibraryBuilder}};
//! let haps = [1.0, 0.0,  0.99, 0.1,  0.0, 1.0]; // three 2-D HAPs
//! let mut b = LibraryBuilder::new(2, 0.9, PlainKernel)?;
//! b.push(&haps)?;
//! let lib = b.finish();
//! assert_eq!(lib.source_ids(), &[0, 2]); // row 1 is within θ of row 0
//! assert_eq!(lib, Library::build_sequential(&haps, 2, 0.9)?);
//! # Ok::<(), hapscope_core::Error>(())
//! ```
//!
//! ## Crate features
//! None; everything is available with `default-features = false`.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod artifact;
pub mod auroc;
pub mod bootstrap;
pub mod calibrate;
pub mod checksum;
pub mod cholesky;
pub mod conformity;
pub mod confusion;
pub mod cpl;
mod error;
pub mod gaussian;
pub mod hebbian;
pub mod kernel;
pub mod library;
pub mod predict;
pub mod screen;
pub mod similarity;
pub mod subspace;

pub use error::{Error, Result, first_non_finite};
