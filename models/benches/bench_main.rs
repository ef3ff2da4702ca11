//! Criterion benchmarks of library matching, run side by side in one process so the ratios
//! mean something:
//!
//! - `peak`: the `gemm` crate's f32 matrix multiply on square 2048³ — this machine's
//!   practical f32 peak, the yardstick;
//! - `similarity`: 256 queries against 1k / 10k nodes at dims 500 / 3,200 / 11,520, with the
//!   core's portable [`PlainKernel`] and with [`GemmKernel`];
//! - `build`: a 60,000 × 11,520 library reaching ≈ 3,000 nodes at θ = 0.8, with the
//!   `GemmKernel` (throughput counts the similarities the build actually needed).
//!
//! Throughput is reported in "elements" = floating-point operations, so criterion's
//! `Gelem/s` reads as GFLOP/s. `HAPSCOPE_BENCH_ROWS` shrinks the build for quick runs.
//!
//! ```text
//! cargo bench -p hapscope-models --bench bench_main
//! ```

mod build;
mod data;
mod peak;
mod similarity;

criterion::criterion_group! {
    name = benches;
    config = criterion::Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(500));
    targets = peak::peak, similarity::similarity, build::build
}
criterion::criterion_main!(benches);
