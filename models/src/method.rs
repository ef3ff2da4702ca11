//! The method end to end on in-memory HAP matrices: build a layer's library, link it to the
//! network's answers, predict test answers — streaming rows in blocks through the core, with
//! a progress callback. Shared by the CLI commands and (later) the figure pipeline.
//!
//! Everything here is orchestration; the arithmetic is `hapscope-core`'s.

use hapscope_core::Result;
use hapscope_core::hebbian::{HebbianAccumulator, Links};
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::library::{BuildStats, Library, LibraryBuilder, normalize_rows};
use hapscope_core::predict::{Predictor, top_k};

/// Rows handed to the core per step: bounds the similarity scratch (`STEP × nodes`
/// floats) and sets the progress granularity.
pub const STEP: usize = 1024;

/// Projected dimensions of the build's screen (see `hapscope_core::screen`).
pub const SCREEN_K: usize = 256;
/// Candidate nodes the screen checks per query.
pub const SCREEN_CANDIDATES: usize = 3;
/// The screen is used for HAPs at least this long (shorter ones gain nothing from it).
pub const SCREEN_MIN_DIM: usize = 4 * SCREEN_K;

/// Builds the library of `haps` (row-major, `dim` columns, training order) at θ.
/// `screen` allows the exact random-projection shortcut when `dim ≥ SCREEN_MIN_DIM`
/// (the library is the same either way). `progress` is called with the number of rows
/// just processed.
pub fn build_library<K: SimilarityKernel>(
    haps: &[f32],
    dim: usize,
    theta: f32,
    kernel: K,
    screen: bool,
    progress: &mut dyn FnMut(usize),
) -> Result<(Library, BuildStats)> {
    let mut builder = LibraryBuilder::new(dim, theta, kernel)?;
    if screen && dim >= SCREEN_MIN_DIM {
        builder = builder.with_screen(SCREEN_K, SCREEN_CANDIDATES, 0x4841_5053)?;
    }
    for chunk in haps.chunks(STEP * dim) {
        builder.push(chunk)?;
        progress(chunk.len() / dim);
    }
    let stats = builder.stats();
    Ok((builder.finish(), stats))
}

/// Eq. 2 over all training rows: the links from `library`'s nodes to the network's
/// `answers` (one per row of `haps`).
pub fn hebbian_links<K: SimilarityKernel>(
    library: &Library,
    haps: &[f32],
    answers: &[usize],
    classes: usize,
    kernel: &K,
    progress: &mut dyn FnMut(usize),
) -> Result<Links> {
    let dim = library.dim();
    let n = library.len();
    let mut acc = HebbianAccumulator::new(n, classes)?;
    let mut unit = vec![0.0; STEP * dim];
    let mut nonzero = vec![false; STEP];
    let mut sims = vec![0.0; STEP * n];
    for (chunk, ans) in haps.chunks(STEP * dim).zip(answers.chunks(STEP)) {
        let m = chunk.len() / dim;
        normalize_rows(chunk, dim, &mut unit[..m * dim], &mut nonzero[..m]);
        library.similarities(&unit[..m * dim], kernel, &mut sims[..m * n])?;
        for (row, &a) in sims[..m * n].chunks_exact(n.max(1)).zip(ans) {
            acc.add(&row[..n], a)?;
        }
        progress(m);
    }
    Ok(acc.finish())
}

/// Class scores `P` (Eq. 3) for every row of `haps`: `rows × classes`, row-major.
pub fn predict_scores<K: SimilarityKernel>(
    predictor: &Predictor<'_>,
    haps: &[f32],
    dim: usize,
    kernel: &K,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<f32>> {
    let classes = predictor.classes();
    let rows = haps.len() / dim;
    let mut scores = vec![0.0; rows * classes];
    let mut nonzero = vec![false; STEP];
    for (chunk, out) in haps
        .chunks(STEP * dim)
        .zip(scores.chunks_mut(STEP * classes))
    {
        let m = chunk.len() / dim;
        predictor.scores(chunk, kernel, out, &mut nonzero[..m])?;
        progress(m);
    }
    Ok(scores)
}

/// Agreement of per-row class scores with reference answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Fraction of rows whose top-1 class equals the answer.
    pub top1: f64,
    /// Fraction of rows whose answer is among the top 3 classes.
    pub top3: f64,
    /// The top-1 class of each row.
    pub predictions: Vec<usize>,
}

/// Top-1 and within-top-3 agreement of `scores` (`rows × classes`) with `answers`.
pub fn agreement(scores: &[f32], classes: usize, answers: &[usize]) -> Agreement {
    let (mut hit1, mut hit3) = (0usize, 0usize);
    let mut predictions = Vec::with_capacity(answers.len());
    for (row, &a) in scores.chunks_exact(classes).zip(answers) {
        let top = top_k(row, 3);
        hit1 += usize::from(top[0] == a);
        hit3 += usize::from(top.contains(&a));
        predictions.push(top[0]);
    }
    let n = answers.len().max(1) as f64;
    Agreement {
        top1: hit1 as f64 / n,
        top3: hit3 as f64 / n,
        predictions,
    }
}
