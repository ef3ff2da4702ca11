//! Libraries, links and test agreement for every layer × θ (Fig. 2/4), and confusion
//! indices (Fig. 3).

use hapscope_core::confusion::{ConfusionAccumulator, ConfusionMatrix, ConfusionVariant};
use hapscope_core::hebbian::Links;
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::library::{Library, LibraryBuilder};
use hapscope_core::predict::{Predictor, top_k};

use super::{HostTaps, NetFns, grid_index, sample_units, to_host};
use crate::data::images::LabelledImages;
use crate::method::{LinkBuilder, library_builder};

/// Images per forward pass.
pub const BATCH: usize = 500;

/// One layer's libraries over its θ grid, with links and test agreement.
pub struct LayerFit {
    /// Tap name.
    pub name: &'static str,
    /// This layer's θ grid.
    pub grid: Vec<f32>,
    /// HAP length.
    pub dim: usize,
    /// Library per θ of the grid.
    pub libraries: Vec<Library>,
    /// Links per θ.
    pub links: Vec<Links>,
    /// Top-1 agreement with the network's test answers per θ.
    pub top1: Vec<f64>,
    /// Within-top-3 agreement per θ.
    pub top3: Vec<f64>,
    /// Seconds spent building, linking and predicting (all θ together).
    pub seconds: [f64; 3],
}

/// A confusion-index matrix of one layer at one θ (true labels, code's definition).
pub struct Confusion {
    /// Tap name.
    pub layer: &'static str,
    /// θ.
    pub theta: f32,
    /// The matrix.
    pub matrix: ConfusionMatrix,
}

/// Everything the fit produced.
pub struct Fit {
    /// Per layer.
    pub layers: Vec<LayerFit>,
    /// Requested confusion matrices.
    pub confusions: Vec<Confusion>,
    /// Seconds of forward passes (all three passes).
    pub forward_seconds: f64,
    /// Training rows used.
    pub train_rows: usize,
    /// Test rows used.
    pub test_rows: usize,
    /// Network test accuracy on those rows (true labels).
    pub test_accuracy: f64,
    /// Per layer, the sampled hidden units (§4.3), or `None` for all of them.
    pub units: Vec<Option<Vec<usize>>>,
}

/// Runs `f` on every batch of the first `rows` images, with their host taps (restricted
/// to `units`, chosen on the first batch from `sample`) and labels.
pub fn for_batches(
    net: &NetFns<'_>,
    images: &LabelledImages,
    rows: usize,
    units: &mut Vec<Option<Vec<usize>>>,
    sample: Option<usize>,
    forward_seconds: &mut f64,
    mut f: impl FnMut(&HostTaps, &[usize]),
) {
    let idx: Vec<usize> = (0..rows.min(images.count)).collect();
    for chunk in idx.chunks(BATCH) {
        let t = std::time::Instant::now();
        let (x, _) = images.batch(chunk, &net.device);
        let mut host = to_host((net.taps)(x));
        if units.is_empty() {
            *units = host
                .layers
                .iter()
                .enumerate()
                .map(|(l, (_, dim, _))| {
                    sample.and_then(|k| sample_units(*dim, k, 0x5350 + l as u64))
                })
                .collect();
        }
        host.keep_units(units);
        *forward_seconds += t.elapsed().as_secs_f64();
        let labels: Vec<usize> = chunk
            .iter()
            .map(|&i| usize::from(images.labels[i]))
            .collect();
        f(&host, &labels);
    }
}

