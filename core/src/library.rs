//! Library networks: the novelty memory of one layer's HAPs (Lee 2019, §2.1).
//!
//! Training HAPs are offered in dataset order. The first (non-zero) one is stored; each
//! later one is stored iff its cosine similarity to **every** node stored so far is `< θ`
//! (its best match is below the novelty threshold θ). Each node remembers the index of the
//! training row that created it (its *source id*): on the page a node *is* that training
//! example, which gives "nearest stored exemplar" thumbnails for free.
//!
//! Similarity is the canonical one of [`crate::similarity`]. A zero-norm HAP has no
//! direction: it has similarity 0 to everything and is never stored (not even as the first
//! node), though it still consumes its source id.
//!
//! Two implementations, one result:
//! - [`Library::offer`] is the definition, one example at a time.
//! - [`LibraryBuilder`] is the batched build used at scale: a block of queries is matched
//!   against the whole library with one [`SimilarityKernel`] call (a matrix product), then
//!   the block is resolved sequentially, comparing each survivor with the nodes created
//!   earlier in the same block (one more kernel call on the block's survivors). Decisions
//!   within the kernel's error bound of θ are re-checked with the canonical
//!   [`crate::similarity::dot`], so the library is identical to the one-at-a-time
//!   definition for every kernel and block size (property-tested).
//!
//! Cost: a build over `N` rows reaching `L` nodes does about `2·N·L·dim` flops.

use alloc::vec;
use alloc::vec::Vec;

use crate::error::{Error, Result, check_finite};
use crate::kernel::SimilarityKernel;
use crate::screen::Screen;
use crate::similarity::{dot, normalize};

/// A built library: unit-norm node vectors in creation order, with their source ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Library {
    dim: usize,
    theta: f32,
    vectors: Vec<f32>,
    source_ids: Vec<u32>,
}

/// Checks that θ is a usable novelty threshold: finite and within [−1, 1].
pub fn check_theta(theta: f32) -> Result<()> {
    if theta.is_finite() && (-1.0..=1.0).contains(&theta) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "theta",
            reason: "must be a finite number in [-1, 1]",
        })
    }
}

fn check_dim(dim: usize) -> Result<()> {
    if dim == 0 {
        return Err(Error::InvalidParameter {
            name: "dim",
            reason: "must be at least 1",
        });
    }
    Ok(())
}

impl Library {
    /// An empty library for HAPs of length `dim` with novelty threshold `theta`.
    pub fn new(dim: usize, theta: f32) -> Result<Self> {
        check_dim(dim)?;
        check_theta(theta)?;
        Ok(Library {
            dim,
            theta,
            vectors: Vec::new(),
            source_ids: Vec::new(),
        })
    }

