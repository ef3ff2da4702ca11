//! The JS-facing API (`Hapscope.load`, `analyze`, `attack`) on both backends, with a tiny
//! bundle made here from four synthetic digits (the page's real bundle is tested end to end
//! by tests/e2e). Runs in a dedicated worker, as the page does.

use burn::prelude::*;
use hapscope_core::artifact::LibraryArtifact;
use hapscope_core::calibrate::Calibration as CleanScores;
use hapscope_core::gaussian::ClassGaussian;
use hapscope_core::hebbian::Links;
use hapscope_core::library::Library;
use hapscope_models::detector::{Components, Detector, FeatureMap, PARTS, STATISTICS};
use hapscope_models::experiment::to_host;
use hapscope_models::nets::lenet::{LENET_TAP_CHANNELS, LENET_TAP_DIMS};
use hapscope_models::network::LENET;
use hapscope_models::page::bundle::{file_ref, sha256_hex};
use hapscope_models::page::detectors::{PageDetectorLayer, PageDetectors};
use hapscope_models::page::manifest::{
    Calibration, LayerRef, MANIFEST_FORMAT, Manifest, digit_classes,
};
use hapscope_models::page::model::exemplar_pixels;
use hapscope_models::weights::lenet_from_bytes;
use hapscope_web::{Hapscope, node_haps, warm_up};
use js_sys::{Array, Float32Array, Reflect, Uint8Array};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

mod common;
use common::{WEIGHTS, digit_bytes};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// A bundle whose libraries store all four digits in every layer.
fn bundle() -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    let ex = digit_bytes();
    let cpu = Device::flex();
    let net = lenet_from_bytes(WEIGHTS, &cpu).unwrap();
    let px = exemplar_pixels(&ex, 784, 0..4);
    let taps = to_host(net.forward_taps(Tensor::<4>::from_data(
        TensorData::new(px, [4, 1, 28, 28]),
        &cpu,
    )));
    let (mut layers, mut files) = (Vec::new(), Vec::new());
    for (name, dim, values) in &taps.layers {
        let mut lib = Library::new(*dim, 0.99999).unwrap();
        for (i, row) in values.chunks(*dim).enumerate() {
            lib.offer(row, i as u32).unwrap();
        }
        let n = lib.len();
        let w = (0..n * 10)
            .map(|j| {
                if j % 10 == (j / 10) * 3 % 10 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        let links = Links::from_parts(n, 10, w).unwrap();
        let bytes = LibraryArtifact::new(name, &lib, &links, false)
            .unwrap()
            .encode();
        layers.push(LayerRef {
            name: name.to_string(),
            theta: lib.theta(),
            nodes: n,
            file: file_ref(&format!("{name}.haplib"), &bytes),
        });
        files.push(bytes);
    }
    let manifest = Manifest {
        network: LENET.into(),
        input: [1, 28, 28],
        classes: digit_classes(),
        format: MANIFEST_FORMAT,
        source: "four synthetic digits".into(),
        weights: file_ref("lenet.safetensors", WEIGHTS),
        exemplars: file_ref("exemplars.u8", &ex),
        exemplar_ids: vec![0, 1, 2, 3],
        exemplar_labels: vec![1, 1, 1, 1],
        layers,
        top_a: 2,
        calibration: Calibration {
            variant: "eq5".into(),
            threshold: 0.5,
            false_positive_rate: 0.05,
            digits: 100,
        },
        holdout_every: 10,
        detectors: None,
    };
    (serde_json::to_vec(&manifest).unwrap(), ex, files)
}

/// The detectors for [`bundle`]'s layers (four nodes each; every node of class 1): identity
/// Gaussians on the features (channel means of the convolutions), calibrations of a few
/// made-up clean scores — enough to run every detector and the adaptive attack.
fn detectors(manifest: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut m: Manifest = serde_json::from_slice(manifest).unwrap();
    let layers: Vec<PageDetectorLayer> = LENET_TAP_DIMS
        .iter()
        .zip(LENET_TAP_CHANNELS)
        .map(|(&dim, ch)| {
            let features = FeatureMap::for_tap(dim, ch);
            let d = features.len(dim);
            let mut factor = vec![0.0; d * d];
            (0..d).for_each(|i| factor[i * d + i] = 1.0);
            PageDetectorLayer {
                node_classes: vec![1; 4],
                features,
                gaussian: ClassGaussian::from_parts(d, 10, factor, vec![0.0; 10 * d], 0.5).unwrap(),
            }
        })
        .collect();
    let scores: Vec<f64> = (0..20).map(f64::from).collect();
    let d = PageDetectors {
        layers,
        components: Components::from_sorted(&vec![scores.clone(); 4], &vec![scores.clone(); PARTS])
            .unwrap(),
        statistics: (0..STATISTICS)
            .map(|_| CleanScores::new(&scores).unwrap())
            .collect(),
        verdict: Detector::MinGaussMin,
        false_positive_rate: 0.05,
        squeeze_bits: 1,
    };
    let (dm, bytes) = d.to_manifest();
    m.detectors = Some(dm);
    (serde_json::to_vec(&m).unwrap(), bytes)
}

async fn load_with(
    backend: &str,
    libs: &[Vec<u8>],
    manifest: Vec<u8>,
    detectors: Option<Vec<u8>>,
) -> Result<Hapscope, String> {
    load_rows(backend, libs, manifest, detectors, None).await
}

/// Kept node rows and the checksum they are given back with.
type Kept = (Array, Option<String>);

/// The checksum of `rows` as the wasm computes it for [`Hapscope::node_rows_checksum`].
fn checksum_of(rows: &Array) -> String {
    let layers: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| Float32Array::from(r).to_vec())
        .collect();
    let views: Vec<&[f32]> = layers.iter().map(Vec::as_slice).collect();
    format!("{:016x}", hapscope_core::checksum::layers_checksum(&views))
}

