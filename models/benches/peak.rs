//! The yardstick: the `gemm` crate's f32 GEMM on square problems, with every core. The
//! machine's practical f32 peak is the best of these (and of any GEMM shape measured in
//! the same run).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use hapscope_core::kernel::SimilarityKernel;
use hapscope_models::kernel::GemmKernel;

use crate::data::uniform;

pub fn peak(c: &mut Criterion) {
    let mut g = c.benchmark_group("peak");
    for n in [512usize, 1024, 2048] {
        let a = uniform(n, n, 1);
        let b = uniform(n, n, 2);
        let mut out = vec![0.0f32; n * n];
        g.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        g.bench_with_input(BenchmarkId::new("gemm_f32_square", n), &(), |bench, _| {
            bench.iter(|| GemmKernel::new(0).dots(black_box(&a), black_box(&b), n, &mut out))
        });
    }
    g.finish();
}