    /// Reassembles a library from stored parts (e.g. a decoded artifact).
    ///
    /// `vectors` holds `source_ids.len()` rows of `dim` values; they are taken as they are
    /// (already unit-norm, as [`Library::vectors`] returns them). Source ids must be
    /// strictly increasing, as a build creates them.
    pub fn from_parts(
        dim: usize,
        theta: f32,
        vectors: Vec<f32>,
        source_ids: Vec<u32>,
    ) -> Result<Self> {
        check_dim(dim)?;
        check_theta(theta)?;
        let expected = source_ids
            .len()
            .checked_mul(dim)
            .ok_or(Error::TooManyRows)?;
        if vectors.len() != expected {
            return Err(Error::DimMismatch {
                expected,
                got: vectors.len(),
            });
        }
        check_finite(&vectors)?;
        if source_ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::InvalidParameter {
                name: "source_ids",
                reason: "must be strictly increasing (creation order)",
            });
        }
        Ok(Library {
            dim,
            theta,
            vectors,
            source_ids,
        })
    }

    /// The one-at-a-time definition: offers one raw HAP, stores it if it is novel, and
    /// returns whether it was stored.
    ///
    /// Stored iff it is non-zero and `dot(u, node) < θ` for every node (`u` = the HAP
    /// normalized); the first non-zero HAP is always stored.
    pub fn offer(&mut self, hap: &[f32], source_id: u32) -> Result<bool> {
        if hap.len() != self.dim {
            return Err(Error::DimMismatch {
                expected: self.dim,
                got: hap.len(),
            });
        }
        check_finite(hap)?;
        let mut unit = vec![0.0; self.dim];
        if !normalize(hap, &mut unit) {
            return Ok(false);
        }
        let novel = self
            .vectors
            .chunks_exact(self.dim)
            .all(|node| dot(&unit, node) < self.theta);
        if novel {
            self.push_node(&unit, source_id);
        }
        Ok(novel)
    }

    /// Builds a library by offering the rows of `haps` (row-major, `dim` columns) one at a
    /// time; row `k` gets source id `k`. The reference that [`LibraryBuilder`] must match.
    pub fn build_sequential(haps: &[f32], dim: usize, theta: f32) -> Result<Self> {
        let mut lib = Library::new(dim, theta)?;
        check_rows(haps, dim)?;
        for (k, row) in haps.chunks_exact(dim).enumerate() {
            let id = u32::try_from(k).map_err(|_| Error::TooManyRows)?;
            lib.offer(row, id)?;
        }
        Ok(lib)
    }

    fn push_node(&mut self, unit: &[f32], source_id: u32) {
        self.vectors.extend_from_slice(unit);
        self.source_ids.push(source_id);
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.source_ids.len()
    }

    /// Whether no node is stored.
    pub fn is_empty(&self) -> bool {
        self.source_ids.is_empty()
    }

    /// HAP length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Novelty threshold θ.
    pub fn theta(&self) -> f32 {
        self.theta
    }

    /// All node vectors, row-major (`len() × dim()`), unit-norm, in creation order.
    pub fn vectors(&self) -> &[f32] {
        &self.vectors
    }

    /// Node `i`'s unit vector.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn node(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..][..self.dim]
    }

    /// For each node, the index of the training row that created it (strictly increasing).
    pub fn source_ids(&self) -> &[u32] {
        &self.source_ids
    }

    /// Similarities of unit-norm query rows to every node: `out[i * len() + j]`, computed by
    /// `kernel` (so within `kernel.error_bound(dim)` of the canonical value).
    pub fn similarities<K: SimilarityKernel>(
        &self,
        unit_queries: &[f32],
        kernel: &K,
        out: &mut [f32],
    ) -> Result<()> {
        check_rows(unit_queries, self.dim)?;
        let m = unit_queries.len() / self.dim;
        let expected = m * self.len();
        if out.len() != expected {
            return Err(Error::DimMismatch {
                expected,
                got: out.len(),
            });
        }
        if expected > 0 {
            kernel.dots(unit_queries, &self.vectors, self.dim, out);
        }
        Ok(())
    }
}

/// Checks that `haps` is a whole number of rows of `dim` finite values.
pub fn check_rows(haps: &[f32], dim: usize) -> Result<()> {
    if haps.len() % dim != 0 {
        return Err(Error::DimMismatch {
            expected: haps.len().div_ceil(dim) * dim,
            got: haps.len(),
        });
    }
    check_finite(haps)
}

/// Normalizes each row of `raw` into `unit`, recording which rows were non-zero (the
/// canonical [`normalize`], row by row).
pub use crate::similarity::normalize_rows;

/// Counters of a batched build, for progress reports and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Rows offered so far.
    pub rows: u64,
    /// Rows that were the zero vector (never stored).
    pub zero_rows: u64,
    /// Similarities recomputed canonically because the kernel's value was within its
    /// error bound of θ.
    pub rechecks: u64,
    /// Rows found not novel by the [`Screen`] alone, without a full match.
    pub screened: u64,
}

