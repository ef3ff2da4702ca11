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

/// Links (Eq. 2) are the same bytes whatever kernel computed the similarities: the GEMM
/// kernel's raw values differ from the canonical ones in the last bits (checked here, so
/// the test cannot pass vacuously), and its links equal the portable kernel's bit for bit
/// because every entry at or near the link floor is recomputed canonically.
#[test]
fn links_are_bit_identical_across_kernels() {
    use hapscope_core::hebbian::LINK_FLOOR;
    use hapscope_core::kernel::SimilarityKernel;
    use hapscope_core::library::normalize_rows;

    for (dim, protos, theta) in [(300, 30, 0.6f32), (1024, 12, 0.8)] {
        let (train, answers) = clustered(1500, dim, protos, 5);
        let (lib, _) = build_library(&train, dim, theta, PlainKernel, false, &mut |_| {}).unwrap();
        // The raw GEMM similarities differ from the canonical ones, some at or above the floor.
        let rows = train.len() / dim;
        let mut unit = vec![0.0; train.len()];
        normalize_rows(&train, dim, &mut unit, &mut vec![false; rows]);
        let (mut plain, mut gemm) = (vec![0.0; rows * lib.len()], vec![0.0; rows * lib.len()]);
        lib.similarities(&unit, &PlainKernel, &mut plain).unwrap();
        lib.similarities(&unit, &GemmKernel::new(2), &mut gemm)
            .unwrap();
        let differ = plain
            .iter()
            .zip(&gemm)
            .filter(|(p, g)| p.to_bits() != g.to_bits() && **p >= LINK_FLOOR)
            .count();
        assert!(
            differ > 0,
            "dim {dim}: the GEMM kernel agreed bit for bit above the floor, so this tests nothing"
        );
        assert!(GemmKernel::new(2).error_bound(dim) > 0.0);
        let portable = hebbian_links(&lib, &train, &answers, 10, &PlainKernel, &mut |_| {});
        let fast = hebbian_links(&lib, &train, &answers, 10, &GemmKernel::new(2), &mut |_| {});
        let bits = |l: hapscope_core::hebbian::Links| {
            l.weights().iter().map(|w| w.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(
            bits(portable.unwrap()),
            bits(fast.unwrap()),
            "dim {dim}: {differ} GEMM similarities ≥ the floor differ from the canonical ones"
        );
    }
}
