//! # hapscope-web
//!
//! hapscope in the browser: the MNIST LeNet and PGD on WebGPU (burn-wgpu) or the CPU
//! (burn-flex), and `hapscope-core`'s library matching — behind a small JS API that the
//! page's Web Worker calls. The analysis itself is [`hapscope_models::page::model`], the
//! same code native runs use; this crate adds the devices, asynchronous tensor reads (a
//! synchronous read panics on WebGPU) and the JS conversions.
//!
//! Loading recomputes every library node's HAPs from its exemplar digit on the CPU, so the
//! libraries are the same whichever backend then answers queries — and a WebGPU failure can
//! fall back to the CPU with the same answers.

pub mod backend;
mod session;

use wasm_bindgen::prelude::*;

pub use session::{Hapscope, exemplar_haps};

/// Installs the panic hook that reports Rust panics on the console.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// MNIST-style 28 × 28 digit (row-major, [0, 1]) from an ink image (`width × height`
/// values in [0, 1], 1 = ink): see `hapscope_models::digit`.
#[wasm_bindgen]
pub fn preprocess(ink: Vec<f32>, width: usize, height: usize) -> Result<Vec<f32>, JsError> {
    hapscope_models::digit::mnist_style(&ink, width, height)
        .map_err(|e| JsError::new(&e.to_string()))
}

/// Ink (1 = ink) from a photo's luminance in [0, 1]: see `hapscope_models::digit::photo_ink`.
#[wasm_bindgen(js_name = photoInk)]
pub fn photo_ink(luma: Vec<f32>) -> Result<Vec<f32>, JsError> {
    hapscope_models::digit::photo_ink(&luma).map_err(|e| JsError::new(&e.to_string()))
}
