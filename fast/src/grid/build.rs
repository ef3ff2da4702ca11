//! Pass 1: every library of the grid, built together over the union of their nodes.

use super::canonical::cdot as dot;
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::library::check_theta;
use hapscope_core::{Error, Result};

use super::basis::fit_subspace;
use super::{BASIS_ROWS, BLOCK, GridLayer, Sketched, check_rows, par_map, sketch};
use crate::method::{SCREEN_CANDIDATES, SCREEN_K, SCREEN_MIN_DIM};
use hapscope_core::screen::Screen;

/// Counters of a grid build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GridStats {
    /// Rows offered.
    pub rows: u64,
    /// Rows with no direction (never stored).
    pub zero_rows: u64,
    /// Canonical similarities computed in full (per θ), the rest settled by the bounds.
    pub canonical: u64,
    /// Rows the random-projection candidate screen settled at every θ without their full
    /// products (only where the products are full: identity subspace, long HAPs).
    pub screened: u64,
}

/// Builds one layer's libraries at every θ of a grid, each with the sequential semantics
/// of `Library::offer` (module docs of [`super`]). Rows arrive in batches of any size.
#[derive(Debug)]
pub struct GridBuilder<K> {
    dim: usize,
    thetas: Vec<f32>,
    kernel: K,
    screen: bool,
    pending: Vec<f32>,
    layer: Option<GridLayer>,
    stats: GridStats,
    p: Vec<f32>,
    gram: Vec<f32>,
    /// With full products (identity subspace) and long HAPs: the random-projection screen
    /// of `hapscope_core::screen`, which settles most non-novel rows by a few canonical dots.
    candidates: Option<Screen>,
}

