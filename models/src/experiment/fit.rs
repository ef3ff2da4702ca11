//! Libraries, links and test agreement for every layer × θ (Fig. 2/4), and confusion
//! indices (Fig. 3). The number of classes is the width of the network's logits, and every
//! error of the core (a bad θ, a class out of range, a dimension mismatch) ends the fit.

use hapscope_core::confusion::{ConfusionAccumulator, ConfusionMatrix, ConfusionVariant};
use hapscope_core::hebbian::Links;
use hapscope_core::kernel::SimilarityKernel;
use hapscope_core::library::Library;
use hapscope_core::predict::top_k;

use super::{ExperimentError, HostTaps, NetFns, Result, require_grid_index, sample_units, to_host};
use crate::data::images::LabelledImages;
use crate::grid::{GridLayer, GridPredictor};
use crate::method::{GridLibraries, GridLinks};

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
    /// Number of classes (the width of the network's logits).
    pub classes: usize,
}

/// Runs `f` on every batch of the first `rows` images, with their host taps (restricted
/// to `units`, chosen on the first batch from `sample`), labels and the network's class
/// count (its logits' width); stops at the first error `f` returns.
pub fn for_batches(
    net: &NetFns<'_>,
    images: &LabelledImages,
    rows: usize,
    units: &mut Vec<Option<Vec<usize>>>,
    sample: Option<usize>,
    forward_seconds: &mut f64,
    mut f: impl FnMut(&HostTaps, &[usize], usize) -> Result<()>,
) -> Result<()> {
    let idx: Vec<usize> = (0..rows.min(images.count)).collect();
    for chunk in idx.chunks(BATCH) {
        let t = std::time::Instant::now();
        let (x, _) = images.batch(chunk, &net.device);
        let taps = (net.taps)(x);
        let [_, classes] = taps.logits.dims();
        let mut host = to_host(taps);
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
        f(&host, &labels, classes)?;
    }
    Ok(())
}