/// The batched library build (see the module docs); same result as [`Library::offer`]
/// called row by row.
#[derive(Debug)]
pub struct LibraryBuilder<K> {
    library: Library,
    kernel: K,
    block: usize,
    stats: BuildStats,
    unit: Vec<f32>,
    nonzero: Vec<bool>,
    sims: Vec<f32>,
    survivors: Vec<usize>,
    packed: Vec<f32>,
    gram: Vec<f32>,
    stored_in_block: Vec<usize>,
    screen: Option<Screen>,
    projected: Vec<f32>,
    candidates: Vec<usize>,
    undecided: Vec<usize>,
}

/// Default number of queries per kernel call: large enough to run a GEMM near peak, small
/// enough that the block's own sequential resolution stays cheap.
pub const DEFAULT_BLOCK: usize = 256;

impl<K: SimilarityKernel> LibraryBuilder<K> {
    /// A builder for an empty library.
    pub fn new(dim: usize, theta: f32, kernel: K) -> Result<Self> {
        Ok(LibraryBuilder {
            library: Library::new(dim, theta)?,
            kernel,
            block: DEFAULT_BLOCK,
            stats: BuildStats::default(),
            unit: Vec::new(),
            nonzero: Vec::new(),
            sims: Vec::new(),
            survivors: Vec::new(),
            packed: Vec::new(),
            gram: Vec::new(),
            stored_in_block: Vec::new(),
            screen: None,
            projected: Vec::new(),
            candidates: Vec::new(),
            undecided: Vec::new(),
        })
    }

    /// Sets the number of queries matched per kernel call (at least 1). It changes speed
    /// only, never the library.
    pub fn with_block(mut self, block: usize) -> Result<Self> {
        if block == 0 {
            return Err(Error::InvalidParameter {
                name: "block",
                reason: "must be at least 1",
            });
        }
        self.block = block;
        Ok(self)
    }

    /// Screens queries in a random `k`-dimensional projection before the full match (see
    /// [`crate::screen`]). It changes speed only, never the library; it pays off when `dim`
    /// is several times `k` and most rows are not novel.
    ///
    /// It may be set (or replaced) at any time: the nodes already stored are projected into
    /// the new screen.
    pub fn with_screen(mut self, k: usize, candidates: usize, seed: u64) -> Result<Self> {
        let mut screen = Screen::new(self.library.dim, k, candidates, seed)?;
        if !self.library.is_empty() {
            screen.project(&self.kernel, &self.library.vectors, &mut self.projected);
            screen.push_node(&self.projected);
        }
        self.screen = Some(screen);
        Ok(self)
    }

    /// Offers the rows of `haps` (row-major, `dim` columns) in order; they get the next
    /// source ids. Rows may arrive in batches of any size.
    ///
    /// The whole batch is validated (shape, finiteness, id range) before any row is
    /// offered, so an error leaves the builder as it was.
    pub fn push(&mut self, haps: &[f32]) -> Result<()> {
        let dim = self.library.dim;
        check_rows(haps, dim)?;
        let rows = (haps.len() / dim) as u64;
        if self.stats.rows + rows > u64::from(u32::MAX) + 1 {
            return Err(Error::TooManyRows);
        }
        for block in haps.chunks(self.block * dim) {
            self.push_block(block);
        }
        Ok(())
    }

