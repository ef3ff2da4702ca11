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
//!
//! The page ships this crate twice: without the `webgpu` feature (the CPU engine, ≈ 1 MB
//! gzipped, which every visit loads) and with it (the WebGPU engine, ≈ 4.5 MB, loaded only
//! when a visitor asks for WebGPU); see [`backend`].

pub mod backend;
mod session;

use wasm_bindgen::prelude::*;

pub use session::{Hapscope, MAX_STEPS, exemplar_haps, node_haps, warm_up};

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

/// Checks an upload before the browser decodes it, from its first bytes (up to
/// `hapscope_models::image_header::UPLOAD_HEAD_BYTES`) and its length: resolves to
/// `{format, width, height}` or throws why it is refused (too large a file, not an image
/// this page reads, a damaged header, too many pixels).
#[wasm_bindgen(js_name = checkUpload)]
pub fn check_upload(head: &[u8], file_len: f64) -> Result<JsValue, JsError> {
    use hapscope_models::image_header::{self, UploadError};
    // A length beyond usize (only possible in wasm32) is simply too large.
    let len = if file_len.is_finite() && file_len >= 0.0 && file_len < usize::MAX as f64 {
        file_len as usize
    } else {
        usize::MAX
    };
    let h = image_header::check_upload(head, len)
        .map_err(|e: UploadError| JsError::new(&e.to_string()))?;
    let json = format!(
        r#"{{"format":"{}","width":{},"height":{}}}"#,
        h.format, h.width, h.height
    );
    js_sys::JSON::parse(&json).map_err(|_| JsError::new("checkUpload: unreadable result"))
}

/// How many leading bytes of a file [`check_upload`] needs.
#[wasm_bindgen(js_name = uploadHeadBytes)]
pub fn upload_head_bytes() -> usize {
    hapscope_models::image_header::UPLOAD_HEAD_BYTES
}