/// Builds, links and evaluates every layer × θ. `confusions` lists (layer, θ) pairs whose
/// confusion index to compute; `sample` keeps a seeded random `K` hidden units per layer
/// (§4.3). `progress(stage, rows)` reports each batch.
#[allow(clippy::too_many_arguments)]
pub fn fit<K: SimilarityKernel + Copy>(
    net: &NetFns<'_>,
    train: &LabelledImages,
    test: &LabelledImages,
    train_rows: usize,
    test_rows: usize,
    grids: &[Vec<f32>],
    confusions: &[(&'static str, f32)],
    top_a: usize,
    sample: Option<usize>,
    kernel: K,
    progress: &mut dyn FnMut(&str, usize),
) -> hapscope_core::Result<Fit> {
    let classes = 10;
    let mut fwd = 0.0;
    let mut units = Vec::new();
    // Pass 1: build every library.
    let mut builders: Vec<(&'static str, usize, Vec<LibraryBuilder<K>>)> = Vec::new();
    let mut build_s: Vec<f64> = Vec::new();
    let mut err = None;
    for_batches(
        net,
        train,
        train_rows,
        &mut units,
        sample,
        &mut fwd,
        |host, _| {
            if builders.is_empty() {
                for (name, dim, _) in &host.layers {
                    let bs = grids[builders.len()]
                        .iter()
                        .map(|&t| library_builder(*dim, t, kernel, true).expect("valid θ grid"))
                        .collect();
                    builders.push((name, *dim, bs));
                    build_s.push(0.0);
                }
            }
            for (l, (_, _, haps)) in host.layers.iter().enumerate() {
                let t = std::time::Instant::now();
                for b in &mut builders[l].2 {
                    if let Err(e) = b.push(haps) {
                        err.get_or_insert(e);
                    }
                }
                build_s[l] += t.elapsed().as_secs_f64();
            }
            progress("build", host.answers.len());
        },
    );
    if let Some(e) = err {
        return Err(e);
    }
    let libraries: Vec<(&'static str, usize, Vec<Library>)> = builders
        .into_iter()
        .map(|(n, d, bs)| (n, d, bs.into_iter().map(|b| b.finish()).collect()))
        .collect();

    // Pass 2: Hebbian links (Eq. 2) to the network's answers.
    let mut link_builders: Vec<Vec<LinkBuilder<'_>>> = libraries
        .iter()
        .map(|(_, _, libs)| {
            libs.iter()
                .map(|l| LinkBuilder::new(l, classes))
                .collect::<Result<_, _>>()
        })
        .collect::<Result<_, _>>()?;
    let mut link_s = vec![0.0; libraries.len()];
    let mut err = None;
    for_batches(
        net,
        train,
        train_rows,
        &mut units,
        sample,
        &mut fwd,
        |host, _| {
            for (l, (_, _, haps)) in host.layers.iter().enumerate() {
                let t = std::time::Instant::now();
                for lb in &mut link_builders[l] {
                    if let Err(e) = lb.add(haps, &host.answers, &kernel) {
                        err.get_or_insert(e);
                    }
                }
                link_s[l] += t.elapsed().as_secs_f64();
            }
            progress("links", host.answers.len());
        },
    );
    if let Some(e) = err {
        return Err(e);
    }
    let links: Vec<Vec<Links>> = link_builders
        .into_iter()
        .map(|v| v.into_iter().map(|b| b.finish()).collect())
        .collect();

    // Pass 3: predict the test set; agreement with the network's answers, confusion with labels.
    let predictors: Vec<Vec<Predictor<'_>>> = libraries
        .iter()
        .zip(&links)
        .map(|((_, _, libs), ls)| {
            libs.iter()
                .zip(ls)
                .map(|(lib, lk)| Predictor::new(lib, lk, top_a))
                .collect::<Result<_, _>>()
        })
        .collect::<Result<_, _>>()?;
    let mut hits: Vec<Vec<(usize, usize)>> = grids.iter().map(|g| vec![(0, 0); g.len()]).collect();
    let mut conf: Vec<(usize, usize, ConfusionAccumulator)> = Vec::new();
    for &(layer, theta) in confusions {
        let l = libraries.iter().position(|(n, _, _)| *n == layer);
        if let Some((l, t)) = l.and_then(|l| Some((l, grid_index(&grids[l], theta)?))) {
            conf.push((
                l,
                t,
                ConfusionAccumulator::new(classes, ConfusionVariant::Code)?,
            ));
        }
    }
    let mut pred_s = vec![0.0; libraries.len()];
    let (mut correct, mut seen) = (0usize, 0usize);
    let mut err = None;
    for_batches(
        net,
        test,
        test_rows,
        &mut units,
        sample,
        &mut fwd,
        |host, labels| {
            correct += host
                .answers
                .iter()
                .zip(labels)
                .filter(|(a, b)| a == b)
                .count();
            seen += labels.len();
            for (l, (_, dim, haps)) in host.layers.iter().enumerate() {
                let t0 = std::time::Instant::now();
                let m = haps.len() / dim;
                for (t, p) in predictors[l].iter().enumerate() {
                    let mut scores = vec![0.0; m * classes];
                    let mut nz = vec![false; m];
                    if let Err(e) = p.scores(haps, &kernel, &mut scores, &mut nz) {
                        err.get_or_insert(e);
                        continue;
                    }
                    for (i, row) in scores.chunks_exact(classes).enumerate() {
                        let top = top_k(row, 3);
                        hits[l][t].0 += usize::from(top[0] == host.answers[i]);
                        hits[l][t].1 += usize::from(top.contains(&host.answers[i]));
                        for (cl, ct, acc) in &mut conf {
                            if *cl == l && *ct == t {
                                let _ = acc.add(labels[i], row);
                            }
                        }
                    }
                }
                pred_s[l] += t0.elapsed().as_secs_f64();
            }
            progress("predict", labels.len());
        },
    );
    if let Some(e) = err {
        return Err(e);
    }
    let n = seen.max(1) as f64;
    let names: Vec<&'static str> = libraries.iter().map(|(name, _, _)| *name).collect();
    let confusions = conf
        .into_iter()
        .map(|(l, t, acc)| Confusion {
            layer: names[l],
            theta: grids[l][t],
            matrix: acc.finish(),
        })
        .collect();
    let layers = libraries
        .into_iter()
        .zip(links)
        .enumerate()
        .map(|(l, ((name, dim, libraries), links))| LayerFit {
            name,
            grid: grids[l].clone(),
            dim,
            libraries,
            links,
            top1: hits[l].iter().map(|h| h.0 as f64 / n).collect(),
            top3: hits[l].iter().map(|h| h.1 as f64 / n).collect(),
            seconds: [build_s[l], link_s[l], pred_s[l]],
        })
        .collect();
    Ok(Fit {
        layers,
        confusions,
        forward_seconds: fwd,
        train_rows: train_rows.min(train.count),
        test_rows: seen,
        test_accuracy: correct as f64 / n,
        units,
    })
}