impl<K: SimilarityKernel + Sync> GridBuilder<K> {
    /// A builder for HAPs of length `dim` at every θ of `thetas` (each a valid θ; at least
    /// one). `screen` allows the subspace screen (the libraries are the same either way).
    pub fn new(dim: usize, thetas: &[f32], kernel: K, screen: bool) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidParameter {
                name: "dim",
                reason: "must be at least 1",
            });
        }
        if thetas.is_empty() {
            return Err(Error::Empty { what: "θ grid" });
        }
        for &t in thetas {
            check_theta(t)?;
        }
        Ok(GridBuilder {
            dim,
            thetas: thetas.to_vec(),
            kernel,
            screen,
            pending: Vec::new(),
            layer: None,
            stats: GridStats::default(),
            p: Vec::new(),
            gram: Vec::new(),
            candidates: None,
        })
    }

    /// Offers the rows of `haps` (row-major) in order; they get the next source ids. The
    /// batch is validated first, so an error leaves the builder as it was.
    pub fn push(&mut self, haps: &[f32]) -> Result<()> {
        check_rows(haps, self.dim)?;
        let rows = (haps.len() / self.dim) as u64;
        let queued = (self.pending.len() / self.dim) as u64;
        if self.stats.rows + queued + rows > u64::from(u32::MAX) + 1 {
            return Err(Error::TooManyRows);
        }
        if self.layer.is_none() {
            self.pending.extend_from_slice(haps);
            if self.pending.len() / self.dim >= BASIS_ROWS {
                self.start()?;
            }
            return Ok(());
        }
        for block in haps.chunks(BLOCK * self.dim) {
            self.push_block(block);
        }
        Ok(())
    }

    /// Fits the subspace to the queued rows and builds from them.
    fn start(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let dim = self.dim;
        let mut sample = Vec::with_capacity(pending.len());
        let mut unit = vec![0.0; dim];
        for row in pending.chunks_exact(dim) {
            if hapscope_core::similarity::normalize(row, &mut unit) {
                sample.extend_from_slice(&unit);
            }
        }
        let subspace = fit_subspace(&sample, dim, &self.kernel, self.screen)?;
        if self.screen && subspace.is_identity() && dim >= SCREEN_MIN_DIM {
            self.candidates = Some(Screen::new(dim, SCREEN_K, SCREEN_CANDIDATES, 0x4841_5053)?);
        }
        self.layer = Some(GridLayer::new(subspace, self.thetas.clone()));
        for block in pending.chunks(BLOCK * dim) {
            self.push_block(block);
        }
        Ok(())
    }

    fn push_block(&mut self, raw: &[f32]) {
        let layer = self.layer.as_mut().expect("started");
        let sk = sketch(&layer.subspace, &self.kernel, raw);
        layer.keep_sketches(raw, &sk, self.candidates.is_some());
        let b = sk.rows;
        let first_id = self.stats.rows as u32;
        self.stats.rows += b as u64;
        self.stats.zero_rows += sk.nonzero.iter().filter(|&&nz| !nz).count() as u64;
        let k = layer.subspace.k();
        let u0 = layer.union_len();
        // Rows the candidate screen proves not novel at each θ (a canonical cosine ≥ θ to one
        // of that library's best projected nodes); the others need the full products.
        let (mut settled, mut projected) = (vec![Vec::new(); self.thetas.len()], Vec::new());
        // Each row's anchor for the links (with the candidate screen only): a node and its
        // canonical cosine to the row — the screen's hit, the row itself, or its best node.
        let mut anchors: Vec<Option<(u32, f32)>> = vec![None; b];
        let mut canonical = 0u64;
        if let Some(screen) = &self.candidates {
            screen.project(&self.kernel, &sk.unit, &mut projected);
            let mut psims = Vec::new();
            screen.match_nodes(&self.kernel, &projected, &mut psims);
            let found: Vec<Screened> = par_map(self.thetas.len(), |t| {
                screened_at(layer, &sk, &psims, t, self.thetas[t])
            });
            for (t, (s, c, h)) in found.into_iter().enumerate() {
                settled[t] = s;
                canonical += c;
                for (a, h) in anchors.iter_mut().zip(h) {
                    if a.is_none() {
                        *a = h;
                    }
                }
            }
        }
        let is_settled = |i: usize| !settled[0].is_empty() && settled.iter().all(|s| s[i]);
        // Rows whose full products are needed, and where they are in `p`.
        let need: Vec<usize> = (0..b)
            .filter(|&i| sk.nonzero[i] && !is_settled(i))
            .collect();
        self.stats.screened += (0..b).filter(|&i| sk.nonzero[i] && is_settled(i)).count() as u64;
        let mut at = vec![usize::MAX; b];
        for (r, &i) in need.iter().enumerate() {
            at[i] = r;
        }
        // Scratch kept across blocks: fresh pages for every block cost more than the work.
        let (p, gram) = (&mut self.p, &mut self.gram);
        p.resize(need.len() * u0, 0.0);
        if !need.is_empty() && u0 > 0 {
            if need.len() == b {
                self.kernel.dots(&sk.coords, &layer.coords, k, p);
            } else {
                let mut packed = Vec::with_capacity(need.len() * k);
                for &i in &need {
                    packed.extend_from_slice(&sk.coords[i * k..][..k]);
                }
                self.kernel.dots(&packed, &layer.coords, k, p);
            }
        }
        gram.resize(b * b, 0.0);
        if b > 0 {
            self.kernel.dots(&sk.coords, &sk.coords, k, gram);
        }
        let block = Block {
            layer,
            sk: &sk,
            p,
            at: &at,
            settled: &settled,
            gram,
        };
        let decided: Vec<(Vec<bool>, u64)> =
            par_map(self.thetas.len(), |t| block.novel_at(t, self.thetas[t]));
        if self.candidates.is_some() {
            for &i in &need {
                if anchors[i].is_none() && u0 > 0 {
                    let row = &p[at[i] * u0..][..u0];
                    let best = (0..u0).fold(0, |m, j| if row[j] > row[m] { j } else { m });
                    anchors[i] = Some((best as u32, dot(sk.unit(i), layer.vector(best))));
                }
            }
        }
        for i in 0..b {
            if !decided.iter().any(|(novel, _)| novel[i]) {
                continue;
            }
            let kc = &sk.coords[i * k..][..k];
            let u = layer.push_node(sk.unit(i), kc, sk.radius[i], first_id + i as u32);
            anchors[i] = Some((u, dot(sk.unit(i), sk.unit(i))));
            if let Some(screen) = &mut self.candidates {
                let sk_k = screen.k();
                screen.push_node(&projected[i * sk_k..][..sk_k]);
            }
            for (t, (novel, _)) in decided.iter().enumerate() {
                if novel[i] {
                    layer.members[t].push(u);
                }
            }
        }
        if self.candidates.is_some() {
            for (i, anchor) in anchors.iter_mut().enumerate() {
                // A row settled only by a node of its own block: its best node, in full.
                if sk.nonzero[i] && anchor.is_none() {
                    *anchor = (0..layer.union_len())
                        .map(|j| (j as u32, dot(sk.unit(i), layer.vector(j))))
                        .max_by(|a, b| a.1.total_cmp(&b.1));
                }
                layer.anchors.push(anchor.unwrap_or((u32::MAX, 0.0)));
            }
        }
        self.stats.canonical += canonical;
        self.stats.canonical += decided.iter().map(|d| d.1).sum::<u64>();
    }

    /// Counters so far (rows still queued for the subspace fit are not counted yet).
    pub fn stats(&self) -> GridStats {
        self.stats
    }

    /// The libraries: the union of their nodes and each θ's members.
    pub fn finish(mut self) -> Result<(GridLayer, GridStats)> {
        if self.layer.is_none() {
            self.start()?;
        }
        Ok((self.layer.expect("started"), self.stats))
    }
}

