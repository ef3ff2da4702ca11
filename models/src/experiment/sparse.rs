//! §4.3's "future direction": libraries on a seeded random subset of K hidden units per
//! layer — library size and top-1 agreement at set 1's θ, and CPL's AUROC against the
//! strongest pixel-space attack — next to the same numbers on every unit, so the page can
//! pick K with measured fidelity.

use hapscope_core::kernel::SimilarityKernel;

use super::detect::{Detection, detect};
use super::fit::{Fit, fit};
use super::plan::Plan;
use super::report::{SparseLayer, SparseReport, SparseRow};
use super::{ExperimentError, NetFns, Result, set_grid_indices};
use crate::data::images::LabelledImages;

/// Refits and re-attacks at every K of `plan.sparse_k` (set 1's θ only), and adds the row
/// of every unit from the full run (`full`, `full_detection`, which must have built set 1's
/// θ and attacked at the plan's strongest ε). `progress` gets a line per stage.
#[allow(clippy::too_many_arguments)]
pub fn sparse_sampling<K: SimilarityKernel + Copy + Sync>(
    net: &NetFns<'_>,
    train: &LabelledImages,
    test: &LabelledImages,
    plan: &Plan,
    full: &Fit,
    full_detection: &Detection,
    kernel: &K,
    progress: &mut dyn FnMut(&str),
) -> Result<SparseReport> {
    // One θ per tap: set 1's.
    let grids = plan.set1_grids()?;
    let eps = plan.strongest_eps()?;
    let sets = plan.sets.only(0);
    let names: Vec<&str> = full.layers.iter().map(|l| l.name).collect();
    // The rows of every unit first, so a full run that lacks them fails before any refit.
    let full_grids: Vec<Vec<f32>> = full.layers.iter().map(|l| l.grid.clone()).collect();
    let at = set_grid_indices(&names, &full_grids, &plan.sets, 0)?;
    let all_layers = full
        .layers
        .iter()
        .enumerate()
        .map(|(l, lf)| {
            let &(_, t) = at.iter().find(|(c, _)| *c == l).ok_or_else(|| {
                ExperimentError::Plan(format!("set 1 has no θ for tap {}", lf.name))
            })?;
            Ok(SparseLayer {
                name: lf.name.into(),
                size: lf.libraries[t].len(),
                top1: lf.top1[t],
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let strong = full_detection
        .outcomes
        .iter()
        .find(|o| o.mode == "pixel" && o.eps == eps)
        .ok_or_else(|| {
            ExperimentError::Plan(format!("the full run did not attack at ε = {eps}"))
        })?;
    let all = SparseRow {
        k: None,
        layers: all_layers,
        auroc_eq5: strong.auroc[0][0],
        auroc_top20_softmax: strong.auroc[0][1],
    };

    let mut rows = Vec::new();
    for &k in &plan.sparse_k {
        progress(&format!("sparse sampling, K = {k}: libraries"));
        let f = fit(
            net,
            train,
            test,
            plan.train_rows,
            plan.test_rows,
            &grids,
            &[],
            plan.top_a,
            Some(k),
            *kernel,
            &mut |_, _| {},
        )?;
        progress(&format!("sparse sampling, K = {k}: PGD ε={eps}"));
        let d = detect(
            net,
            &f,
            test,
            plan.attack_rows,
            &sets,
            &[eps],
            None,
            plan.top_a,
            kernel,
            &mut |_| {},
        )?;
        let [auroc_eq5, auroc_top20_softmax] = d.outcomes[0].auroc[0];
        rows.push(SparseRow {
            k: Some(k),
            layers: f
                .layers
                .iter()
                .map(|lf| SparseLayer {
                    name: lf.name.into(),
                    size: lf.libraries[0].len(),
                    top1: lf.top1[0],
                })
                .collect(),
            auroc_eq5,
            auroc_top20_softmax,
        });
    }
    rows.push(all);
    Ok(SparseReport {
        set: plan.sets.sets[0].clone(),
        eps,
        rows,
    })
}