    fn push_block(&mut self, raw: &[f32]) {
        let dim = self.library.dim;
        let theta = self.library.theta;
        let tol = self.kernel.error_bound(dim);
        let b = raw.len() / dim;
        let first_id = self.stats.rows as u32;
        self.stats.rows += b as u64;

        self.unit.resize(b * dim, 0.0);
        self.nonzero.resize(b, false);
        normalize_rows(raw, dim, &mut self.unit, &mut self.nonzero);
        self.stats.zero_rows += self.nonzero.iter().filter(|&&nz| !nz).count() as u64;

        // Stage 0 (optional): settle what the screen can with a few canonical dots.
        let n0 = self.library.len();
        self.undecided.clear();
        if let Some(screen) = &self.screen {
            screen.project(&self.kernel, &self.unit, &mut self.projected);
            screen.match_nodes(&self.kernel, &self.projected, &mut self.sims);
            for i in (0..b).filter(|&i| self.nonzero[i]) {
                let q = &self.unit[i * dim..][..dim];
                screen.best(&self.sims[i * n0..][..n0], &mut self.candidates);
                if self
                    .candidates
                    .iter()
                    .any(|&j| dot(q, self.library.node(j)) >= theta)
                {
                    self.stats.screened += 1;
                } else {
                    self.undecided.push(i);
                }
            }
        } else {
            self.undecided.extend((0..b).filter(|&i| self.nonzero[i]));
        }

        // Stage 1: undecided queries against every node that existed before this block.
        let u = self.undecided.len();
        self.packed.clear();
        for &i in &self.undecided {
            self.packed.extend_from_slice(&self.unit[i * dim..][..dim]);
        }
        self.sims.resize(u * n0, 0.0);
        if n0 > 0 && u > 0 {
            self.kernel
                .dots(&self.packed, &self.library.vectors, dim, &mut self.sims);
        }
        self.survivors.clear();
        for (t, &i) in self.undecided.iter().enumerate() {
            let q = &self.packed[t * dim..][..dim];
            let row = &self.sims[t * n0..][..n0];
            let nodes = &self.library.vectors;
            let novel = all_below(row, theta, tol, &mut self.stats.rechecks, |j| {
                dot(q, &nodes[j * dim..][..dim])
            });
            if novel {
                self.survivors.push(i);
            }
        }
        if self.survivors.is_empty() {
            return;
        }

        // Stage 2: survivors against each other, resolved in row order.
        let s = self.survivors.len();
        self.packed.clear();
        for &i in &self.survivors {
            self.packed.extend_from_slice(&self.unit[i * dim..][..dim]);
        }
        self.gram.resize(s * s, 0.0);
        self.kernel
            .dots(&self.packed, &self.packed, dim, &mut self.gram);
        self.stored_in_block.clear();
        for t in 0..s {
            let q = &self.packed[t * dim..][..dim];
            let mut novel = true;
            for &u in &self.stored_in_block {
                let fast = self.gram[t * s + u];
                if !below(fast, theta, tol, &mut self.stats.rechecks, || {
                    dot(q, &self.packed[u * dim..][..dim])
                }) {
                    novel = false;
                    break;
                }
            }
            if novel {
                self.stored_in_block.push(t);
                let i = self.survivors[t];
                self.library.push_node(q, first_id + i as u32);
                if let Some(screen) = &mut self.screen {
                    let k = screen.k();
                    screen.push_node(&self.projected[i * k..][..k]);
                }
            }
        }
    }

    /// The library built so far.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// Build counters so far.
    pub fn stats(&self) -> BuildStats {
        self.stats
    }

    /// The finished library.
    pub fn finish(self) -> Library {
        self.library
    }
}

/// Whether the canonical similarity behind a kernel value `fast` is `< θ`, re-checking
/// with `exact` only when `fast` is within `tol` of θ.
#[inline]
fn below(fast: f32, theta: f32, tol: f32, rechecks: &mut u64, exact: impl FnOnce() -> f32) -> bool {
    if fast < theta - tol {
        true
    } else if fast >= theta + tol {
        false
    } else {
        *rechecks += 1;
        exact() < theta
    }
}

