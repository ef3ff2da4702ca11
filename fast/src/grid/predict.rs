//! Pass 3: class scores (Eq. 3) of test HAPs at every θ of the grid, from one product
//! against the union.

use super::canonical::cdot as dot;
use hapscope_core::hebbian::Links;
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::predict::{class_scores, node_order};
use hapscope_core::{Error, Result};

use super::{BLOCK, GridLayer, check_rows, par_map, sketch};

/// The predictors of every θ of a [`GridLayer`]: each θ's top-a nodes among its members,
/// by canonical cosine, and Eq. 3 — the scores of `hapscope_core::predict::Predictor` on
/// each library, bit for bit. The a-th best lower bound among a library's nodes
/// excludes every node whose upper bound is below it; only the rest are computed in full.
pub struct GridPredictor<'a, K> {
    layer: &'a GridLayer,
    links: &'a [Links],
    top_a: usize,
    kernel: K,
}

impl<'a, K: SimilarityKernel + Sync> GridPredictor<'a, K> {
    /// Pairs `layer` with its links (one per θ); `top_a ≥ 1`; no library may be empty.
    pub fn new(layer: &'a GridLayer, links: &'a [Links], top_a: usize, kernel: K) -> Result<Self> {
        if links.len() != layer.thetas.len() {
            return Err(Error::DimMismatch {
                expected: layer.thetas.len(),
                got: links.len(),
            });
        }
        for (t, l) in links.iter().enumerate() {
            if l.nodes() != layer.members(t).len() {
                return Err(Error::DimMismatch {
                    expected: layer.members(t).len(),
                    got: l.nodes(),
                });
            }
            if l.nodes() == 0 {
                return Err(Error::Empty { what: "library" });
            }
        }
        if top_a == 0 {
            return Err(Error::InvalidParameter {
                name: "top_a",
                reason: "must be at least 1",
            });
        }
        Ok(GridPredictor {
            layer,
            links,
            top_a,
            kernel,
        })
    }

    /// Number of classes scored.
    pub fn classes(&self) -> usize {
        self.links[0].classes()
    }

    /// Class scores of raw HAPs (row-major) at every θ: `[θ][row * classes + m]`. A zero
    /// HAP scores 0 everywhere, as with `Predictor`.
    pub fn scores(&self, haps: &[f32]) -> Result<Vec<Vec<f32>>> {
        let dim = self.layer.dim();
        check_rows(haps, dim)?;
        let rows = haps.len() / dim;
        let c = self.classes();
        let nt = self.layer.thetas.len();
        let mut out = vec![vec![0.0; rows * c]; nt];
        for (bi, raw) in haps.chunks(BLOCK * dim).enumerate() {
            let per_row = self.block(raw);
            for (i, row) in per_row.iter().enumerate() {
                for (t, o) in out.iter_mut().enumerate() {
                    o[(bi * BLOCK + i) * c..][..c].copy_from_slice(&row[t * c..][..c]);
                }
            }
        }
        Ok(out)
    }

    /// Per row of the block, the scores at every θ (`θ × classes`).
    fn block(&self, raw: &[f32]) -> Vec<Vec<f32>> {
        let layer = self.layer;
        let s = &layer.subspace;
        let sk = sketch(s, &self.kernel, raw);
        let (b, u) = (sk.rows, layer.union_len());
        let mut p = vec![0.0; b * u];
        if b > 0 && u > 0 {
            self.kernel.dots(&sk.coords, &layer.coords, s.k(), &mut p);
        }
        let c = self.classes();
        par_map(b, |i| {
            let mut out = vec![0.0; layer.thetas.len() * c];
            if !sk.nonzero[i] {
                return out;
            }
            let (q, ri, row) = (sk.unit(i), sk.radius[i], &p[i * u..][..u]);
            // Canonical cosines computed for this row, shared by the θ levels.
            let mut known: Vec<(u32, f32)> = Vec::new();
            let mut lows: Vec<f32> = Vec::new();
            let mut top: Vec<(usize, f32)> = Vec::new();
            for (t, o) in out.chunks_exact_mut(c).enumerate() {
                let members = layer.members(t);
                let a = self.top_a.min(members.len());
                // The a-th largest lower bound: at least a nodes reach it canonically.
                lows.clear();
                lows.resize(a, f32::NEG_INFINITY);
                for &j in members {
                    let lo = s.bounds(row[j as usize], ri, layer.radius[j as usize]).0;
                    if lo > lows[a - 1] {
                        let mut x = a - 1;
                        while x > 0 && lows[x - 1] < lo {
                            lows[x] = lows[x - 1];
                            x -= 1;
                        }
                        lows[x] = lo;
                    }
                }
                let cut = lows[a - 1];
                top.clear();
                for (l, &j) in members.iter().enumerate() {
                    if s.bounds(row[j as usize], ri, layer.radius[j as usize]).1 >= cut {
                        let h = match known.iter().find(|k| k.0 == j) {
                            Some(&(_, h)) => h,
                            None => {
                                let h = dot(q, layer.vector(j as usize));
                                known.push((j, h));
                                h
                            }
                        };
                        top.push((l, h));
                    }
                }
                top.sort_by(node_order);
                top.truncate(a);
                class_scores(&self.links[t], &top, o);
            }
            out
        })
    }
}
