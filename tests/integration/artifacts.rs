use std::path::Path;

use hapscope_core::artifact::LibraryArtifact;
use hapscope_models::kernel::GemmKernel;
use hapscope_models::method::{build_library, hebbian_links};

use crate::util::clustered;

fn artifact_bytes() -> Vec<u8> {
    let dim = 200;
    let (train, answers) = clustered(800, dim, 25, 3);
    let kernel = GemmKernel::new(2);
    let (lib, _) = build_library(&train, dim, 0.55, kernel, false, &mut |_| {}).unwrap();
    let links = hebbian_links(&lib, &train, &answers, 10, &kernel, &mut |_| {}).unwrap();
    LibraryArtifact::new("FC1", &lib, &links, true)
        .unwrap()
        .encode()
}

#[test]
fn same_inputs_give_byte_identical_artifacts() {
    let a = artifact_bytes();
    let b = artifact_bytes();
    assert!(a == b, "two builds differ");
    let back = LibraryArtifact::decode(&a).unwrap();
    assert_eq!(back.encode(), a);
}

/// Every input the fuzzer kept (corpus) or crashed on once (regressions) must decode to a
/// value or an error, never a panic. The corpus inputs were produced by
/// `cargo fuzz run artifact_decode` (see core/fuzz/README.md).
#[test]
fn fuzz_corpus_decodes_without_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/fuzz");
    let mut seen = 0;
    for dir in ["corpus/artifact_decode", "regressions/artifact_decode"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let _ = LibraryArtifact::decode(&bytes);
            seen += 1;
        }
    }
    assert!(
        seen >= 5,
        "expected the committed corpus, found {seen} files"
    );
}