/// Per row of a block: settled by the candidate screen at one θ; the canonical dots spent;
/// per row, the node that settled it and its canonical cosine.
type Screened = (Vec<bool>, u64, Vec<Option<(u32, f32)>>);

/// The rows of a block that the candidate screen proves not novel at θ: each row's best
/// [`SCREEN_CANDIDATES`] nodes of the θ's library by projected similarity, checked
/// canonically. Returns the flags and the number of canonical dots.
fn screened_at(layer: &GridLayer, sk: &Sketched, psims: &[f32], t: usize, theta: f32) -> Screened {
    let u0 = layer.union_len();
    let members = &layer.members[t];
    let mut settled = vec![false; sk.rows];
    let mut hits = vec![None; sk.rows];
    let mut canonical = 0;
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(SCREEN_CANDIDATES + 1);
    for (i, s) in settled.iter_mut().enumerate() {
        if !sk.nonzero[i] || u0 == 0 {
            continue;
        }
        let row = &psims[i * u0..][..u0];
        best.clear();
        for &j in members {
            let v = row[j as usize];
            if best.len() < SCREEN_CANDIDATES || v > best[best.len() - 1].0 {
                let at = best.partition_point(|b| b.0 >= v);
                best.insert(at, (v, j as usize));
                best.truncate(SCREEN_CANDIDATES);
            }
        }
        for &(_, j) in &best {
            canonical += 1;
            let h = dot(sk.unit(i), layer.vector(j));
            if h >= theta {
                *s = true;
                hits[i] = Some((j as u32, h));
                break;
            }
        }
    }
    (settled, canonical, hits)
}

/// One block's shared products, read by every θ's decisions.
struct Block<'a> {
    layer: &'a GridLayer,
    sk: &'a Sketched,
    /// Coordinates' products of the rows that need them with the union: row `i`'s are at
    /// `at[i] × union`.
    p: &'a [f32],
    at: &'a [usize],
    /// Per θ, the rows the candidate screen proved not novel (empty without it).
    settled: &'a [Vec<bool>],
    /// Coordinates' products of the block's rows with each other (`b × b`).
    gram: &'a [f32],
}

impl Block<'_> {
    /// Which of the block's rows are novel at θ, in row order (earlier rows of the block
    /// that are novel count as nodes), and how many similarities were computed in full.
    fn novel_at(&self, t: usize, theta: f32) -> (Vec<bool>, u64) {
        let (layer, sk) = (self.layer, self.sk);
        let b = sk.rows;
        let u0 = layer.union_len();
        let s = &layer.subspace;
        let members = &layer.members[t];
        // The block's rows found novel at θ so far, in order.
        let mut local: Vec<usize> = Vec::new();
        let mut cands: Vec<usize> = Vec::new();
        let mut cands_local: Vec<usize> = Vec::new();
        let mut canonical = 0u64;
        for i in 0..b {
            if !sk.nonzero[i] || self.settled[t].get(i).copied().unwrap_or(false) {
                continue;
            }
            let ri = sk.radius[i];
            let row = &self.p[self.at[i] * u0..][..u0];
            cands.clear();
            cands_local.clear();
            let mut hit = false;
            for &j in members {
                let j = j as usize;
                let (lo, hi) = s.bounds(row[j], ri, layer.radius[j]);
                if lo >= theta {
                    hit = true;
                    break;
                }
                if hi >= theta {
                    cands.push(j);
                }
            }
            if !hit {
                for &l in &local {
                    let (lo, hi) = s.bounds(self.gram[i * b + l], ri, sk.radius[l]);
                    if lo >= theta {
                        hit = true;
                        break;
                    }
                    if hi >= theta {
                        cands_local.push(l);
                    }
                }
            }
            let q = sk.unit(i);
            if !hit {
                for &j in &cands {
                    canonical += 1;
                    if dot(q, layer.vector(j)) >= theta {
                        hit = true;
                        break;
                    }
                }
            }
            if !hit {
                for &l in &cands_local {
                    canonical += 1;
                    if dot(q, sk.unit(l)) >= theta {
                        hit = true;
                        break;
                    }
                }
            }
            if !hit {
                local.push(i);
            }
        }
        let mut novel = vec![false; b];
        for &i in &local {
            novel[i] = true;
        }
        (novel, canonical)
    }
}
