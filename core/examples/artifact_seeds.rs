//! Writes small valid library artifacts into a directory: the seed corpus of the
//! `artifact_decode` fuzz target (`core/fuzz/corpus/artifact_decode`).
//!
//! ```text
//! cargo run -p hapscope-core --example artifact_seeds -- core/fuzz/corpus/artifact_decode
//! ```

use hapscope_core::artifact::LibraryArtifact;
use hapscope_core::hebbian::HebbianAccumulator;
use hapscope_core::kernel::PlainKernel;
use hapscope_core::library::LibraryBuilder;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: artifact_seeds DIR");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (dim, rows, classes, with_vectors)) in [
        (1, 2, 1, true),
        (3, 6, 2, true),
        (4, 9, 10, false),
        (8, 20, 3, true),
    ]
    .into_iter()
    .enumerate()
    {
        let haps: Vec<f32> = (0..rows * dim)
            .map(|k| ((k * 37 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let mut b = LibraryBuilder::new(dim, 0.6, PlainKernel).unwrap();
        b.push(&haps).unwrap();
        let lib = b.finish();
        let mut acc = HebbianAccumulator::new(lib.len(), classes).unwrap();
        acc.add(&vec![0.9; lib.len()], classes - 1).unwrap();
        let art = LibraryArtifact::new(
            ["CN1", "FC", "", "CL3"][i],
            &lib,
            &acc.finish(),
            with_vectors,
        )
        .unwrap();
        std::fs::write(format!("{dir}/seed-{i}.haplib"), art.encode()).unwrap();
    }
}
