//! Similarity throughput: a block of 256 unit queries against a library of unit nodes.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use hapscope_core::kernel::{PlainKernel, SimilarityKernel};
use hapscope_models::kernel::GemmKernel;

use crate::data::unit_rows;

const QUERIES: usize = 256;

pub fn similarity(c: &mut Criterion) {
    let mut g = c.benchmark_group("similarity");
    for dim in [500usize, 3200, 11_520] {
        let q = unit_rows(QUERIES, dim, 3);
        for nodes in [1000usize, 10_000] {
            let p = unit_rows(nodes, dim, 4);
            let mut out = vec![0.0f32; QUERIES * nodes];
            g.throughput(Throughput::Elements((2 * QUERIES * nodes * dim) as u64));
            let id = format!("d{dim}_n{nodes}");
            g.bench_with_input(BenchmarkId::new("gemm", &id), &(), |b, _| {
                b.iter(|| GemmKernel::new(0).dots(black_box(&q), black_box(&p), dim, &mut out))
            });
            g.bench_with_input(BenchmarkId::new("plain", &id), &(), |b, _| {
                b.iter(|| PlainKernel.dots(black_box(&q), black_box(&p), dim, &mut out))
            });
        }
    }
    g.finish();
}
