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
