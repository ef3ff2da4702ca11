//! The exemplar passes of a load, planned: which exemplars each library needs, and how deep
//! each one's forward pass must go.
//!
//! A library node *is* an exemplar (docs/method.md), so a load recomputes only the HAPs of
//! each library's own nodes — not every layer of every exemplar (CN1's 11,520-long HAPs are
//! needed for its 259 nodes, not for all 1,268 exemplars), and an exemplar's pass stops after
//! the deepest layer it is a node of.
//!
//! A library that stores its node vectors needs no passes: the plan leaves it out, and its
//! layers are the other libraries, in order. The MNIST bundle's FC1 and FC2 do (0.8 MB
//! gzipped): its load passes 1,029 exemplars, 82 of them through conv1 only and none beyond
//! conv2, where storing none passed 1,268, 553 of them through the whole network.
//!
//! The passes split into interleaved shares, so the page's workers each get a like mix of
//! shallow and deep passes; [`PassPlan::node_rows`] puts the shares' rows back in each
//! library's node order.

use burn::prelude::*;
use hapscope_core::artifact::LibraryArtifact;

use super::bundle::{Bundle, BundleError};
use super::model::exemplar_pixels;
use crate::network::Network;

/// Exemplars per forward pass: smaller batches keep burn-flex's convolution buffers in cache
/// (64 was fastest in the page, 1.8 s vs 2.2 s at 256 for 1,269 digits).
pub const PASS_BATCH: usize = 64;

/// One exemplar's pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pass {
    /// Its row in the bundle's exemplars.
    row: usize,
    /// The network tap the pass stops after (the deepest layer it is a node of).
    last: usize,
    /// Bit `l`: the exemplar is a node of the bundle's layer `l`.
    layers: u64,
}

/// The passes a load needs, in the order they run: by depth, by the layers they serve, by
/// exemplar row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassPlan {
    passes: Vec<Pass>,
    /// Per plan layer, its name.
    names: Vec<String>,
    /// Per plan layer, its network tap.
    taps: Vec<usize>,
    /// Per plan layer, its HAP length.
    dims: Vec<usize>,
    /// Per plan layer, the row of each node's exemplar, in node order.
    node_rows: Vec<Vec<usize>>,
}