async fn load_rows(
    backend: &str,
    libs: &[Vec<u8>],
    manifest: Vec<u8>,
    detectors: Option<Vec<u8>>,
    rows: Option<Kept>,
) -> Result<Hapscope, String> {
    let (_, ex, _) = bundle();
    let arr = Array::new();
    for l in libs {
        arr.push(&Uint8Array::from(l.as_slice()));
    }
    let (rows, checksum) = rows.map_or((None, None), |(r, c)| (Some(r), c));
    Hapscope::load(
        manifest,
        WEIGHTS.to_vec(),
        ex,
        arr,
        backend.into(),
        None,
        detectors,
        rows,
        None,
        checksum,
    )
    .await
    .map_err(|e| js_sys::Error::from(e).message().into())
}

async fn load(backend: &str, libs: &[Vec<u8>]) -> Result<Hapscope, String> {
    load_with(backend, libs, bundle().0, None).await
}

fn get(v: &JsValue, path: &[&str]) -> JsValue {
    path.iter().fold(v.clone(), |v, k| match k.parse::<u32>() {
        Ok(i) => Reflect::get_u32(&v, i).unwrap(),
        Err(_) => Reflect::get(&v, &(*k).into()).unwrap(),
    })
}

/// `(answer, per-layer top-1, CPL)` of an analysis.
fn summary(a: &JsValue) -> (f64, Vec<f64>, f64) {
    let top1 = (0..4)
        .map(|l| {
            get(a, &["layers", &l.to_string(), "top3", "0", "0"])
                .as_f64()
                .unwrap()
        })
        .collect();
    (
        get(a, &["answer"]).as_f64().unwrap(),
        top1,
        get(a, &["cpl"]).as_f64().unwrap(),
    )
}

#[wasm_bindgen_test]
async fn analyze_and_attack_agree_across_backends() {
    let (_, ex, libs) = bundle();
    let px: Vec<f32> = ex[784..1568]
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    let mut results = Vec::new();
    for backend in ["cpu", "webgpu"] {
        let h = load(backend, &libs).await.unwrap();
        assert_eq!(h.backend(), backend);
        let a = JsFuture::from(h.analyze(px.clone())).await.unwrap();
        assert_eq!(get(&a, &["backend"]).as_string().unwrap(), backend);
        // A stored exemplar is its own nearest node in every layer, at cosine ≈ 1.
        for l in 0..4 {
            let l = l.to_string();
            assert_eq!(
                get(&a, &["layers", &l, "exemplars", "0"]).as_f64(),
                Some(1.0)
            );
            let s = get(&a, &["layers", &l, "similarity", "0"])
                .as_f64()
                .unwrap();
            assert!(s > 0.9999, "layer {l}: {s}");
        }
        results.push(summary(&a));
        let r = JsFuture::from(h.attack(px.clone(), 0.1, 1, None, None))
            .await
            .unwrap();
        let adv: Vec<f32> = js_sys::Float32Array::from(get(&r, &["adversarial"])).to_vec();
        assert_eq!(adv.len(), 784);
        assert!(
            adv.iter()
                .zip(&px)
                .all(|(a, b)| (a - b).abs() <= 0.1 + 1e-6)
        );
        let bad = JsFuture::from(h.analyze(vec![f32::NAN; 784]))
            .await
            .unwrap_err();
        assert!(String::from(js_sys::Error::from(bad).message()).contains("finite"));
    }
    let (cpu, gpu) = (&results[0], &results[1]);
    assert_eq!((cpu.0, &cpu.1), (gpu.0, &gpu.1));
    assert!((cpu.2 - gpu.2).abs() < 1e-4, "CPL {} vs {}", cpu.2, gpu.2);
}

