//! Property tests of the core's invariants (proptest, random data).
//!
//! - the batched build equals the one-at-a-time definition for random data, θ, block
//!   sizes and batch splits — with the exact plain kernel, with a kernel that perturbs
//!   every value within its declared error bound (which forces the re-check path), and
//!   with the random-projection screen on (set from the start, or after a first push);
//! - the definition agrees with an independent f64 reference wherever no decision lies
//!   within 1e-4 of θ;
//! - predictions are the same bit for bit whatever the kernel;
//! - a stored pattern shown again scores 1 within rounding and is never stored twice;
//! - AUROC(p, n) + AUROC(n, p) = 1 and AUROC is unchanged under strictly increasing maps;
//! - CPL is unchanged when layers are permuted;
//! - artifact decoding never panics and round-trips.

use hapscope_core::artifact::LibraryArtifact;
use hapscope_core::auroc::auroc;
use hapscope_core::cpl::{CplVariant, cpl};
use hapscope_core::hebbian::HebbianAccumulator;
use hapscope_core::kernel::{PlainKernel, SimilarityKernel};
use hapscope_core::library::{Library, LibraryBuilder};
use hapscope_core::predict::Predictor;
use hapscope_core::similarity::{dot, normalize};
use proptest::prelude::*;

/// A kernel that returns the canonical value plus a deterministic pseudo-random error of up
/// to ±`bound`, as a worst-case stand-in for a BLAS kernel that sums in another order.
struct NoisyKernel {
    bound: f32,
    seed: u32,
}

impl SimilarityKernel for NoisyKernel {
    fn dots(&self, q: &[f32], p: &[f32], dim: usize, out: &mut [f32]) {
        PlainKernel.dots(q, p, dim, out);
        for (k, o) in out.iter_mut().enumerate() {
            let h = (k as u32 ^ self.seed)
                .wrapping_mul(0x9E37_79B9)
                .rotate_left(13)
                .wrapping_mul(0x85EB_CA6B);
            let unit = (h >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0; // [-1, 1)
            *o += unit * self.bound * 0.999;
        }
    }
    fn error_bound(&self, _dim: usize) -> f32 {
        self.bound
    }
}

/// Clustered data: `protos` random directions, each row a prototype plus noise of random
/// size, with occasional zero rows and exact repeats — so libraries are neither empty nor
/// everything.
fn dataset() -> impl Strategy<Value = (usize, Vec<f32>)> {
    (1usize..24, 1usize..6, 1usize..120, any::<u64>()).prop_map(|(dim, protos, rows, seed)| {
        let mut s = seed | 1;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        };
        let centres: Vec<Vec<f32>> = (0..protos)
            .map(|_| (0..dim).map(|_| rnd()).collect())
            .collect();
        let mut data = Vec::with_capacity(rows * dim);
        for r in 0..rows {
            let kind = (rnd() + 1.0) * 10.0;
            if kind < 0.6 {
                data.extend(std::iter::repeat_n(0.0, dim));
            } else if kind < 1.2 && r > 0 {
                let src = ((rnd() + 1.0) / 2.0 * r as f32) as usize % r;
                let row: Vec<f32> = data[src * dim..][..dim].to_vec();
                data.extend(row);
            } else {
                let c = &centres[((rnd() + 1.0) / 2.0 * protos as f32) as usize % protos];
                let noise = (rnd() + 1.0) * 0.6;
                data.extend(c.iter().map(|&x| x + noise * rnd()));
            }
        }
        (dim, data)
    })
}

/// An independent reference: f64 cosine, stored iff max < θ.
fn reference_f64(haps: &[f32], dim: usize, theta: f32) -> (Vec<u32>, f64) {
    let mut nodes: Vec<Vec<f64>> = Vec::new();
    let mut ids = Vec::new();
    let mut margin = f64::INFINITY;
    for (k, row) in haps.chunks_exact(dim).enumerate() {
        let n: f64 = row
            .iter()
            .map(|&x| f64::from(x).powi(2))
            .sum::<f64>()
            .sqrt();
        if n == 0.0 {
            continue;
        }
        let u: Vec<f64> = row.iter().map(|&x| f64::from(x) / n).collect();
        let best = nodes
            .iter()
            .map(|v| v.iter().zip(&u).map(|(a, b)| a * b).sum::<f64>())
            .fold(f64::NEG_INFINITY, f64::max);
        if best.is_finite() {
            margin = margin.min((best - f64::from(theta)).abs());
        }
        if best < f64::from(theta) {
            nodes.push(u);
            ids.push(k as u32);
        }
    }
    (ids, margin)
}