impl PassPlan {
    /// The plan for exemplars `ids` (the manifest's `exemplar_ids`, increasing) and
    /// `libraries` (in `manifest.layers` order) on a network with taps `tap_names`: its
    /// layers are the libraries without stored vectors. Fails when one of those is not a
    /// tap, a node of one is not among the exemplars, or there are more than 64 of them.
    pub fn new(
        ids: &[u32],
        libraries: &[LibraryArtifact],
        tap_names: &[&str],
    ) -> Result<Self, BundleError> {
        let libraries: Vec<&LibraryArtifact> =
            libraries.iter().filter(|a| a.vectors.is_none()).collect();
        let names: Vec<String> = libraries.iter().map(|a| a.layer.clone()).collect();
        let no_tap = || BundleError::NoTap {
            layers: names.clone(),
        };
        if libraries.len() > 64 {
            return Err(no_tap());
        }
        let mut layers = vec![0u64; ids.len()];
        let mut last = vec![0usize; ids.len()];
        let mut taps = Vec::with_capacity(libraries.len());
        let mut node_rows = Vec::with_capacity(libraries.len());
        for (l, a) in libraries.iter().enumerate() {
            let tap = tap_names
                .iter()
                .position(|t| *t == a.layer)
                .ok_or_else(no_tap)?;
            let rows = a
                .source_ids
                .iter()
                .map(|&id| {
                    ids.binary_search(&id).map_err(|_| BundleError::NoExemplar {
                        layer: a.layer.clone(),
                        id,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            for &r in &rows {
                layers[r] |= 1 << l;
                last[r] = last[r].max(tap);
            }
            taps.push(tap);
            node_rows.push(rows);
        }
        let mut passes: Vec<Pass> = (0..ids.len())
            .filter(|&row| layers[row] != 0)
            .map(|row| Pass {
                row,
                last: last[row],
                layers: layers[row],
            })
            .collect();
        // By depth (one depth per batch), then by the layers a pass serves, so that each
        // layer's rows of a batch come in few runs.
        passes.sort_by_key(|p| (p.last, p.layers, p.row));
        Ok(PassPlan {
            passes,
            names,
            taps,
            dims: libraries.iter().map(|a| a.dim).collect(),
            node_rows,
        })
    }

    /// The plan for a checked bundle on `net`.
    pub fn for_bundle(bundle: &Bundle, net: &Network) -> Result<Self, BundleError> {
        Self::new(
            &bundle.manifest.exemplar_ids,
            &bundle.libraries,
            net.tap_names(),
        )
    }

    /// How many layers (libraries without stored vectors) the plan serves.
    pub fn layers(&self) -> usize {
        self.taps.len()
    }

    /// How many exemplars are passed through the network.
    pub fn passes(&self) -> usize {
        self.passes.len()
    }

    /// How many passes stop after each network tap (index: tap).
    pub fn passes_by_depth(&self) -> Vec<usize> {
        let taps = self.passes.iter().map(|p| p.last + 1).max().unwrap_or(0);
        let mut n = vec![0; taps];
        for p in &self.passes {
            n[p.last] += 1;
        }
        n
    }

    /// Share `part` of `parts`: every `parts`-th pass from the `part`-th, so every share
    /// has a like mix of depths.
    fn share(&self, part: usize, parts: usize) -> impl Iterator<Item = &Pass> {
        self.passes.iter().skip(part).step_by(parts.max(1))
    }

    /// The forward passes of share `part` of `parts`, `PASS_BATCH` exemplars of one depth at
    /// a time: per batch, per plan layer, the taps of the batch's nodes of that layer
    /// (`None` when it has none), still on `device`, for the caller to read — synchronously
    /// natively, asynchronously in the page.
    pub fn share_taps<'a>(
        &'a self,
        net: &'a Network,
        exemplars: &'a [u8],
        shape: [usize; 3],
        part: usize,
        parts: usize,
        device: &'a Device,
    ) -> impl Iterator<Item = Vec<Option<Tensor<2>>>> + 'a {
        let share: Vec<Pass> = self.share(part, parts).copied().collect();
        let batches: Vec<Vec<Pass>> = share
            .chunk_by(|a, b| a.last == b.last)
            .flat_map(|same| same.chunks(PASS_BATCH))
            .map(<[Pass]>::to_vec)
            .collect();
        let per: usize = shape.iter().product();
        batches.into_iter().map(move |batch| {
            let px = exemplar_pixels(exemplars, per, batch.iter().map(|p| p.row));
            let [c, h, w] = shape;
            let x = Tensor::<4>::from_data(TensorData::new(px, [batch.len(), c, h, w]), device);
            let taps = net.taps_through(x, batch[0].last);
            self.taps
                .iter()
                .enumerate()
                .map(|(l, &tap)| {
                    let t = &taps.get(tap)?.1;
                    let runs = runs_of(&batch, l);
                    let d = t.dims()[1];
                    // Slices, not a gather by index: `select` would bring burn's integer
                    // tensors into the wasm (≈ 0.2 MB).
                    match runs.as_slice() {
                        [] => None,
                        [all] if *all == (0..batch.len()) => Some(t.clone()),
                        [one] => Some(t.clone().slice([one.clone(), 0..d])),
                        many => Some(Tensor::cat(
                            many.iter()
                                .map(|r| t.clone().slice([r.clone(), 0..d]))
                                .collect(),
                            0,
                        )),
                    }
                })
                .collect()
        })
    }

    /// [`PassPlan::share_taps`] read back to the host: per plan layer, the HAPs of the
    /// share's nodes of it, in the share's order (what one page worker hands over).
    pub fn share_haps(
        &self,
        net: &Network,
        exemplars: &[u8],
        shape: [usize; 3],
        part: usize,
        parts: usize,
        device: &Device,
    ) -> Vec<Vec<f32>> {
        let mut out = vec![Vec::new(); self.taps.len()];
        for batch in self.share_taps(net, exemplars, shape, part, parts, device) {
            for (o, t) in out.iter_mut().zip(batch) {
                if let Some(t) = t {
                    o.extend(
                        t.into_data()
                            .convert::<f32>()
                            .try_to_vec::<f32>()
                            .expect("f32 HAPs"),
                    );
                }
            }
        }
        out
    }

    /// Each plan layer's node HAPs in node order (`nodes_l × dim_l` values per layer, the input
    /// of [`super::model::PageModel::from_node_rows`]) from the shares' HAPs: `shares[k]` is
    /// share `k` of `shares.len()` as [`PassPlan::share_haps`] computes it. Fails, naming
    /// the layer, when a share has the wrong number of layers or values.
    pub fn node_rows(&self, shares: &[Vec<Vec<f32>>]) -> Result<Vec<Vec<f32>>, BundleError> {
        if shares.is_empty() {
            return Err(BundleError::NoRows);
        }
        let parts = shares.len();
        let layers = self.taps.len();
        if let Some(share) = shares.iter().find(|s| s.len() != layers) {
            return Err(BundleError::LayerCount {
                got: share.len(),
                expected: layers,
            });
        }
        // Where each exemplar row's HAP of layer l is: (share, its row in that share's layer l).
        let rows = self.passes.iter().map(|p| p.row + 1).max().unwrap_or(0);
        let mut at = vec![vec![(0usize, 0usize); layers]; rows];
        let mut counts = vec![vec![0usize; layers]; parts];
        for (i, p) in self.passes.iter().enumerate() {
            let k = i % parts;
            for l in (0..layers).filter(|&l| p.layers & (1 << l) != 0) {
                at[p.row][l] = (k, counts[k][l]);
                counts[k][l] += 1;
            }
        }
        (0..layers)
            .map(|l| {
                let dim = self.dims[l];
                for (k, share) in shares.iter().enumerate() {
                    let (got, rows) = (share[l].len(), counts[k][l]);
                    if got != rows * dim {
                        return Err(BundleError::HapLength {
                            layer: format!("{} (share {k} of {parts})", self.names[l]),
                            got,
                            rows,
                            dim,
                        });
                    }
                }
                let mut out = Vec::with_capacity(self.node_rows[l].len() * dim);
                for &row in &self.node_rows[l] {
                    let (k, off) = at[row][l];
                    out.extend_from_slice(&shares[k][l][off * dim..][..dim]);
                }
                Ok(out)
            })
            .collect()
    }
}

/// The runs of consecutive passes of `batch` that are nodes of layer `l`.
fn runs_of(batch: &[Pass], l: usize) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, p) in batch.iter().enumerate() {
        if p.layers & (1 << l) == 0 {
            continue;
        }
        match runs.last_mut() {
            Some(r) if r.end == i => r.end = i + 1,
            _ => runs.push(i..i + 1),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use hapscope_core::hebbian::Links;

    use super::*;
    use crate::nets::lenet::{LENET_TAP_DIMS, LENET_TAPS, LeNet};
    use crate::page::build::image_haps;

    const N: usize = 150;

    /// `N` noise digits (a fixed LCG), exemplar ids `3 · row + 1`.
    fn exemplars() -> (Vec<u32>, Vec<u8>) {
        let mut x = 12345u32;
        let bytes = (0..N * 784)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 24) as u8
            })
            .collect();
        ((0..N as u32).map(|r| 3 * r + 1).collect(), bytes)
    }

    fn library(layer: &str, dim: usize, rows: &[usize]) -> LibraryArtifact {
        LibraryArtifact {
            layer: layer.into(),
            theta: 0.5,
            dim,
            source_ids: rows.iter().map(|&r| 3 * r as u32 + 1).collect(),
            vectors: None,
            links: Links::from_parts(rows.len(), 10, vec![0.0; rows.len() * 10]).unwrap(),
        }
    }

    /// CN1: rows 0, 2, 4, …; CN2: rows 1, 4, 7, …; FC1: the first 100 rows from 20; FC2:
    /// rows 0, 5, 10, …; rows 3, 9, … (odd multiples of 3 past FC1's) are nodes of none.
    fn libraries() -> Vec<LibraryArtifact> {
        let rows = |f: &dyn Fn(usize) -> bool| (0..N).filter(|&r| f(r)).collect::<Vec<_>>();
        let layers = [
            rows(&|r| r % 2 == 0),
            rows(&|r| r % 3 == 1),
            rows(&|r| (20..120).contains(&r)),
            rows(&|r| r % 5 == 0),
        ];
        layers
            .iter()
            .enumerate()
            .map(|(l, r)| library(LENET_TAPS[l], LENET_TAP_DIMS[l], r))
            .collect()
    }

    /// Split into 1, 2 or 3 shares, the planned passes give every library's node HAPs as
    /// the plain route does: every layer of every exemplar, gathered in node order.
    #[test]
    fn the_shares_give_each_librarys_node_haps() {
        let device = Device::flex();
        let net = Network::LeNet(LeNet::new(&device));
        let (ids, bytes) = exemplars();
        let libs = libraries();
        let plan = PassPlan::new(&ids, &libs, net.tap_names()).unwrap();
        let all = image_haps(&net, &bytes, [1, 28, 28], 0..N, &LENET_TAPS, &device);
        let expected: Vec<Vec<f32>> = libs
            .iter()
            .zip(&all)
            .map(|(a, h)| {
                a.source_ids
                    .iter()
                    .flat_map(|&id| {
                        let row = ids.binary_search(&id).unwrap();
                        h[row * a.dim..][..a.dim].to_vec()
                    })
                    .collect()
            })
            .collect();
        // Nodes of none: rows ≡ 3 (mod 6) outside 20..120 that are not multiples of 5.
        let used = (0..N)
            .filter(|&r| r % 2 == 0 || r % 3 == 1 || (20..120).contains(&r) || r % 5 == 0)
            .count();
        assert_eq!(plan.passes(), used);
        let depth = plan.passes_by_depth();
        assert_eq!(depth.iter().sum::<usize>(), used);
        // CN1-only rows stop after conv1: even, ≢ 1 (mod 3), outside FC1's, not ≡ 0 (mod 5).
        let cn1_only = (0..N)
            .filter(|&r| r % 2 == 0 && r % 3 != 1 && !(20..120).contains(&r) && r % 5 != 0)
            .count();
        assert_eq!(depth[0], cn1_only);
        for parts in 1..=3 {
            let shares: Vec<Vec<Vec<f32>>> = (0..parts)
                .map(|k| plan.share_haps(&net, &bytes, [1, 28, 28], k, parts, &device))
                .collect();
            let rows = plan.node_rows(&shares).unwrap();
            assert_same_haps(&rows, &expected, &format!("{parts} shares"));
        }
    }

    /// Each layer of `got` holds `want`'s values: bit for bit on x86-64 here, but a batch of
    /// another size may take another kernel.
    fn assert_same_haps(got: &[Vec<f32>], want: &[Vec<f32>], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: layers");
        for (l, (got, want)) in got.iter().zip(want).enumerate() {
            assert_eq!(got.len(), want.len(), "{what}, layer {l}");
            for (a, b) in got.iter().zip(want) {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                    "{what}, layer {l}: {a} vs {b}"
                );
            }
        }
    }

    /// Libraries that store their node vectors are not in the plan: its layers are the
    /// others, and an exemplar that is a node of stored libraries only is not passed.
    #[test]
    fn libraries_with_stored_vectors_need_no_passes() {
        let device = Device::flex();
        let net = Network::LeNet(LeNet::new(&device));
        let (ids, bytes) = exemplars();
        let mut libs = libraries();
        for a in &mut libs[2..] {
            a.vectors = Some(vec![0.5; a.nodes() * a.dim]);
        }
        let plan = PassPlan::new(&ids, &libs, net.tap_names()).unwrap();
        assert_eq!(plan.layers(), 2);
        // CN1's and CN2's nodes, none passed beyond CN2 (tap 1).
        let used = (0..N).filter(|&r| r % 2 == 0 || r % 3 == 1).count();
        assert_eq!(plan.passes(), used);
        assert_eq!(plan.passes_by_depth().len(), 2);
        let all = PassPlan::new(&ids, &libraries(), net.tap_names()).unwrap();
        let full = all
            .node_rows(&[all.share_haps(&net, &bytes, [1, 28, 28], 0, 1, &device)])
            .unwrap();
        let rows = plan
            .node_rows(&[plan.share_haps(&net, &bytes, [1, 28, 28], 0, 1, &device)])
            .unwrap();
        assert_same_haps(&rows, &full[..2], "CN1 and CN2 alone");
    }

    #[test]
    fn shares_that_do_not_fit_the_plan_are_refused_by_kind() {
        let (ids, _) = exemplars();
        let libs = libraries();
        let plan = PassPlan::new(&ids, &libs, &LENET_TAPS).unwrap();
        assert!(matches!(plan.node_rows(&[]), Err(BundleError::NoRows)));
        // Shares of the right lengths, whatever their values.
        let counts: Vec<usize> = libs.iter().map(|a| a.nodes() * a.dim).collect();
        let share =
            |scale: f32| -> Vec<Vec<f32>> { counts.iter().map(|&n| vec![scale; n]).collect() };
        assert!(plan.node_rows(&[share(1.0)]).is_ok());
        let mut short = share(1.0);
        short[1].pop();
        let e = plan.node_rows(&[short]).unwrap_err();
        assert!(
            matches!(&e, BundleError::HapLength { layer, rows: 50, dim: 3200, .. } if layer == "CN2 (share 0 of 1)"),
            "{e:?}"
        );
        let e = plan.node_rows(&[share(1.0)[..3].to_vec()]).unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::LayerCount {
                    got: 3,
                    expected: 4
                }
            ),
            "{e:?}"
        );
        // Two shares of a one-share plan's lengths: the second holds too many rows.
        assert!(plan.node_rows(&[share(1.0), share(2.0)]).is_err());

        let mut unknown = libraries();
        unknown[2].source_ids[0] = 2; // ids are 3 · row + 1
        let e = PassPlan::new(&ids, &unknown, &LENET_TAPS).unwrap_err();
        assert!(
            matches!(&e, BundleError::NoExemplar { layer, id: 2 } if layer == "FC1"),
            "{e:?}"
        );
        let mut renamed = libraries();
        renamed[1].layer = "CL2".into();
        let e = PassPlan::new(&ids, &renamed, &LENET_TAPS).unwrap_err();
        assert!(matches!(e, BundleError::NoTap { .. }), "{e:?}");
    }
}
