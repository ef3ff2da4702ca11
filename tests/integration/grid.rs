use hapscope_core::hebbian::{floor_error_bound, g};
use hapscope_core::kernel::{PlainKernel, SimilarityKernel};
use hapscope_core::library::normalize_rows;
use hapscope_core::predict::Predictor;
use hapscope_core::similarity::dot;
use hapscope_models::grid::{GridBuilder, GridLayer, GridLinkBuilder, GridPredictor};
use hapscope_models::kernel::GemmKernel;
use hapscope_models::method::{build_library, hebbian_links, predict_scores};

use crate::util::{clustered, low_rank};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Builds the grid from `train` fed in batches of `batch` rows.
fn grid<K: SimilarityKernel + Sync + Copy>(
    train: &[f32],
    dim: usize,
    thetas: &[f32],
    kernel: K,
    screen: bool,
    batch: usize,
) -> GridLayer {
    let mut b = GridBuilder::new(dim, thetas, kernel, screen).unwrap();
    for chunk in train.chunks(batch * dim) {
        b.push(chunk).unwrap();
    }
    b.finish().unwrap().0
}

/// Every library, link weight and class score of the grid pass equals the one-θ-at-a-time
/// pipeline's (itself tested against the sequential definition), bit for bit — with the
/// subspace screen and without, on data where the bounds are tight and where they are not.
fn same_as_one_theta_at_a_time(
    train: &[f32],
    answers: &[usize],
    test: &[f32],
    dim: usize,
    thetas: &[f32],
    screen: bool,
    full_products: bool,
) -> GridLayer {
    let kernel = GemmKernel::new(2);
    let layer = grid(train, dim, thetas, kernel, screen, 700);
    assert_eq!(layer.subspace().is_identity(), full_products);
    let mut lb = GridLinkBuilder::new(&layer, 10, kernel).unwrap();
    for (c, a) in train.chunks(333 * dim).zip(answers.chunks(333)) {
        lb.add(c, a).unwrap();
    }
    let links = lb.finish().unwrap();
    let scores: Vec<Vec<Vec<f32>>> = [3, 20]
        .iter()
        .map(|&a| {
            GridPredictor::new(&layer, &links, a, kernel)
                .unwrap()
                .scores(test)
                .unwrap()
        })
        .collect();
    for (t, &theta) in thetas.iter().enumerate() {
        let (want, _) = build_library(train, dim, theta, PlainKernel, false, &mut |_| {}).unwrap();
        assert_eq!(layer.library(t).unwrap(), want, "θ={theta}");
        let want_links =
            hebbian_links(&want, train, answers, 10, &PlainKernel, &mut |_| {}).unwrap();
        assert_eq!(
            bits(links[t].weights()),
            bits(want_links.weights()),
            "θ={theta}"
        );
        for (ai, &a) in [3, 20].iter().enumerate() {
            let p = Predictor::new(&want, &want_links, a).unwrap();
            let want_scores = predict_scores(&p, test, dim, &PlainKernel, &mut |_| {}).unwrap();
            assert_eq!(bits(&scores[ai][t]), bits(&want_scores), "θ={theta}, a={a}");
        }
    }
    layer
}

#[test]
fn grid_pass_equals_one_theta_at_a_time_with_and_without_the_screen() {
    let thetas = [0.5f32, 0.7, 0.8, 0.9];
    // Low-rank HAPs, as real conv layers: the screen's bounds are tight.
    let dim = 1100;
    let (mut train, answers) = low_rank(2600, dim, 24, 0.05, 3);
    // Zero rows are never stored and link nothing.
    train[5 * dim..6 * dim].fill(0.0);
    let (test, _) = low_rank(300, dim, 24, 0.05, 4);
    let layer = same_as_one_theta_at_a_time(&train, &answers, &test, dim, &thetas, true, false);
    assert!(!layer.subspace().is_identity());
    let sizes = layer.sizes();
    assert!(sizes[0] > 5 && sizes[3] > sizes[0] * 4, "{sizes:?}");
    // The union is smaller than the libraries together: the grid shares nodes.
    assert!(layer.union_len() < sizes.iter().sum::<usize>(), "{sizes:?}");
    same_as_one_theta_at_a_time(&train, &answers, &test, dim, &thetas, false, true);
    // Isotropic noise: no 256-dimensional subspace comes close, so the grid falls back to
    // the full products (and the results are the same).
    let (train, answers) = clustered(1500, dim, 20, 9);
    let (test, _) = clustered(200, dim, 20, 10);
    same_as_one_theta_at_a_time(&train, &answers, &test, dim, &[0.4, 0.6], true, true);
    // There the random-projection candidate screen settles most rows of the build.
    let mut b = GridBuilder::new(dim, &[0.4, 0.6], GemmKernel::new(2), true).unwrap();
    b.push(&train).unwrap();
    let (_, stats) = b.finish().unwrap();
    assert!(stats.screened > 500, "{stats:?}");
    // And the links' anchor screen (the triangle inequality through each row's anchor node)
    // computes few of the (row, node) pairs in full where anchors are close (θ 0.8).
    let layer = same_as_one_theta_at_a_time(&train, &answers, &test, dim, &[0.8], true, true);
    let mut lb = GridLinkBuilder::new(&layer, 10, GemmKernel::new(2)).unwrap();
    lb.add(&train, &answers).unwrap();
    lb.flush();
    let all = (train.len() / dim * layer.union_len()) as u64;
    assert!(lb.pairs() < all / 4, "{} of {all} pairs", lb.pairs());
    // Short HAPs: the identity subspace; fewer rows than the subspace fit waits for.
    let (train, answers) = clustered(900, 50, 15, 12);
    let (test, _) = clustered(100, 50, 15, 13);
    same_as_one_theta_at_a_time(&train, &answers, &test, 50, &[0.6, 0.8, 0.95], true, true);
}