#[wasm_bindgen_test]
async fn detectors_score_every_analysis_and_drive_the_adaptive_attack() {
    hapscope_web::start();
    let (manifest, ex, libs) = bundle();
    let (with, file) = detectors(&manifest);
    let px: Vec<f32> = ex[..784].iter().map(|&b| f32::from(b) / 255.0).collect();
    let mut scores = Vec::new();
    for backend in ["cpu", "webgpu"] {
        let h = load_with(backend, &libs, with.clone(), Some(file.clone()))
            .await
            .unwrap();
        let a = JsFuture::from(h.analyze(px.clone())).await.unwrap();
        assert_eq!(
            get(&a, &["verdict_by"]).as_string().unwrap(),
            "min-gauss-min"
        );
        let names: Vec<String> = (0..STATISTICS)
            .map(|k| {
                get(&a, &["detectors", &k.to_string(), "name"])
                    .as_string()
                    .unwrap()
            })
            .collect();
        assert_eq!(names[6], "fusion-min");
        assert_eq!(names[7], "min-gauss-min");
        scores.push(
            (0..STATISTICS)
                .map(|k| {
                    get(&a, &["detectors", &k.to_string(), "score"])
                        .as_f64()
                        .unwrap()
                })
                .collect::<Vec<_>>(),
        );
        // The adaptive attack: in the ε-ball, and says it was adaptive. On WebGPU two steps:
        // each step runs the same kernels (forward, the detectors' terms, backward), and on
        // SwiftShader one takes ≈ 6.5 s, so PGD-40 there was 260 s of the suite.
        let steps = (backend == "webgpu").then_some(2);
        let r = JsFuture::from(h.attack(px.clone(), 0.1, 1, Some(true), steps))
            .await
            .unwrap();
        assert_eq!(get(&r, &["adaptive"]).as_bool(), Some(true));
        let adv: Vec<f32> = js_sys::Float32Array::from(get(&r, &["adversarial"])).to_vec();
        assert!(
            adv.iter()
                .zip(&px)
                .all(|(a, b)| (a - b).abs() <= 0.1 + 1e-6)
        );
    }
    for (c, g) in scores[0].iter().zip(&scores[1]) {
        assert!(
            (c - g).abs() <= 1e-3 * c.abs().max(1.0),
            "CPU {c} vs WebGPU {g}"
        );
    }
    // A bundle that lists detectors needs their file, and a wrong file is named.
    let e = load_with("cpu", &libs, with.clone(), None)
        .await
        .err()
        .unwrap();
    assert!(e.contains("detectors.bin") && e.contains("missing"), "{e}");
    let mut bad = file.clone();
    bad[3] ^= 1;
    let e = load_with("cpu", &libs, with, Some(bad))
        .await
        .err()
        .unwrap();
    assert!(e.contains("detectors.bin"), "{e}");
    // Without detectors the adaptive attack is refused with a reason.
    let h = load("cpu", &libs).await.unwrap();
    let e = JsFuture::from(h.attack(px.clone(), 0.1, 1, Some(true), None))
        .await
        .unwrap_err();
    assert!(String::from(js_sys::Error::from(e).message()).contains("detectors"));
    // A step count outside 1..=MAX_STEPS is refused with the range; one step is an attack.
    for bad in [0, hapscope_web::MAX_STEPS + 1] {
        let e = JsFuture::from(h.attack(px.clone(), 0.1, 1, None, Some(bad)))
            .await
            .unwrap_err();
        let m = String::from(js_sys::Error::from(e).message());
        assert!(m.contains("steps must be in 1..=1000"), "{m}");
    }
    // The count is honoured: one step from the same random start ends elsewhere than 40.
    let mut ends = Vec::new();
    for steps in [Some(1), None] {
        let r = JsFuture::from(h.attack(px.clone(), 0.1, 1, None, steps))
            .await
            .unwrap();
        ends.push(js_sys::Float32Array::from(get(&r, &["adversarial"])).to_vec());
    }
    assert_ne!(ends[0], ends[1], "PGD-1 and PGD-40 gave the same image");
}

