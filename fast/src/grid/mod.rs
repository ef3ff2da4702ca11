//! The θ-grid pass: one layer's libraries at every θ of a grid, their links (Eq. 2) and
//! their predictions (Eq. 3), computed once over the **union** of the grid's nodes and
//! screened by exact subspace bounds ([`hapscope_core::subspace`]).
//!
//! Two facts make this fast (DESIGN.md, "Speed facts for θ sweeps"):
//! - a node is a training HAP, so its cosine to any HAP does not depend on θ: the libraries
//!   of a grid share most of their nodes, and the similarities behind every library's
//!   links and predictions are columns of one product against the union;
//! - most of those similarities need not be computed in full. Each HAP is sketched by its
//!   coordinates in a 128-direction subspace fitted to the layer's first rows (plus a
//!   residual radius), and the bounds of [`Subspace::bounds`] settle most decisions: a
//!   node is novel at θ unless some node's canonical cosine reaches θ; a link term is
//!   summed only at or above [`hapscope_core::hebbian::LINK_FLOOR`]; a prediction needs the
//!   top-a nodes. Only pairs whose interval straddles the decision are computed in full,
//!   with the canonical [`hapscope_core::similarity::dot`].
//!
//! So the results are **those of the one-θ-at-a-time definitions, bit for bit**: every
//! library equals [`hapscope_core::library::LibraryBuilder`]'s (and so the sequential
//! `Library::offer`), every link weight [`crate::method::LinkBuilder`]'s and every class
//! score [`hapscope_core::predict::Predictor`]'s (tested in `tests/grid.rs`). The subspace
//! changes only the speed. Without the screen (`screen = false`, the CLI's `--no-screen`)
//! the subspace is the identity and every similarity comes from the full product. Where no
//! subspace comes close to the HAPs (median radius above 0.5) the products are full too, and the build
//! puts the random-projection candidate screen of `hapscope_core::screen` in front of them,
//! while the links bound each row's pairs through an anchor node the build found for it (the
//! triangle inequality on angles; `links.rs`).

mod basis;
mod build;
mod canonical;
mod links;
mod predict;

pub use build::{GridBuilder, GridStats};
pub use links::GridLinkBuilder;
pub use predict::GridPredictor;

use hapscope_core::Result;
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::library::{Library, check_rows, normalize_rows};
use hapscope_core::subspace::Subspace;

/// Directions of the subspace screen.
pub const SUBSPACE_K: usize = 128;
/// HAPs shorter than this are matched in full (identity subspace): a sketch would not be
/// much shorter than the HAP.
pub const SUBSPACE_MIN_DIM: usize = 2 * SUBSPACE_K;
/// Training rows the subspace is fitted to (the first ones; the fit waits for them).
pub const BASIS_ROWS: usize = 2048;
/// Nodes per page of the union's vectors.
const PAGE_NODES: usize = 256;
/// Rows per product of the sketch.
const SKETCH_ROWS: usize = 128;
/// Columns per `f32` product of the sketch's coordinates ([`Subspace::with_f32_slices`]):
/// short enough that the bounds barely widen, long enough for gemm's micro-kernels.
pub const F32_SLICE: usize = 128;
/// Rows per step of every pass: bounds the scratch (`BLOCK × union` similarities).
pub const BLOCK: usize = 256;

/// One layer's libraries over a θ grid, stored once: the union of their nodes, each with
/// its sketch, and for each θ the (ascending) union indices of its nodes.
#[derive(Debug, Clone)]
pub struct GridLayer {
    subspace: Subspace,
    thetas: Vec<f32>,
    /// Node vectors in pages of [`PAGE_NODES`] (growing one big vector would copy it over
    /// and over).
    vectors: Vec<Vec<f32>>,
    coords: Vec<f32>,
    radius: Vec<f32>,
    source_ids: Vec<u32>,
    members: Vec<Vec<u32>>,
    /// The build's sketches of every training row (coordinates, radius, content hash),
    /// reused by the links pass when it is fed the same rows; empty for the identity.
    row_coords: Vec<f32>,
    row_radius: Vec<f32>,
    row_hash: Vec<u64>,
    /// With full products and the candidate screen: per training row, a node and the row's
    /// canonical cosine to it (`u32::MAX` for a zero row), for the links' anchor screen.
    anchors: Vec<(u32, f32)>,
}

impl GridLayer {
    fn new(subspace: Subspace, thetas: Vec<f32>) -> Self {
        let members = vec![Vec::new(); thetas.len()];
        GridLayer {
            subspace,
            thetas,
            vectors: Vec::new(),
            coords: Vec::new(),
            radius: Vec::new(),
            source_ids: Vec::new(),
            members,
            row_coords: Vec::new(),
            row_radius: Vec::new(),
            row_hash: Vec::new(),
            anchors: Vec::new(),
        }
    }

    /// HAP length.
    pub fn dim(&self) -> usize {
        self.subspace.dim()
    }