/// The screen does skip work: most (row, node) pairs are settled by the bounds.
#[test]
fn the_screen_computes_few_similarities_in_full() {
    let dim = 1100;
    let (train, answers) = low_rank(3000, dim, 24, 0.05, 5);
    let mut b = GridBuilder::new(dim, &[0.8, 0.9], GemmKernel::new(2), true).unwrap();
    b.push(&train).unwrap();
    let (layer, stats) = b.finish().unwrap();
    let union = layer.union_len() as u64;
    let mut lb = GridLinkBuilder::new(&layer, 10, GemmKernel::new(2)).unwrap();
    lb.add(&train, &answers).unwrap();
    lb.flush();
    assert!(
        stats.canonical < 3000 * union / 20,
        "{} canonical checks for {union} nodes",
        stats.canonical
    );
    assert!(
        lb.pairs() < 3000 * union / 4,
        "{} pairs of {}",
        lb.pairs(),
        3000 * union
    );
}

/// Against the full Eq. 2 (every term, no floor, in f64): every weight within the floor's
/// stated bound plus the final rounding to f32; predictions identical wherever the two
/// best class scores are further apart than the bound allows to change.
#[test]
fn links_are_within_the_floor_bound_of_the_full_sum() {
    let dim = 1100;
    let (train, answers) = low_rank(2200, dim, 16, 0.3, 7);
    let (test, _) = low_rank(200, dim, 16, 0.3, 8);
    let layer = grid(&train, dim, &[0.7], GemmKernel::new(2), true, 2200);
    let mut lb = GridLinkBuilder::new(&layer, 10, GemmKernel::new(2)).unwrap();
    lb.add(&train, &answers).unwrap();
    let links = lb.finish().unwrap();
    let lib = layer.library(0).unwrap();
    let rows = train.len() / dim;
    let mut unit = vec![0.0; train.len()];
    normalize_rows(&train, dim, &mut unit, &mut vec![false; rows]);
    let bound = floor_error_bound(rows);
    let mut below_floor_terms = 0usize;
    for n in 0..lib.len() {
        let (mut a, mut t) = ([0.0f64; 10], 0.0f64);
        for (u, &ans) in unit.chunks_exact(dim).zip(&answers) {
            let h = dot(u, lib.node(n));
            below_floor_terms += usize::from(h < 0.7 && h > 0.0);
            let w = g(h);
            a[ans] += w;
            t += w;
        }
        for (m, &got) in links[0].node(n).iter().enumerate() {
            let full = 2.0 * a[m] - t;
            let ulp = f64::from(f32::EPSILON) * full.abs();
            assert!(
                (f64::from(got) - full).abs() <= bound + ulp,
                "node {n} class {m}: {got} vs {full}"
            );
        }
    }
    assert!(
        below_floor_terms > 0,
        "no term below the floor: nothing tested"
    );
    let p = Predictor::new(&lib, &links[0], 3).unwrap();
    let scores = predict_scores(&p, &test, dim, &PlainKernel, &mut |_| {}).unwrap();
    let grid_scores = GridPredictor::new(&layer, &links, 3, PlainKernel)
        .unwrap()
        .scores(&test)
        .unwrap();
    assert_eq!(bits(&scores), bits(&grid_scores[0]));
}