/// Builds, links and evaluates every layer × θ. `grids` holds one θ grid per tap (network
/// order); `confusions` lists (layer, θ) pairs whose confusion index to compute (each θ
/// must be on its layer's grid); `sample` keeps a seeded random `K` hidden units per layer
/// (§4.3). The class count is the width of the network's logits. `progress(stage, rows)`
/// reports each batch.
#[allow(clippy::too_many_arguments)]
pub fn fit<K: SimilarityKernel + Copy + Sync>(
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
) -> Result<Fit> {
    let mut fwd = 0.0;
    let mut units = Vec::new();
    let mut classes = 0;
    // Pass 1: build every library.
    let mut names: Vec<(&'static str, usize)> = Vec::new();
    let mut builder: Option<GridLibraries<K>> = None;
    let mut build_s: Vec<f64> = Vec::new();
    for_batches(
        net,
        train,
        train_rows,
        &mut units,
        sample,
        &mut fwd,
        |host, _, c| {
            let b = match &mut builder {
                Some(b) => b,
                None => {
                    if grids.len() != host.layers.len() {
                        return Err(ExperimentError::Plan(format!(
                            "{} θ grids for a network with {} taps",
                            grids.len(),
                            host.layers.len()
                        )));
                    }
                    classes = c;
                    names = host.layers.iter().map(|(n, d, _)| (*n, *d)).collect();
                    build_s = vec![0.0; names.len()];
                    let dims: Vec<usize> = names.iter().map(|&(_, d)| d).collect();
                    builder.insert(GridLibraries::new(&dims, grids, kernel, true)?)
                }
            };
            for (l, (_, _, haps)) in host.layers.iter().enumerate() {
                let t = std::time::Instant::now();
                b.push(l, haps)?;
                build_s[l] += t.elapsed().as_secs_f64();
            }
            progress("build", host.answers.len());
            Ok(())
        },
    )?;
    let Some(builder) = builder else {
        return Err(hapscope_core::Error::Empty {
            what: "training set",
        }
        .into());
    };
    let grid_layers = builder.finish()?;
    let libraries: Vec<(&'static str, usize, &GridLayer)> = names
        .iter()
        .zip(&grid_layers)
        .map(|(&(n, d), g)| (n, d, g))
        .collect();
    // Every requested confusion matrix names a tap and a θ of its grid.
    let conf_at: Vec<(usize, usize)> = confusions
        .iter()
        .map(|&(layer, theta)| {
            let l = libraries
                .iter()
                .position(|(n, _, _)| *n == layer)
                .ok_or_else(|| ExperimentError::UnknownLayer(layer.to_string()))?;
            Ok((l, require_grid_index(layer, &grids[l], theta)?))
        })
        .collect::<Result<_>>()?;

    // Pass 2: Hebbian links (Eq. 2) to the network's answers.
    let mut link_builder = GridLinks::new(&grid_layers, classes, kernel)?;
    let mut link_s = vec![0.0; libraries.len()];
    for_batches(
        net,
        train,
        train_rows,
        &mut units,
        sample,
        &mut fwd,
        |host, _, _| {
            for (l, (_, _, haps)) in host.layers.iter().enumerate() {
                let t = std::time::Instant::now();
                link_builder.add(l, haps, &host.answers)?;
                link_s[l] += t.elapsed().as_secs_f64();
            }
            progress("links", host.answers.len());
            Ok(())
        },
    )?;
    let links: Vec<Vec<Links>> = link_builder.finish()?;

    // Pass 3: predict the test set; agreement with the network's answers, confusion with labels.
    let predictors: Vec<GridPredictor<'_, K>> = libraries
        .iter()
        .zip(&links)
        .map(|((_, _, layer), ls)| GridPredictor::new(layer, ls, top_a, kernel))
        .collect::<hapscope_core::Result<_>>()?;
    let mut hits: Vec<Vec<(usize, usize)>> = grids.iter().map(|g| vec![(0, 0); g.len()]).collect();
    let mut conf: Vec<(usize, usize, ConfusionAccumulator)> = conf_at
        .into_iter()
        .map(|(l, t)| {
            Ok((
                l,
                t,
                ConfusionAccumulator::new(classes, ConfusionVariant::Code)?,
            ))
        })
        .collect::<hapscope_core::Result<_>>()?;
    let mut pred_s = vec![0.0; libraries.len()];
    let (mut correct, mut seen) = (0usize, 0usize);
    for_batches(
        net,
        test,
        test_rows,
        &mut units,
        sample,
        &mut fwd,
        |host, labels, _| {
            correct += host
                .answers
                .iter()
                .zip(labels)
                .filter(|(a, b)| a == b)
                .count();
            seen += labels.len();
            for (l, (_, _, haps)) in host.layers.iter().enumerate() {
                let t0 = std::time::Instant::now();
                for (t, scores) in predictors[l].scores(haps)?.iter().enumerate() {
                    for (i, row) in scores.chunks_exact(classes).enumerate() {
                        let top = top_k(row, 3);
                        hits[l][t].0 += usize::from(top[0] == host.answers[i]);
                        hits[l][t].1 += usize::from(top.contains(&host.answers[i]));
                        for (cl, ct, acc) in &mut conf {
                            if *cl == l && *ct == t {
                                acc.add(labels[i], row)?;
                            }
                        }
                    }
                }
                pred_s[l] += t0.elapsed().as_secs_f64();
            }
            progress("predict", labels.len());
            Ok(())
        },
    )?;
    let n = seen.max(1) as f64;
    let confusions = conf
        .into_iter()
        .map(|(l, t, acc)| Confusion {
            layer: names[l].0,
            theta: grids[l][t],
            matrix: acc.finish(),
        })
        .collect();
    let layers = names
        .into_iter()
        .zip(&grid_layers)
        .zip(links)
        .enumerate()
        .map(|(l, (((name, dim), layer), links))| {
            Ok(LayerFit {
                name,
                grid: grids[l].clone(),
                dim,
                libraries: layer.libraries()?,
                links,
                top1: hits[l].iter().map(|h| h.0 as f64 / n).collect(),
                top3: hits[l].iter().map(|h| h.1 as f64 / n).collect(),
                seconds: [build_s[l], link_s[l], pred_s[l]],
            })
        })
        .collect::<Result<_>>()?;
    Ok(Fit {
        layers,
        confusions,
        forward_seconds: fwd,
        train_rows: train_rows.min(train.count),
        test_rows: seen,
        test_accuracy: correct as f64 / n,
        units,
        classes,
    })
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use hapscope_core::kernel::PlainKernel;

    use super::*;
    use crate::taps::Taps;

    /// `count` images of `classes` pixels: image `i` lights pixel `i % classes` (so a
    /// network that answers its argmax answers `i % classes`) over a little noise.
    fn images(classes: usize, count: usize, label: impl Fn(usize) -> u8) -> LabelledImages {
        let pixels = (0..count)
            .flat_map(|i| {
                (0..classes).map(move |p| {
                    if p == i % classes {
                        255
                    } else {
                        ((i * 7 + p * 13) % 40) as u8
                    }
                })
            })
            .collect();
        LabelledImages {
            count,
            shape: [1, 1, classes],
            pixels,
            labels: (0..count).map(label).collect(),
        }
    }

    /// A one-tap "network" whose HAP and logits are its input: as many classes as pixels.
    fn fit_on(
        classes: usize,
        test_label: impl Fn(usize) -> u8,
        grids: &[Vec<f32>],
        confusions: &[(&'static str, f32)],
    ) -> Result<Fit> {
        let flat = |x: Tensor<4>| {
            let [n, _, _, w] = x.dims();
            x.reshape([n, w])
        };
        let taps = |x: Tensor<4>| {
            let t = flat(x);
            Taps {
                layers: vec![("L", t.clone())],
                logits: t,
            }
        };
        let device = Device::flex();
        let net = NetFns {
            taps: &taps,
            logits_ad: &flat,
            ad: device.clone().autodiff(),
            device,
        };
        let c = classes;
        let train = images(c, 5 * c, |i| (i % c) as u8);
        let test = images(c, 2 * c, test_label);
        let rows = (train.count, test.count);
        fit(
            &net,
            &train,
            &test,
            rows.0,
            rows.1,
            grids,
            confusions,
            1,
            None,
            PlainKernel,
            &mut |_, _| {},
        )
    }

    /// The error of a fit that must fail.
    fn fails(r: Result<Fit>) -> ExperimentError {
        match r {
            Ok(_) => panic!("the fit succeeded"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_class_count_is_the_width_of_the_logits() {
        for classes in [3, 12] {
            let f = fit_on(
                classes,
                |i| (i % classes) as u8,
                &[vec![0.9, 0.99]],
                &[("L", 0.99)],
            )
            .unwrap();
            assert_eq!(f.classes, classes);
            assert_eq!(f.test_accuracy, 1.0);
            assert_eq!(f.layers[0].top1, [1.0, 1.0]);
            let m = &f.confusions[0].matrix;
            assert_eq!(m.classes, classes);
            assert_eq!(m.trials, vec![2; classes]);
        }
    }

    #[test]
    fn a_confusion_error_ends_the_fit() {
        // Label 11 is no class of a 3-class network: the confusion accumulator refuses it.
        let e = fails(fit_on(
            3,
            |i| if i == 4 { 11 } else { (i % 3) as u8 },
            &[vec![0.9]],
            &[("L", 0.9)],
        ));
        assert!(
            matches!(
                e,
                ExperimentError::Core(hapscope_core::Error::ClassOutOfRange {
                    class: 11,
                    classes: 3
                })
            ),
            "{e}"
        );
    }

    #[test]
    fn a_confusion_theta_off_the_grid_is_an_error() {
        let e = fails(fit_on(3, |i| (i % 3) as u8, &[vec![0.9]], &[("L", 0.95)]));
        assert!(matches!(e, ExperimentError::ThetaOffGrid { .. }), "{e}");
        let e = fails(fit_on(3, |i| (i % 3) as u8, &[vec![0.9]], &[("X", 0.9)]));
        assert!(matches!(e, ExperimentError::UnknownLayer(_)), "{e}");
        let e = fails(fit_on(3, |i| (i % 3) as u8, &[vec![0.9], vec![0.9]], &[]));
        assert!(matches!(e, ExperimentError::Plan(_)), "{e}");
    }
}
