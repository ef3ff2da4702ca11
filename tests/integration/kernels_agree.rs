use hapscope_core::kernel::PlainKernel;
use hapscope_core::library::Library;
use hapscope_core::predict::Predictor;
use hapscope_models::kernel::GemmKernel;
use hapscope_models::method::{build_library, hebbian_links, predict_scores};

use crate::util::clustered;

#[test]
fn gemm_and_plain_kernels_build_the_definitions_library() {
    let dim = 500;
    let (haps, _) = clustered(1500, dim, 40, 7);
    for theta in [0.5f32, 0.65, 0.8] {
        let seq = Library::build_sequential(&haps, dim, theta).unwrap();
        let (plain, _) = build_library(&haps, dim, theta, PlainKernel, false, &mut |_| {}).unwrap();
        let (gemm, stats) =
            build_library(&haps, dim, theta, GemmKernel::new(2), false, &mut |_| {}).unwrap();
        assert_eq!(plain, seq, "θ={theta}");
        assert_eq!(gemm, seq, "θ={theta} (gemm, {} re-checks)", stats.rechecks);
        assert!(
            seq.len() > 40 && seq.len() < 1500,
            "θ={theta}: a non-trivial library ({} nodes)",
            seq.len()
        );
    }
}

#[test]
fn predictions_are_bit_identical_across_kernels() {
    let dim = 300;
    let (train, answers) = clustered(1200, dim, 30, 11);
    let (test, _) = clustered(300, dim, 30, 12);
    let (lib, _) = build_library(&train, dim, 0.6, PlainKernel, false, &mut |_| {}).unwrap();
    let links = hebbian_links(&lib, &train, &answers, 10, &PlainKernel, &mut |_| {}).unwrap();
    for a in [3, 8, 20] {
        let p = Predictor::new(&lib, &links, a).unwrap();
        let plain = predict_scores(&p, &test, dim, &PlainKernel, &mut |_| {}).unwrap();
        let gemm = predict_scores(&p, &test, dim, &GemmKernel::new(2), &mut |_| {}).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&plain), bits(&gemm), "a={a}");
    }
}

#[test]
fn screened_gemm_build_equals_the_definition_at_scale() {
    let dim = 2048;
    let (haps, _) = clustered(3000, dim, 60, 21);
    for theta in [0.4f32, 0.6] {
        let seq = Library::build_sequential(&haps, dim, theta).unwrap();
        let (lib, stats) =
            build_library(&haps, dim, theta, GemmKernel::new(2), true, &mut |_| {}).unwrap();
        assert_eq!(lib, seq, "θ={theta}");
        assert!(
            stats.screened > 0,
            "θ={theta}: the screen settled no row, so this test tests nothing"
        );
    }
}
