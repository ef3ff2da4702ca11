//! Pass 2: Hebbian links (Eq. 2) of every node of the union, once for the whole grid —
//! a node's links do not depend on which libraries hold it.

use hapscope_core::hebbian::{HebbianAccumulator, LINK_FLOOR, Links};
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::similarity::dot;
use hapscope_core::{Error, Result};

use super::{BLOCK, GridLayer, check_rows, par_map, sketch};

/// Pairs per parallel task: enough canonical dots to amortize the task, few enough to
/// balance the threads.
const PAIRS_PER_TASK: usize = 512;

/// Eq. 2 for the union of a [`GridLayer`], fed the training rows again in order. Only the
/// (row, node) pairs whose upper bound reaches [`LINK_FLOOR`] are computed (canonically);
/// the rest are below the floor and left out, as the core's links define
/// ([`hapscope_core::hebbian`]), so the weights are those of
/// [`crate::method::LinkBuilder`] for each library, bit for bit.
pub struct GridLinkBuilder<'a, K> {
    layer: &'a GridLayer,
    kernel: K,
    acc: HebbianAccumulator,
    classes: usize,
    pairs: u64,
    rows: usize,
    p: Vec<f32>,
}

impl<'a, K: SimilarityKernel + Sync> GridLinkBuilder<'a, K> {
    /// Links from `layer`'s nodes to `classes` answers.
    pub fn new(layer: &'a GridLayer, classes: usize, kernel: K) -> Result<Self> {
        Ok(GridLinkBuilder {
            layer,
            kernel,
            acc: HebbianAccumulator::new(layer.union_len(), classes)?,
            classes,
            pairs: 0,
            rows: 0,
            p: Vec::new(),
        })
    }

    /// Adds training rows (row-major HAPs) with the network's answers on them.
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
        for (block, ans) in haps.chunks(BLOCK * dim).zip(answers.chunks(BLOCK)) {
            self.add_block(block, ans)?;
        }
        Ok(())
    }

    fn add_block(&mut self, raw: &[f32], answers: &[usize]) -> Result<()> {
        let layer = self.layer;
        let s = &layer.subspace;
        let sk = layer
            .cached_sketch(self.rows, raw)
            .unwrap_or_else(|| sketch(s, &self.kernel, raw));
        self.rows += sk.rows;
        let (b, u) = (sk.rows, layer.union_len());
        if b == 0 || u == 0 {
            return Ok(());
        }
        let p = &mut self.p;
        p.resize(b * u, 0.0);
        self.kernel.dots(&sk.coords, &layer.coords, s.k(), p);
        // The pairs that may reach the floor, node-major (each node's rows in order).
        let p: &[f32] = p;
        let near: Vec<Vec<u32>> = par_map(b, |i| {
            if !sk.nonzero[i] {
                return Vec::new();
            }
            let ri = sk.radius[i];
            p[i * u..][..u]
                .iter()
                .zip(&layer.radius)
                .enumerate()
                .filter(|&(_, (&pij, &rj))| s.bounds(pij, ri, rj).1 >= LINK_FLOOR)
                .map(|(j, _)| j as u32)
                .collect()
        });
        let mut pairs: Vec<(u32, u32)> = near
            .iter()
            .enumerate()
            .flat_map(|(i, js)| js.iter().map(move |&j| (j, i as u32)))
            .collect();
        pairs.sort_unstable();
        let tasks = pairs.len().div_ceil(PAIRS_PER_TASK);
        let sims: Vec<Vec<f32>> = par_map(tasks, |c| {
            pairs[c * PAIRS_PER_TASK..]
                .iter()
                .take(PAIRS_PER_TASK)
                .map(|&(j, i)| dot(sk.unit(i as usize), layer.vector(j as usize)))
                .collect()
        });
        for (&(j, i), &h) in pairs.iter().zip(sims.iter().flatten()) {
            self.acc.add_term(j as usize, answers[i as usize], h)?;
        }
        self.pairs += pairs.len() as u64;
        Ok(())
    }

    /// (row, node) pairs computed in full so far.
    pub fn pairs(&self) -> u64 {
        self.pairs
    }

    /// The links of each θ's library, in θ order.
    pub fn finish(self) -> Result<Vec<Links>> {
        let all = self.acc.finish();
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