fn build_batched<K: SimilarityKernel>(
    haps: &[f32],
    dim: usize,
    theta: f32,
    block: usize,
    split: usize,
    kernel: K,
) -> Library {
    let mut b = LibraryBuilder::new(dim, theta, kernel)
        .unwrap()
        .with_block(block)
        .unwrap();
    let split_at = (split % (haps.len() / dim + 1)) * dim;
    b.push(&haps[..split_at]).unwrap();
    b.push(&haps[split_at..]).unwrap();
    b.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn batched_equals_sequential((dim, haps) in dataset(), theta in -0.2f32..1.0, block in 1usize..70, split in 0usize..200) {
        let seq = Library::build_sequential(&haps, dim, theta).unwrap();
        let plain = build_batched(&haps, dim, theta, block, split, PlainKernel);
        prop_assert_eq!(&plain, &seq);
    }

    #[test]
    fn batched_with_inexact_kernel_equals_sequential(
        (dim, haps) in dataset(), theta in -0.2f32..1.0, block in 1usize..70, split in 0usize..200,
        bound in 0.0f32..0.2, seed in any::<u32>(),
    ) {
        let seq = Library::build_sequential(&haps, dim, theta).unwrap();
        let noisy = build_batched(&haps, dim, theta, block, split, NoisyKernel { bound, seed });
        prop_assert_eq!(&noisy, &seq);
    }

    #[test]
    fn screened_build_equals_sequential(
        (dim, haps) in dataset(), theta in -0.2f32..1.0, block in 1usize..70, split in 0usize..200,
        k in 1usize..8, candidates in 1usize..4, seed in any::<u64>(), bound in 0.0f32..0.1,
    ) {
        let seq = Library::build_sequential(&haps, dim, theta).unwrap();
        let mut b = LibraryBuilder::new(dim, theta, NoisyKernel { bound, seed: seed as u32 }).unwrap()
            .with_block(block).unwrap()
            .with_screen(k, candidates, seed).unwrap();
        let split_at = (split % (haps.len() / dim + 1)) * dim;
        b.push(&haps[..split_at]).unwrap();
        b.push(&haps[split_at..]).unwrap();
        prop_assert_eq!(&b.finish(), &seq);
    }

    #[test]
    fn screen_set_after_a_push_equals_sequential(
        (dim, haps) in dataset(), theta in -0.2f32..1.0, block in 1usize..70, split in 0usize..200,
        k in 1usize..8, candidates in 1usize..4, seed in any::<u64>(), bound in 0.0f32..0.1,
    ) {
        // The nodes stored before the screen exists are projected into it when it is set.
        let seq = Library::build_sequential(&haps, dim, theta).unwrap();
        let mut b = LibraryBuilder::new(dim, theta, NoisyKernel { bound, seed: seed as u32 }).unwrap()
            .with_block(block).unwrap();
        let split_at = (split % (haps.len() / dim + 1)) * dim;
        b.push(&haps[..split_at]).unwrap();
        let mut b = b.with_screen(k, candidates, seed).unwrap();
        b.push(&haps[split_at..]).unwrap();
        prop_assert_eq!(&b.finish(), &seq);
    }

    #[test]
    fn definition_agrees_with_f64_reference((dim, haps) in dataset(), theta in -0.2f32..0.99) {
        let (ids, margin) = reference_f64(&haps, dim, theta);
        prop_assume!(margin > 1e-4);
        let lib = Library::build_sequential(&haps, dim, theta).unwrap();
        prop_assert_eq!(lib.source_ids(), &ids[..]);
    }

    #[test]
    fn stored_patterns_score_one_and_are_not_stored_again((dim, haps) in dataset(), theta in -0.2f32..0.999) {
        let mut lib = Library::build_sequential(&haps, dim, theta).unwrap();
        let n = lib.len();
        for i in 0..n {
            let s = dot(lib.node(i), lib.node(i));
            prop_assert!((1.0 - s).abs() <= dim as f32 * f32::EPSILON, "{}", s);
        }
        for (k, row) in haps.chunks_exact(dim).enumerate() {
            let mut u = vec![0.0; dim];
            if normalize(row, &mut u) && theta < 1.0 - dim as f32 * f32::EPSILON {
                prop_assert!(!lib.offer(row, k as u32 + 1_000_000).unwrap());
            }
        }
        prop_assert_eq!(lib.len(), n);
    }

    #[test]
    fn predictions_do_not_depend_on_the_kernel(
        (dim, haps) in dataset(), theta in 0.0f32..0.95, a in 1usize..25, bound in 0.0f32..0.1, seed in any::<u32>(),
    ) {
        let lib = Library::build_sequential(&haps, dim, theta).unwrap();
        prop_assume!(!lib.is_empty());
        let classes = 4;
        let mut acc = HebbianAccumulator::new(lib.len(), classes).unwrap();
        let mut sims = vec![0.0; lib.len()];
        for (k, row) in haps.chunks_exact(dim).enumerate() {
            let mut u = vec![0.0; dim];
            normalize(row, &mut u);
            lib.similarities(&u, &PlainKernel, &mut sims).unwrap();
            acc.add(&sims, k % classes).unwrap();
        }
        let links = acc.finish();
        let p = Predictor::new(&lib, &links, a).unwrap();
        let m = haps.len() / dim;
        let (mut exact, mut noisy) = (vec![0.0; m * classes], vec![0.0; m * classes]);
        let mut nz = vec![false; m];
        p.scores(&haps, &PlainKernel, &mut exact, &mut nz).unwrap();
        p.scores(&haps, &NoisyKernel { bound, seed }, &mut noisy, &mut nz).unwrap();
        let eb: Vec<u32> = exact.iter().map(|x| x.to_bits()).collect();
        let nb: Vec<u32> = noisy.iter().map(|x| x.to_bits()).collect();
        prop_assert_eq!(eb, nb);
    }

    #[test]
    fn auroc_is_antisymmetric_and_rank_based(
        pos in prop::collection::vec(-5i32..5, 1..40), neg in prop::collection::vec(-5i32..5, 1..40),
    ) {
        let p: Vec<f64> = pos.iter().map(|&x| f64::from(x)).collect();
        let n: Vec<f64> = neg.iter().map(|&x| f64::from(x)).collect();
        let a = auroc(&p, &n).unwrap();
        prop_assert!((a + auroc(&n, &p).unwrap() - 1.0).abs() < 1e-12);
        let f = |v: &[f64]| v.iter().map(|x| (x * 0.7).exp() + 3.0).collect::<Vec<_>>();
        prop_assert!((a - auroc(&f(&p), &f(&n)).unwrap()).abs() < 1e-12);
        // Brute force over pairs.
        let mut wins = 0.0;
        for x in &p { for y in &n { wins += if x > y { 1.0 } else if x == y { 0.5 } else { 0.0 }; } }
        prop_assert!((a - wins / (p.len() * n.len()) as f64).abs() < 1e-12);
    }

    #[test]
    fn cpl_is_permutation_invariant(layers in prop::collection::vec(prop::collection::vec(-3.0f32..3.0, 5), 2..6), rot in 0usize..6) {
        let refs: Vec<&[f32]> = layers.iter().map(|v| &v[..]).collect();
        let mut perm = refs.clone();
        perm.rotate_left(rot % refs.len());
        perm.reverse();
        for v in CplVariant::ALL {
            let a = cpl(&refs, v).unwrap();
            let b = cpl(&perm, v).unwrap();
            prop_assert!((a - b).abs() < 1e-9, "{} vs {}", a, b);
            prop_assert!((-1.0 - 1e-9..=1.0 + 1e-9).contains(&a));
        }
    }

    #[test]
    fn artifact_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = LibraryArtifact::decode(&bytes);
    }

    #[test]
    fn artifact_round_trips((dim, haps) in dataset(), theta in 0.0f32..1.0, with_vectors in any::<bool>()) {
        let lib = Library::build_sequential(&haps, dim, theta).unwrap();
        let mut acc = HebbianAccumulator::new(lib.len(), 3).unwrap();
        acc.add(&vec![0.25; lib.len()], 2).unwrap();
        let art = LibraryArtifact::new("FC1", &lib, &acc.finish(), with_vectors).unwrap();
        let back = LibraryArtifact::decode(&art.encode()).unwrap();
        prop_assert_eq!(&back, &art);
        if with_vectors {
            prop_assert_eq!(back.library().unwrap().unwrap(), lib);
        }
    }
}