    /// The θ grid.
    pub fn thetas(&self) -> &[f32] {
        &self.thetas
    }

    /// The screen's subspace (the identity without the screen).
    pub fn subspace(&self) -> &Subspace {
        &self.subspace
    }

    /// Number of distinct nodes over the grid.
    pub fn union_len(&self) -> usize {
        self.source_ids.len()
    }

    /// Library sizes per θ.
    pub fn sizes(&self) -> Vec<usize> {
        self.members.iter().map(Vec::len).collect()
    }

    /// Union indices of the nodes of the library at `thetas()[t]`, in creation order.
    pub fn members(&self, t: usize) -> &[u32] {
        &self.members[t]
    }

    fn vector(&self, j: usize) -> &[f32] {
        let dim = self.dim();
        &self.vectors[j / PAGE_NODES][(j % PAGE_NODES) * dim..][..dim]
    }

    fn push_node(&mut self, unit: &[f32], coords: &[f32], radius: f32, source_id: u32) -> u32 {
        let u = self.source_ids.len() as u32;
        if u as usize % PAGE_NODES == 0 {
            self.vectors
                .push(Vec::with_capacity(PAGE_NODES * self.dim()));
        }
        self.vectors
            .last_mut()
            .expect("a page")
            .extend_from_slice(unit);
        self.coords.extend_from_slice(coords);
        self.radius.push(radius);
        self.source_ids.push(source_id);
        u
    }

    /// Keeps the build's sketches of rows `row_hash.len()..` (they arrive in order).
    fn keep_sketches(&mut self, raw: &[f32], sk: &Sketched, anchored: bool) {
        if self.subspace.is_identity() {
            if anchored {
                self.row_hash.extend(row_hashes(raw, self.dim()));
            }
            return;
        }
        self.row_coords.extend_from_slice(&sk.coords);
        self.row_radius.extend_from_slice(&sk.radius);
        self.row_hash.extend(row_hashes(raw, self.dim()));
    }

    /// Whether training rows `first..first + rows` are exactly those the build saw there.
    fn same_rows(&self, first: usize, raw: &[f32]) -> bool {
        let rows = raw.len() / self.dim();
        self.row_hash
            .get(first..first + rows)
            .is_some_and(|hashes| row_hashes(raw, self.dim()) == hashes)
    }

    /// The sketches of training rows `first..first + rows` if the build saw exactly these
    /// rows there (content hashes equal), so the links pass need not project them again.
    /// `unit` is storage to reuse for the unit rows (its contents are overwritten).
    fn cached_sketch(&self, first: usize, raw: &[f32], mut unit: Vec<f32>) -> Option<Sketched> {
        if self.subspace.is_identity() {
            return None;
        }
        let dim = self.dim();
        let rows = raw.len() / dim;
        let hashes = self.row_hash.get(first..first + rows)?;
        if row_hashes(raw, dim) != hashes {
            return None;
        }
        let k = self.subspace.k();
        unit.resize(raw.len(), 0.0);
        let mut nonzero = vec![false; rows];
        par_normalize(raw, dim, &mut unit, &mut nonzero);
        Some(Sketched {
            rows,
            unit,
            nonzero,
            coords: self.row_coords[first * k..(first + rows) * k].to_vec(),
            radius: self.row_radius[first..first + rows].to_vec(),
        })
    }

    /// The library at `thetas()[t]`.
    pub fn library(&self, t: usize) -> Result<Library> {
        let members = &self.members[t];
        let dim = self.dim();
        let mut vectors = Vec::with_capacity(members.len() * dim);
        for &j in members {
            vectors.extend_from_slice(self.vector(j as usize));
        }
        let ids = members
            .iter()
            .map(|&j| self.source_ids[j as usize])
            .collect();
        Library::from_parts(dim, self.thetas[t], vectors, ids)
    }

    /// Every library of the grid, in θ order.
    pub fn libraries(&self) -> Result<Vec<Library>> {
        (0..self.thetas.len()).map(|t| self.library(t)).collect()
    }
}

/// A block of rows made unit, with their sketches.
struct Sketched {
    rows: usize,
    unit: Vec<f32>,
    nonzero: Vec<bool>,
    coords: Vec<f32>,
    radius: Vec<f32>,
}

impl Sketched {
    fn unit(&self, i: usize) -> &[f32] {
        let dim = self.unit.len() / self.rows.max(1);
        &self.unit[i * dim..][..dim]
    }
}

/// One slice of [`sketch`]'s work: raw rows, and where their unit rows, non-zero flags,
/// coordinates and radii go.
type SketchSlice<'a> = (
    ((&'a [f32], &'a mut [f32]), &'a mut [bool]),
    (&'a mut [f32], &'a mut [f32]),
);