/// The exemplar passes split into shares (`nodeHaps`, as the page's workers compute them)
/// load the same libraries as one worker computing them all; a share cut short or out of
/// range is refused, naming it.
#[wasm_bindgen_test]
async fn shares_of_the_passes_load_what_one_worker_computes() {
    let (manifest, ex, libs) = bundle();
    let files = || -> Array {
        libs.iter()
            .map(|l| Uint8Array::from(l.as_slice()))
            .collect()
    };
    let share = |k: usize, parts: usize| {
        node_haps(
            manifest.clone(),
            WEIGHTS.to_vec(),
            ex.clone(),
            files(),
            k,
            parts,
        )
    };
    let with_shares = |shares: Array| {
        Hapscope::load(
            manifest.clone(),
            WEIGHTS.to_vec(),
            ex.clone(),
            files(),
            "cpu".into(),
            Some(shares),
            None,
            None,
            None,
            None,
        )
    };
    let rows = |h: &Hapscope| -> Vec<Vec<f32>> {
        h.take_node_rows()
            .iter()
            .map(|r| Float32Array::from(r).to_vec())
            .collect()
    };
    let want = rows(&load("cpu", &libs).await.unwrap());
    for parts in [1, 2, 3] {
        let shares = Array::new();
        for k in 0..parts {
            shares.push(&share(k, parts).await.unwrap());
        }
        let got = rows(&with_shares(shares).await.unwrap());
        assert_eq!(got.len(), want.len(), "{parts} shares");
        // Not bit for bit: a batch of one digit takes another kernel than a batch of four.
        for (l, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.len(), w.len(), "{parts} shares, layer {l}");
            for (a, b) in g.iter().zip(w) {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                    "{parts} shares, layer {l}: {a} vs {b}"
                );
            }
        }
    }
    let message = |e: JsValue| String::from(js_sys::Error::from(e).message());
    let (first, second) = (share(0, 2).await.unwrap(), share(1, 2).await.unwrap());
    let fc1 = Float32Array::from(second.get(2));
    second.set(2, fc1.subarray(0, fc1.length() - 1).into());
    let e = message(
        with_shares([first, second].into_iter().collect())
            .await
            .err()
            .unwrap(),
    );
    assert!(e.contains("FC1 (share 1 of 2)"), "{e}");
    let e = message(share(2, 2).await.unwrap_err());
    assert!(e.contains("share 2 of 2"), "{e}");
}

/// A return visit: the node rows one load computed rebuild the same model in the next (the
/// same analysis, bit for bit), are handed over once with their checksum, and damaged ones
/// (a changed value, missing checksum, non-finite, short, a layer missing) reject the load.
#[wasm_bindgen_test]
async fn node_rows_of_one_load_rebuild_the_next_and_damaged_ones_are_refused() {
    let (manifest, ex, libs) = bundle();
    let px: Vec<f32> = ex[784..1568]
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect();
    let first = load("cpu", &libs).await.unwrap();
    let sum = first
        .node_rows_checksum()
        .expect("computed rows have a checksum");
    let rows = first.take_node_rows();
    assert_eq!(rows.length(), 4);
    assert_eq!(sum, checksum_of(&rows));
    assert_eq!(first.take_node_rows().length(), 0, "handed over once");
    assert_eq!(first.node_rows_checksum(), None, "nothing left to check");
    let analysis = |h: Hapscope| {
        let px = px.clone();
        async move { summary(&JsFuture::from(h.analyze(px)).await.unwrap()) }
    };
    let copy = |rows: &Array| -> Array { rows.iter().map(|r| Float32Array::new(&r)).collect() };
    let kept = |rows: Array, sum: &str| Some((rows, Some(sum.to_string())));
    let again = load_rows(
        "cpu",
        &libs,
        manifest.clone(),
        None,
        kept(copy(&rows), &sum),
    )
    .await
    .unwrap();
    assert_eq!(
        again.take_node_rows().length(),
        0,
        "cached rows are not handed back"
    );
    assert_eq!(again.node_rows_checksum(), None);
    let (a, b) = (analysis(first).await, analysis(again).await);
    assert_eq!((a.0, &a.1), (b.0, &b.1));
    assert_eq!(a.2.to_bits(), b.2.to_bits(), "CPL {} vs {}", a.2, b.2);

    // One value moved, still finite: only the checksum sees it.
    let moved = copy(&rows);
    let cn2 = Float32Array::from(moved.get(1));
    cn2.set_index(7, cn2.get_index(7) + 0.5);
    let e = load_rows("cpu", &libs, manifest.clone(), None, kept(moved, &sum))
        .await
        .err()
        .unwrap();
    assert!(e.contains("damaged") && e.contains(&sum), "{e}");
    let e = load_rows(
        "cpu",
        &libs,
        manifest.clone(),
        None,
        Some((copy(&rows), None)),
    )
    .await
    .err()
    .unwrap();
    assert!(e.contains("checksum"), "{e}");
    // Damage the checksum cannot see (kept with it): the rows' own checks.
    let nan = copy(&rows);
    Float32Array::from(nan.get(1)).set_index(5, f32::NAN);
    let nan_sum = checksum_of(&nan);
    let e = load_rows("cpu", &libs, manifest.clone(), None, kept(nan, &nan_sum))
        .await
        .err()
        .unwrap();
    assert!(e.contains("layer CN2") && e.contains("non-finite"), "{e}");
    let short = copy(&rows);
    let cut = Float32Array::from(short.get(2));
    short.set(2, cut.subarray(0, cut.length() - 1).into());
    let short_sum = checksum_of(&short);
    let e = load_rows(
        "cpu",
        &libs,
        manifest.clone(),
        None,
        kept(short, &short_sum),
    )
    .await
    .err()
    .unwrap();
    assert!(e.contains("layer FC1") && e.contains("HAP values"), "{e}");
    let three = rows.slice(0, 3);
    let three_sum = checksum_of(&three);
    let e = load_rows("cpu", &libs, manifest, None, kept(three, &three_sum))
        .await
        .err()
        .unwrap();
    assert!(e.contains("3 layers"), "{e}");
}