/// Whether every canonical similarity behind the kernel values `row` is `< θ`.
#[inline]
fn all_below(
    row: &[f32],
    theta: f32,
    tol: f32,
    rechecks: &mut u64,
    exact: impl Fn(usize) -> f32,
) -> bool {
    // Fast path: one scan for the maximum decides most rows without a branch per entry.
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max < theta - tol {
        return true;
    }
    row.iter()
        .enumerate()
        .all(|(j, &fast)| below(fast, theta, tol, rechecks, || exact(j)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::PlainKernel;

    #[test]
    fn first_example_is_stored_and_duplicates_are_not() {
        let mut lib = Library::new(3, 0.9).unwrap();
        assert!(lib.offer(&[1.0, 0.0, 0.0], 0).unwrap());
        assert!(
            !lib.offer(&[2.0, 0.0, 0.0], 1).unwrap(),
            "same direction scores 1 >= θ"
        );
        assert!(lib.offer(&[0.0, 1.0, 0.0], 2).unwrap());
        assert_eq!(lib.source_ids(), &[0, 2]);
    }

    #[test]
    fn threshold_is_strict() {
        // cos = 0.6 exactly representable after normalization? Use θ equal to the computed value.
        let a = [3.0f32, 4.0];
        let b = [4.0f32, 3.0];
        let s = crate::similarity::cosine(&a, &b);
        let mut lib = Library::new(2, s).unwrap();
        lib.offer(&a, 0).unwrap();
        assert!(
            !lib.offer(&b, 1).unwrap(),
            "similarity == θ is not novel (store iff < θ)"
        );
        let mut lib = Library::new(2, f32::from_bits(s.to_bits() + 1)).unwrap();
        lib.offer(&a, 0).unwrap();
        assert!(lib.offer(&b, 1).unwrap());
    }

    #[test]
    fn zero_rows_are_never_stored_but_consume_ids() {
        let haps = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, -1.0, 1.0];
        let lib = Library::build_sequential(&haps, 2, 0.5).unwrap();
        assert_eq!(lib.source_ids(), &[1, 3]);
        let mut b = LibraryBuilder::new(2, 0.5, PlainKernel).unwrap();
        b.push(&haps).unwrap();
        assert_eq!(b.stats().zero_rows, 2);
        assert_eq!(b.finish(), lib);
    }

    #[test]
    fn bad_input_leaves_builder_untouched() {
        let mut b = LibraryBuilder::new(2, 0.5, PlainKernel).unwrap();
        b.push(&[1.0, 0.0]).unwrap();
        assert_eq!(
            b.push(&[0.0, 1.0, f32::NAN, 0.0]),
            Err(Error::NonFinite { index: 2 })
        );
        assert_eq!(
            b.push(&[0.0, 1.0, 0.5]),
            Err(Error::DimMismatch {
                expected: 4,
                got: 3
            })
        );
        assert_eq!(b.library().len(), 1);
        assert_eq!(b.stats().rows, 1);
    }

    #[test]
    fn screen_can_be_added_after_nodes_exist() {
        // Rows of a 40-dimensional library: a few directions, each shown several times.
        let dim = 40;
        let haps: Vec<f32> = (0..60)
            .flat_map(|r: usize| (0..dim).map(move |c| (((r % 7) * 31 + c * 17) % 23) as f32 - 9.0))
            .collect();
        let (early, late) = haps.split_at(25 * dim);
        let plain = Library::build_sequential(&haps, dim, 0.8).unwrap();
        assert!(plain.len() > 1);
        let mut from_start = LibraryBuilder::new(dim, 0.8, PlainKernel)
            .unwrap()
            .with_screen(8, 2, 5)
            .unwrap();
        from_start.push(&haps).unwrap();
        let mut b = LibraryBuilder::new(dim, 0.8, PlainKernel).unwrap();
        b.push(early).unwrap();
        assert!(!b.library().is_empty());
        let mut b = b.with_screen(8, 2, 5).unwrap();
        b.push(late).unwrap();
        assert!(b.stats().screened > 0, "the screen settled rows");
        assert_eq!(b.finish(), plain);
        assert_eq!(from_start.finish(), plain);
    }

    #[test]
    fn theta_is_validated() {
        assert!(Library::new(4, f32::NAN).is_err());
        assert!(Library::new(4, 1.5).is_err());
        assert!(Library::new(0, 0.5).is_err());
        assert!(Library::new(4, 1.0).is_ok());
    }

    #[test]
    fn from_parts_validates() {
        assert!(Library::from_parts(2, 0.5, vec![1.0, 0.0, 0.0, 1.0], vec![0, 3]).is_ok());
        assert!(Library::from_parts(2, 0.5, vec![1.0, 0.0, 0.0], vec![0, 3]).is_err());
        assert!(Library::from_parts(2, 0.5, vec![1.0, 0.0, 0.0, 1.0], vec![3, 3]).is_err());
    }
}
