//! Pass 2: Hebbian links (Eq. 2) of every node of the union, once for the whole grid —
//! a node's links do not depend on which libraries hold it.

use super::canonical::{cdot as dot, cdot4 as dot4};
use hapscope_core::hebbian::{HebbianAccumulator, LINK_FLOOR, Links};
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::similarity::f32_dot_error_bound;
use hapscope_core::{Error, Result};

use super::{BLOCK, GridLayer, Sketched, check_rows, par_map, par_normalize, sketch};

/// Pairs per parallel task: enough canonical dots to amortize the task, few enough to
/// balance the threads.
const PAIRS_PER_TASK: usize = 512;

/// Training rows gathered before their pairs are found: enough that the rows of one answer
/// fill blocks, so that a node's vector is read once for many rows (cache reuse).
const GROUP_ROWS: usize = 2048;

/// Eq. 2 for the union of a [`GridLayer`], fed the training rows again in order. Only the
/// (row, node) pairs whose upper bound reaches [`LINK_FLOOR`] are computed (canonically);
/// the rest are below the floor and left out, as the core's links define
/// ([`hapscope_core::hebbian`]), so the weights are those of
/// [`crate::method::LinkBuilder`] for each library, bit for bit.
///
/// Rows are matched in groups, in blocks of one answer where possible (rows of one answer
/// share their nearby nodes); the terms found are kept and summed at the end node by node in
/// training order, so the sums are the definition's, term for term and in its order.
pub struct GridLinkBuilder<'a, K> {
    layer: &'a GridLayer,
    kernel: K,
    classes: usize,
    /// Raw rows (and their answers) not matched yet; the first has training index `rows`.
    group: Vec<f32>,
    group_answers: Vec<usize>,
    rows: usize,
    /// (node, training row, canonical cosine ≥ the floor).
    terms: Vec<(u32, u32, f32)>,
    answers: Vec<u8>,
    pairs: u64,
    p: Vec<f32>,
    unit_buf: Vec<f32>,
    /// The anchor screen's node neighbourhoods, made on first use.
    neighbours: Option<Vec<Vec<(u32, f32)>>>,
}

impl<'a, K: SimilarityKernel + Sync> GridLinkBuilder<'a, K> {
    /// Links from `layer`'s nodes to `classes` answers (at most 256).
    pub fn new(layer: &'a GridLayer, classes: usize, kernel: K) -> Result<Self> {
        if classes == 0 || classes > 256 {
            return Err(Error::InvalidParameter {
                name: "classes",
                reason: "must be between 1 and 256",
            });
        }
        Ok(GridLinkBuilder {
            layer,
            kernel,
            classes,
            group: Vec::new(),
            group_answers: Vec::new(),
            rows: 0,
            terms: Vec::new(),
            answers: Vec::new(),
            pairs: 0,
            p: Vec::new(),
            unit_buf: Vec::new(),
            neighbours: None,
        })
    }

    /// Adds training rows (row-major HAPs) with the network's answers on them. The batch is
    /// validated first, so an error leaves the builder as it was.
    pub fn add(&mut self, haps: &[f32], answers: &[usize]) -> Result<()> {
        let dim = self.layer.dim();
        check_rows(haps, dim)?;
        if answers.len() != haps.len() / dim {
            return Err(Error::DimMismatch {
                expected: haps.len() / dim,
                got: answers.len(),
            });
        }
        if let Some(&a) = answers.iter().find(|&&a| a >= self.classes) {
            return Err(Error::ClassOutOfRange {
                class: a,
                classes: self.classes,
            });
        }
        if self.rows + self.group_answers.len() + answers.len() > u32::MAX as usize {
            return Err(Error::TooManyRows);
        }
        self.group.extend_from_slice(haps);
        self.group_answers.extend_from_slice(answers);
        while self.group_answers.len() >= GROUP_ROWS {
            self.match_group(GROUP_ROWS);
        }
        Ok(())
    }