/// Normalizes raw rows and computes their coordinates (within the subspace's
/// [`Subspace::coordinate_tolerance`], as the bounds assume) and radii — in slices of
/// [`SKETCH_ROWS`] rows on every core, a kernel call per slice, written in place (each row's sketch depends on that row alone, so the slicing
/// changes no value; measured faster than one threaded product per block).
fn sketch<K: SimilarityKernel + Sync>(subspace: &Subspace, kernel: &K, raw: &[f32]) -> Sketched {
    let dim = subspace.dim();
    let rows = raw.len() / dim;
    let k = subspace.k();
    let mut out = Sketched {
        rows,
        unit: vec![0.0; raw.len()],
        nonzero: vec![false; rows],
        coords: vec![0.0; rows * k],
        radius: vec![0.0; rows],
    };
    let one = |(((raw, unit), nonzero), (coords, radius)): SketchSlice<'_>| {
        normalize_rows(raw, dim, unit, nonzero);
        coordinates(subspace, kernel, unit, coords);
        for (r, c) in radius.iter_mut().zip(coords.chunks_exact(k)) {
            *r = subspace.radius(c);
        }
    };
    let n = SKETCH_ROWS;
    #[cfg(feature = "gemm")]
    {
        use rayon::prelude::*;
        raw.par_chunks(n * dim)
            .zip(out.unit.par_chunks_mut(n * dim))
            .zip(out.nonzero.par_chunks_mut(n))
            .zip(
                out.coords
                    .par_chunks_mut(n * k)
                    .zip(out.radius.par_chunks_mut(n)),
            )
            .for_each(one);
    }
    #[cfg(not(feature = "gemm"))]
    raw.chunks(n * dim)
        .zip(out.unit.chunks_mut(n * dim))
        .zip(out.nonzero.chunks_mut(n))
        .zip(out.coords.chunks_mut(n * k).zip(out.radius.chunks_mut(n)))
        .for_each(one);
    out
}

/// Coordinates of unit rows in `subspace`: `f32` slices summed in `f64` where the subspace
/// allows them ([`Subspace::with_f32_slices`]: gemm's `f32` kernels on the rows as they
/// are, where `f64` products need them copied to `f64` first; measured on 10,000 CN2 test
/// rows, predictions 0.20 → 0.15 s), `f64` products otherwise.
fn coordinates<K: SimilarityKernel>(
    subspace: &Subspace,
    kernel: &K,
    unit: &[f32],
    coords: &mut [f32],
) {
    if subspace.is_identity() {
        coords.copy_from_slice(unit);
        return;
    }
    let dim = subspace.dim();
    let mut c = vec![0.0f64; coords.len()];
    match subspace.f32_slice() {
        #[cfg(feature = "gemm")]
        slice @ 1.. => {
            crate::kernel::sliced_products(unit, subspace.basis_f32(), dim, slice, &mut c);
        }
        _ => {
            let q: Vec<f64> = unit.iter().map(|&v| f64::from(v)).collect();
            kernel.dots_f64(&q, subspace.basis(), dim, &mut c);
        }
    }
    for (o, v) in coords.iter_mut().zip(c) {
        *o = v as f32;
    }
}

/// [`row_hash`] of every row of `raw`, on every core.
fn row_hashes(raw: &[f32], dim: usize) -> Vec<u64> {
    let rows = raw.len() / dim;
    par_map(rows.div_ceil(SKETCH_ROWS), |s| {
        raw[s * SKETCH_ROWS * dim..][..(rows - s * SKETCH_ROWS).min(SKETCH_ROWS) * dim]
            .chunks_exact(dim)
            .map(row_hash)
            .collect::<Vec<_>>()
    })
    .concat()
}

/// [`normalize_rows`] in slices of rows on every core (each row on its own: same values).
fn par_normalize(raw: &[f32], dim: usize, unit: &mut [f32], nonzero: &mut [bool]) {
    #[cfg(feature = "gemm")]
    {
        use rayon::prelude::*;
        raw.par_chunks(SKETCH_ROWS * dim)
            .zip(unit.par_chunks_mut(SKETCH_ROWS * dim))
            .zip(nonzero.par_chunks_mut(SKETCH_ROWS))
            .for_each(|((r, u), nz)| normalize_rows(r, dim, u, nz));
    }
    #[cfg(not(feature = "gemm"))]
    normalize_rows(raw, dim, unit, nonzero);
}

/// A 64-bit content hash of a row's bits (four interleaved multiply–xorshift lanes).
fn row_hash(row: &[f32]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = [1u64, 2, 3, 4];
    let mut chunks = row.chunks_exact(4);
    for c in &mut chunks {
        for (l, &v) in c.iter().enumerate() {
            h[l] = (h[l] ^ u64::from(v.to_bits()))
                .wrapping_mul(K)
                .rotate_left(29);
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        h[l] = (h[l] ^ u64::from(v.to_bits()))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    h.iter().fold(row.len() as u64, |a, &x| {
        (a ^ x).wrapping_mul(K).rotate_left(31)
    })
}

/// `f(0..n)`, on every core when the crate has threads (`gemm` feature).
fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(feature = "gemm")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(f).collect()
    }
    #[cfg(not(feature = "gemm"))]
    {
        (0..n).map(f).collect()
    }
}
