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
use hapscope_core::similarity::dot;

use crate::grid::{GridBuilder, GridLayer, GridLinkBuilder};

/// Rows handed to the core per step: bounds the similarity scratch (`STEP × nodes`
/// floats) and sets the progress granularity.
pub const STEP: usize = 1024;

/// Projected dimensions of the build's screen (see `hapscope_core::screen`).
pub const SCREEN_K: usize = 256;
/// Candidate nodes the screen checks per query.
pub const SCREEN_CANDIDATES: usize = 3;
/// The screen is used for HAPs at least this long (shorter ones gain nothing from it).
pub const SCREEN_MIN_DIM: usize = 4 * SCREEN_K;

/// A batched library builder at θ, with the exact random-projection screen when `screen`
/// allows it and `dim ≥ SCREEN_MIN_DIM` (the library is the same either way). The one
/// place the screen's settings are chosen.
pub fn library_builder<K: SimilarityKernel>(
    dim: usize,
    theta: f32,
    kernel: K,
    screen: bool,
) -> Result<LibraryBuilder<K>> {
    let builder = LibraryBuilder::new(dim, theta, kernel)?;
    if screen && dim >= SCREEN_MIN_DIM {
        builder.with_screen(SCREEN_K, SCREEN_CANDIDATES, 0x4841_5053)
    } else {
        Ok(builder)
    }
}

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
    let mut builder = library_builder(dim, theta, kernel, screen)?;
    for chunk in haps.chunks(STEP * dim) {
        builder.push(chunk)?;
        progress(chunk.len() / dim);
    }
    let stats = builder.stats();
    Ok((builder.finish(), stats))
}

/// Eq. 2 fed block by block: the links of one library, accumulated as training HAPs stream
/// past (so activations never need to be held all at once). Machine-independent: terms
/// below `hebbian::LINK_FLOOR` are left out and the rest summed from canonical
/// similarities, so every kernel gives the same links, bit for bit.
pub struct LinkBuilder<'a> {
    library: &'a Library,
    acc: HebbianAccumulator,
    unit: Vec<f32>,
    nonzero: Vec<bool>,
    sims: Vec<f32>,
}

impl<'a> LinkBuilder<'a> {
    /// Links from `library`'s nodes to `classes` answers.
    pub fn new(library: &'a Library, classes: usize) -> Result<Self> {
        Ok(LinkBuilder {
            library,
            acc: HebbianAccumulator::new(library.len(), classes)?,
            unit: Vec::new(),
            nonzero: Vec::new(),
            sims: Vec::new(),
        })
    }

    /// Adds training rows (row-major HAPs) with the network's answers on them.
    pub fn add<K: SimilarityKernel>(
        &mut self,
        haps: &[f32],
        answers: &[usize],
        kernel: &K,
    ) -> Result<()> {
        let dim = self.library.dim();
        let n = self.library.len();
        let m = haps.len() / dim;
        if answers.len() != m {
            return Err(hapscope_core::Error::DimMismatch {
                expected: m,
                got: answers.len(),
            });
        }
        self.unit.resize(m * dim, 0.0);
        self.nonzero.resize(m, false);
        self.sims.resize(m * n, 0.0);
        normalize_rows(haps, dim, &mut self.unit, &mut self.nonzero);
        self.library
            .similarities(&self.unit, kernel, &mut self.sims)?;
        // The kernel's values decide only which entries are far below the link floor;
        // the rest are recomputed canonically (hebbian module docs), so the links are the
        // same bytes whatever kernel and CPU computed them.
        let tol = kernel.error_bound(dim);
        let library = self.library;
        for ((row, &a), unit) in self
            .sims
            .chunks_exact(n.max(1))
            .zip(answers)
            .zip(self.unit.chunks_exact(dim))
        {
            self.acc
                .add_kernel(&row[..n], tol, |j| dot(unit, library.node(j)), a)?;
        }
        Ok(())
    }

    /// The links.
    pub fn finish(self) -> Links {
        self.acc.finish()
    }
}

/// Pass 1 of the method for several layers at once, each at one or more θ: every library
/// of layer `l` at every θ of `grids[l]`, fed the same stream of training batches — the
/// θ-grid pass ([`crate::grid`]): the paper's sequential semantics per library, one set of
/// nodes per layer. With [`GridLinks`] (pass 2, over the same stream again) this is the one
/// two-pass builder of the experiments and the page's bundle.
pub struct GridLibraries<K> {
    layers: Vec<GridBuilder<K>>,
}