    /// Finds the terms of the first `n` queued rows.
    fn match_group(&mut self, n: usize) {
        let layer = self.layer;
        let dim = layer.dim();
        let s = &layer.subspace;
        let group = std::mem::take(&mut self.group);
        let raw = &group[..n * dim];
        let answers: Vec<usize> = self.group_answers.drain(..n).collect();
        let first = self.rows;
        self.rows += n;
        self.answers.extend(answers.iter().map(|&a| a as u8));
        // The group's unit rows reuse one buffer: a fresh one per group costs its page faults.
        let mut spare = std::mem::take(&mut self.unit_buf);
        let anchored = !layer.anchors.is_empty() && layer.same_rows(first, raw);
        let sk = if anchored {
            // Anchored rows need only their unit vectors (the full products are not taken).
            spare.resize(raw.len(), 0.0);
            let mut nonzero = vec![false; n];
            par_normalize(raw, dim, &mut spare, &mut nonzero);
            Sketched {
                rows: n,
                unit: spare,
                nonzero,
                coords: Vec::new(),
                radius: Vec::new(),
            }
        } else {
            layer
                .cached_sketch(first, raw, spare)
                .unwrap_or_else(|| sketch(s, &self.kernel, raw))
        };
        // Rows by answer, in training order within an answer.
        let mut order: Vec<usize> = (0..n).filter(|&i| sk.nonzero[i]).collect();
        order.sort_by_key(|&i| answers[i]);
        let (u, k) = (layer.union_len(), s.k());
        let mut group = group;
        group.drain(..n * dim);
        self.group = group;
        if u == 0 {
            return;
        }
        if anchored {
            // Full products, but every row has an anchor: its node neighbours bound its pairs.
            if self.neighbours.is_none() {
                self.neighbours = Some(self.anchor_neighbours());
            }
            for block in order.chunks(BLOCK) {
                let pairs = self.anchored_pairs(block, first);
                self.add_terms(&sk, pairs, first);
            }
            self.unit_buf = sk.unit;
            return;
        }
        let mut coords = Vec::with_capacity(BLOCK * k);
        for block in order.chunks(BLOCK) {
            coords.clear();
            for &i in block {
                coords.extend_from_slice(&sk.coords[i * k..][..k]);
            }
            let b = block.len();
            self.p.resize(b * u, 0.0);
            self.kernel.dots(&coords, &layer.coords, k, &mut self.p);
            self.block_terms(&sk, block, first);
        }
        self.unit_buf = sk.unit;
    }

    /// The terms of one block of rows (`block[r]` indexes the group's sketch), whose
    /// products with the union are in `self.p`.
    fn block_terms(&mut self, sk: &Sketched, block: &[usize], first: usize) {
        let layer = self.layer;
        let s = &layer.subspace;
        let u = layer.union_len();
        let p: &[f32] = &self.p;
        // The pairs that may reach the floor, node-major.
        let near: Vec<Vec<u32>> = par_map(block.len(), |r| {
            let ri = sk.radius[block[r]];
            p[r * u..][..u]
                .iter()
                .zip(&layer.radius)
                .enumerate()
                .filter(|&(_, (&pij, &rj))| s.bounds(pij, ri, rj).1 >= LINK_FLOOR)
                .map(|(j, _)| j as u32)
                .collect()
        });
        let pairs: Vec<(u32, u32)> = near
            .iter()
            .enumerate()
            .flat_map(|(r, js)| js.iter().map(move |&j| (j, block[r] as u32)))
            .collect();
        self.add_terms(sk, pairs, first);
    }

    /// For each node `a`, the nodes within the angle any row anchored at `a` can reach the
    /// floor through (`acos(floor) + ∠(row, a)`, widened by the rounding bounds), with
    /// their (kernel) cosines to `a`.
    fn anchor_neighbours(&self) -> Vec<Vec<(u32, f32)>> {
        let layer = self.layer;
        let (u, dim) = (layer.union_len(), layer.dim());
        let canon = f64::from(f32_dot_error_bound(dim));
        let tol = canon + f64::from(self.kernel.error_bound(dim));
        let mut reach = vec![f64::NEG_INFINITY; u];
        for &(a, c) in &layer.anchors {
            if a != u32::MAX {
                let angle = (f64::from(c) - canon).clamp(-1.0, 1.0).acos();
                reach[a as usize] = reach[a as usize].max(angle);
            }
        }
        let floor = (f64::from(LINK_FLOOR) - canon).clamp(-1.0, 1.0).acos();
        let mut out = Vec::with_capacity(u);
        let mut g = Vec::new();
        for a0 in (0..u).step_by(BLOCK) {
            let a1 = (a0 + BLOCK).min(u);
            g.resize((a1 - a0) * u, 0.0);
            self.kernel.dots(
                &layer.coords[a0 * dim..a1 * dim],
                &layer.coords,
                dim,
                &mut g,
            );
            for a in a0..a1 {
                let row = &g[(a - a0) * u..][..u];
                let limit = floor + reach[a] + 1e-9;
                out.push(if reach[a].is_finite() {
                    row.iter()
                        .enumerate()
                        .filter(|&(_, &x)| (f64::from(x) + tol).clamp(-1.0, 1.0).acos() <= limit)
                        .map(|(n, &x)| (n as u32, x))
                        .collect()
                } else {
                    Vec::new()
                });
            }
        }
        out
    }

