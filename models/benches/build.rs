//! A full-scale library build: 60,000 rows × 11,520 dims (the size of MNIST's CN1 layer)
//! reaching ≈ 3,000 nodes at θ = 0.8 — every row matched in full (`gemm`), and with the
//! exact random-projection screen first (`gemm_screen`, the CLI's default). Both count the
//! full build's similarity flops, so their throughputs compare as speeds.

use criterion::{Criterion, SamplingMode, Throughput};
use hapscope_core::library::LibraryBuilder;
use hapscope_models::kernel::GemmKernel;
use hapscope_models::method::{SCREEN_CANDIDATES, SCREEN_K};

use crate::data::clustered;

const DIM: usize = 11_520;
const CLUSTERS: usize = 3000;
const THETA: f32 = 0.8;

pub fn build(c: &mut Criterion) {
    let rows: usize = std::env::var("HAPSCOPE_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60_000);
    let haps = clustered(rows, DIM, CLUSTERS, 0.4, 5);

    // One untimed build to count the similarities the batched build needs (Σ over rows of
    // the library size it is matched against), which sets the throughput.
    let mut b = LibraryBuilder::new(DIM, THETA, GemmKernel::new(0)).unwrap();
    let mut flops = 0u64;
    for chunk in haps.chunks(256 * DIM) {
        flops += 2 * (chunk.len() / DIM * b.library().len() * DIM) as u64;
        b.push(chunk).unwrap();
    }
    let nodes = b.finish().len();
    eprintln!(
        "build: {rows} rows x {DIM} dims at θ = {THETA} -> {nodes} nodes; {:.2} TFLOP of matching",
        flops as f64 / 1e12
    );

    let mut g = c.benchmark_group("build");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(flops));
    for screen in [false, true] {
        let name = if screen { "gemm_screen" } else { "gemm" };
        g.bench_function(format!("{name}_{rows}x{DIM}_{nodes}_nodes"), |bench| {
            bench.iter(|| {
                let mut b = LibraryBuilder::new(DIM, THETA, GemmKernel::new(0)).unwrap();
                if screen {
                    b = b.with_screen(SCREEN_K, SCREEN_CANDIDATES, 1).unwrap();
                }
                b.push(&haps).unwrap();
                b.finish().len()
            })
        });
    }
    g.finish();
}
