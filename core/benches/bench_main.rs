//! Criterion benchmarks of the core's per-example arithmetic (the matching kernels are
//! benchmarked side by side with the GEMM yardstick in `models/benches`):
//!
//! - `links`: Eq. 2 accumulation of one similarity row (3,000 nodes, 10 classes);
//! - `predict`: Eq. 3 top-a selection + class scores from one similarity row;
//! - `auroc`: Mann–Whitney over 2 × 10,000 scores.
//!
//! ```text
//! cargo bench -p hapscope-core --bench bench_main
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hapscope_core::auroc::auroc;
use hapscope_core::hebbian::HebbianAccumulator;
use hapscope_core::predict::{class_scores, top_nodes};

fn sims(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| libm::sinf((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) as f32))
        .collect()
}

fn links(c: &mut Criterion) {
    let row = sims(3000, 1);
    let mut acc = HebbianAccumulator::new(3000, 10).unwrap();
    let mut g = c.benchmark_group("links");
    g.throughput(Throughput::Elements(3000));
    g.bench_function("add_row_3000_nodes", |b| {
        b.iter(|| acc.add(black_box(&row), 3).unwrap())
    });
    g.finish();
}

fn predict(c: &mut Criterion) {
    let row = sims(3000, 2);
    let mut acc = HebbianAccumulator::new(3000, 10).unwrap();
    acc.add(&row, 1).unwrap();
    let links = acc.finish();
    let mut top = Vec::new();
    let mut scores = [0.0f32; 10];
    let mut g = c.benchmark_group("predict");
    for a in [3usize, 20] {
        g.bench_function(format!("top{a}_of_3000"), |b| {
            b.iter(|| {
                top_nodes(black_box(&row), a, 0.0, |j| row[j], &mut top);
                class_scores(&links, &top, &mut scores);
                scores[0]
            })
        });
    }
    g.finish();
}

fn auroc_bench(c: &mut Criterion) {
    let p: Vec<f64> = sims(10_000, 3).iter().map(|&x| f64::from(x)).collect();
    let n: Vec<f64> = sims(10_000, 4)
        .iter()
        .map(|&x| f64::from(x) - 0.1)
        .collect();
    c.bench_function("auroc_10k_vs_10k", |b| {
        b.iter(|| auroc(black_box(&p), black_box(&n)).unwrap())
    });
}

criterion_group!(benches, links, predict, auroc_bench);
criterion_main!(benches);