impl<K: SimilarityKernel + Clone + Sync> GridLibraries<K> {
    /// Builders for layers of HAP length `dims[l]` at the θs of `grids[l]`; `screen` allows
    /// the subspace screen (same libraries either way).
    pub fn new(dims: &[usize], grids: &[Vec<f32>], kernel: K, screen: bool) -> Result<Self> {
        if dims.len() != grids.len() {
            return Err(hapscope_core::Error::DimMismatch {
                expected: dims.len(),
                got: grids.len(),
            });
        }
        let layers = dims
            .iter()
            .zip(grids)
            .map(|(&dim, grid)| GridBuilder::new(dim, grid, kernel.clone(), screen))
            .collect::<Result<_>>()?;
        Ok(GridLibraries { layers })
    }

    /// Feeds layer `l`'s HAPs of the next training batch (row-major) to each of its θ.
    pub fn push(&mut self, l: usize, haps: &[f32]) -> Result<()> {
        self.layers[l].push(haps)
    }

    /// The libraries of every layer, as grid layers (`layer.library(t)` for θ `t`).
    pub fn finish(self) -> Result<Vec<GridLayer>> {
        self.layers
            .into_iter()
            .map(|b| b.finish().map(|(layer, _)| layer))
            .collect()
    }
}

/// Pass 2 for the layers of [`GridLibraries`]: the links of every layer × θ to `classes`
/// answers (Eq. 2), fed the training batches again in the same order.
pub struct GridLinks<'a, K> {
    layers: Vec<GridLinkBuilder<'a, K>>,
}

impl<'a, K: SimilarityKernel + Clone + Sync> GridLinks<'a, K> {
    /// Link builders for `layers[l]`.
    pub fn new(layers: &'a [GridLayer], classes: usize, kernel: K) -> Result<Self> {
        let layers = layers
            .iter()
            .map(|l| GridLinkBuilder::new(l, classes, kernel.clone()))
            .collect::<Result<_>>()?;
        Ok(GridLinks { layers })
    }

    /// Adds layer `l`'s HAPs of the next training batch with the network's answers on it.
    pub fn add(&mut self, l: usize, haps: &[f32], answers: &[usize]) -> Result<()> {
        self.layers[l].add(haps, answers)
    }

    /// The links, `[layer][θ]`.
    pub fn finish(self) -> Result<Vec<Vec<Links>>> {
        self.layers
            .into_iter()
            .map(GridLinkBuilder::finish)
            .collect()
    }
}

/// Every library of the θ grid `thetas` over all training rows of `haps` (row-major, `dim`
/// columns, training order), in one grid pass — the same nodes as the paper's sequential
/// build at each θ, bit for bit.
pub fn grid_of_rows<K: SimilarityKernel + Sync>(
    haps: &[f32],
    dim: usize,
    thetas: &[f32],
    kernel: K,
    screen: bool,
) -> Result<GridLayer> {
    let mut b = GridBuilder::new(dim, thetas, kernel, screen)?;
    for chunk in haps.chunks(STEP * dim) {
        b.push(chunk)?;
    }
    Ok(b.finish()?.0)
}

/// The links (Eq. 2) of every θ of `grid` from all training rows of `haps` and the
/// network's `answers` on them.
pub fn grid_links_of_rows<K: SimilarityKernel + Sync>(
    grid: &GridLayer,
    haps: &[f32],
    answers: &[usize],
    classes: usize,
    kernel: K,
) -> Result<Vec<Links>> {
    let mut l = GridLinkBuilder::new(grid, classes, kernel)?;
    for (chunk, ans) in haps.chunks(STEP * grid.dim()).zip(answers.chunks(STEP)) {
        l.add(chunk, ans)?;
    }
    l.finish()
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
    let mut links = LinkBuilder::new(library, classes)?;
    for (chunk, ans) in haps.chunks(STEP * dim).zip(answers.chunks(STEP)) {
        links.add(chunk, ans, kernel)?;
        progress(chunk.len() / dim);
    }
    Ok(links.finish())
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