    /// The (node, row) pairs of a block of anchored rows that may reach the floor: by the
    /// triangle inequality on angles, `∠(r, n) ≥ ∠(a, n) − ∠(r, a)` for the row's anchor `a`.
    fn anchored_pairs(&self, block: &[usize], first: usize) -> Vec<(u32, u32)> {
        let layer = self.layer;
        let dim = layer.dim();
        let canon = f64::from(f32_dot_error_bound(dim));
        let tol = canon + f64::from(self.kernel.error_bound(dim));
        let floor = (f64::from(LINK_FLOOR) - canon).clamp(-1.0, 1.0).acos() + 1e-9;
        let neighbours = self.neighbours.as_ref().expect("computed");
        let mut pairs = Vec::new();
        for &i in block {
            let (a, c) = layer.anchors[first + i];
            if a == u32::MAX {
                continue;
            }
            let to_anchor = (f64::from(c) - canon).clamp(-1.0, 1.0).acos();
            for &(n, x) in &neighbours[a as usize] {
                let apart = (f64::from(x) + tol).clamp(-1.0, 1.0).acos();
                if apart - to_anchor <= floor {
                    pairs.push((n, i as u32));
                }
            }
        }
        pairs
    }

    /// Computes the canonical cosines of `pairs` (node, row of the group's sketch) and keeps
    /// the terms at or above the floor.
    fn add_terms(&mut self, sk: &Sketched, mut pairs: Vec<(u32, u32)>, first: usize) {
        let layer = self.layer;
        pairs.sort_unstable();
        let tasks = pairs.len().div_ceil(PAIRS_PER_TASK);
        let found: Vec<Vec<(u32, u32, f32)>> = par_map(tasks, |c| {
            let task =
                &pairs[c * PAIRS_PER_TASK..(c * PAIRS_PER_TASK + PAIRS_PER_TASK).min(pairs.len())];
            let mut out = Vec::new();
            // A node's rows four at a time (one read of the node's vector per four rows).
            for same in task.chunk_by(|a, b| a.0 == b.0) {
                let node = layer.vector(same[0].0 as usize);
                let mut rows = same.chunks_exact(4);
                for q in &mut rows {
                    let h = dot4(node, [0, 1, 2, 3].map(|r| sk.unit(q[r].1 as usize)));
                    out.extend(q.iter().zip(h).map(|(&(j, i), h)| (j, i, h)));
                }
                out.extend(
                    rows.remainder()
                        .iter()
                        .map(|&(j, i)| (j, i, dot(node, sk.unit(i as usize)))),
                );
            }
            out.retain(|t| t.2 >= LINK_FLOOR);
            for t in &mut out {
                t.1 = (first + t.1 as usize) as u32;
            }
            out
        });
        self.terms.extend(found.into_iter().flatten());
        self.pairs += pairs.len() as u64;
    }

    /// (row, node) pairs computed in full so far (rows still queued for their group are
    /// matched by [`Self::flush`]).
    pub fn pairs(&self) -> u64 {
        self.pairs
    }

    /// Matches the rows still queued (they wait for a full group otherwise).
    pub fn flush(&mut self) {
        let rest = self.group_answers.len();
        if rest > 0 {
            self.match_group(rest);
        }
    }

    /// The links of each θ's library, in θ order.
    pub fn finish(mut self) -> Result<Vec<Links>> {
        self.flush();
        // Each node's terms in training order: the definition's sums, in its order. Bucketed
        // by node (a counting sort), then each node's few terms sorted by row.
        let u = self.layer.union_len();
        let mut start = vec![0usize; u + 1];
        for &(j, _, _) in &self.terms {
            start[j as usize + 1] += 1;
        }
        for j in 0..u {
            start[j + 1] += start[j];
        }
        let mut next = start.clone();
        let mut by_node = vec![(0u32, 0f32); self.terms.len()];
        for &(j, i, h) in &self.terms {
            by_node[next[j as usize]] = (i, h);
            next[j as usize] += 1;
        }
        self.terms = Vec::new();
        let mut acc = HebbianAccumulator::new(u, self.classes)?;
        for j in 0..u {
            let node = &mut by_node[start[j]..start[j + 1]];
            node.sort_unstable_by_key(|t| t.0);
            for &(i, h) in node.iter() {
                acc.add_term(j, usize::from(self.answers[i as usize]), h)?;
            }
        }
        let all = acc.finish();
        let c = self.classes;
        (0..self.layer.thetas.len())
            .map(|t| {
                let members = self.layer.members(t);
                let mut w = Vec::with_capacity(members.len() * c);
                for &j in members {
                    w.extend_from_slice(all.node(j as usize));
                }
                Links::from_parts(members.len(), c, w)
            })
            .collect()
    }
}
