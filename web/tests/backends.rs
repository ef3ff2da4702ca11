//! The wasm API on both backends, in headless Chromium (`cargo xtask test` runs these with
//! wasm-bindgen-test-runner; flags in `web/webdriver.json`). They run in a dedicated worker,
//! as the page does. WebGPU here is SwiftShader: these prove correctness, not speed.

use burn::module::Module;
use burn::prelude::*;
use hapscope_models::nets::lenet::LeNet;
use hapscope_models::pgd::{PgdConfig, PgdSpace, pgd};
use hapscope_models::weights::lenet_from_bytes;
use hapscope_web::backend::webgpu;
use wasm_bindgen_test::*;

mod common;
use common::{WEIGHTS, digits};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

async fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data_async()
        .await
        .expect("read")
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32")
}

async fn taps(net: &LeNet, device: &Device) -> Vec<Vec<f32>> {
    let x = Tensor::<4>::from_data(TensorData::new(digits(), [4, 1, 28, 28]), device);
    let mut out = Vec::new();
    for (_, t) in net.forward_taps(x).layers {
        out.push(read(t).await);
    }
    out
}

#[wasm_bindgen_test]
async fn webgpu_and_cpu_give_the_same_haps() {
    let gpu = webgpu()
        .await
        .expect("headless Chromium with --enable-unsafe-webgpu has an adapter");
    let cpu = Device::flex();
    let on_gpu = taps(&lenet_from_bytes(WEIGHTS, &gpu).unwrap(), &gpu).await;
    let on_cpu = taps(&lenet_from_bytes(WEIGHTS, &cpu).unwrap(), &cpu).await;
    for (l, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
        assert_eq!(g.len(), c.len());
        let scale = c.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = g
            .iter()
            .zip(c)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            worst <= 1e-3 * scale.max(1.0),
            "layer {l}: max |Δ| {worst} (scale {scale})"
        );
    }
    // Same answers.
    let argmax = |v: &[f32]| -> Vec<usize> {
        v.chunks(10)
            .map(|r| hapscope_core::predict::argmax(r).unwrap())
            .collect()
    };
    assert_eq!(argmax(&on_gpu[3]), argmax(&on_cpu[3]));
}

#[wasm_bindgen_test]
async fn pgd_runs_on_webgpu_within_the_ball() {
    let gpu = webgpu().await.expect("WebGPU adapter");
    let ad = gpu.clone().autodiff();
    let net = lenet_from_bytes(WEIGHTS, &ad).unwrap().freeze();
    let x = Tensor::<4>::from_data(
        TensorData::new(digits()[..784].to_vec(), [1, 1, 28, 28]),
        &gpu,
    );
    let y = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64], [1]), &gpu);
    let cfg = PgdConfig::new(0.1).with_steps(3);
    let adv = pgd(
        &|p| net.forward(p),
        x.clone(),
        y,
        &cfg,
        &PgdSpace::Pixel,
        &ad,
    );
    let (adv, x) = (read(adv).await, read(x).await);
    assert!(adv.iter().zip(&x).all(|(a, b)| (a - b).abs() <= 0.1 + 1e-6));
    assert!(adv.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(adv.iter().zip(&x).any(|(a, b)| a != b), "the attack moved");
}

#[wasm_bindgen_test]
fn preprocessing_reports_blank_and_bad_shapes() {
    let message = |e: wasm_bindgen::JsError| -> String {
        js_sys::Error::from(wasm_bindgen::JsValue::from(e))
            .message()
            .into()
    };
    let blank = hapscope_web::preprocess(vec![0.0; 100], 10, 10).unwrap_err();
    assert!(message(blank).contains("blank"));
    let shape = hapscope_web::preprocess(vec![0.0; 99], 10, 10).unwrap_err();
    assert!(message(shape).contains("needs 100 values, got 99"));
    let d = hapscope_web::preprocess(
        (0..100)
            .map(|i| if i % 10 == 5 { 1.0 } else { 0.0 })
            .collect(),
        10,
        10,
    )
    .unwrap();
    assert_eq!(d.len(), 784);
}