#[wasm_bindgen_test]
async fn a_corrupted_library_is_named() {
    let (_, _, mut libs) = bundle();
    let mid = libs[1].len() / 2;
    libs[1][mid] ^= 0x40;
    let e = load("cpu", &libs).await.err().unwrap();
    assert!(e.contains("CN2.haplib") && e.contains("SHA-256"), "{e}");
    libs[1].truncate(mid);
    let e = load("cpu", &libs).await.err().unwrap();
    assert!(e.contains("CN2.haplib") && e.contains("truncated"), "{e}");
}

/// Digests the worker computed (WebCrypto) stand in for hashing in wasm: the right ones
/// load, a wrong one names its file, as a damaged file would.
#[wasm_bindgen_test]
async fn digests_from_the_worker_are_checked_like_the_files() {
    let (manifest, ex, libs) = bundle();
    let files: Vec<&[u8]> = [WEIGHTS, ex.as_slice()]
        .into_iter()
        .chain(libs.iter().map(Vec::as_slice))
        .collect();
    let hex: Vec<String> = files.iter().map(|f| sha256_hex(f)).collect();
    let with = |digests: Vec<String>| {
        let (manifest, ex, libs) = (manifest.clone(), ex.clone(), libs.clone());
        async move {
            let arr: Array = libs
                .iter()
                .map(|l| Uint8Array::from(l.as_slice()))
                .collect();
            let d: Array = digests.iter().map(|s| JsValue::from_str(s)).collect();
            Hapscope::load(
                manifest,
                WEIGHTS.to_vec(),
                ex,
                arr,
                "cpu".into(),
                None,
                None,
                None,
                Some(d),
                None,
            )
            .await
            .map(drop)
            .map_err(|e| String::from(js_sys::Error::from(e).message()))
        }
    };
    with(hex.clone()).await.unwrap();
    let mut wrong = hex.clone();
    wrong[2] = sha256_hex(b"something else");
    let e = with(wrong).await.unwrap_err();
    assert!(e.contains("CN1.haplib") && e.contains("SHA-256"), "{e}");
    // Fewer digests than files: the rest are hashed in wasm.
    with(hex[..1].to_vec()).await.unwrap();
}

/// The page's warm-up runs the first answer's forward pass on both networks and refuses an
/// unknown one by name.
#[wasm_bindgen_test]
async fn the_warm_up_runs_both_networks_and_names_an_unknown_one() {
    for network in ["lenet", "resnet44"] {
        warm_up(network.into())
            .await
            .unwrap_or_else(|e| panic!("{network}: {e:?}"));
    }
    let err = warm_up("alexnet".into()).await.unwrap_err();
    let msg: String = js_sys::Error::from(err).message().into();
    assert!(msg.contains("unknown network 'alexnet'"), "{msg}");
}
