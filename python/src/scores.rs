//! CPL (Eq. 5 and the paper code's variant) over per-layer class scores, and AUROC.

use hapscope_core::cpl::{CplVariant, cpl as core_cpl};
use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::arrays::{matrix, vector};
use crate::errors::value;

/// The CPL variant called `name`.
pub fn variant(name: &str) -> PyResult<CplVariant> {
    match name {
        "eq5" => Ok(CplVariant::Eq5),
        "top20" => Ok(CplVariant::Top20Softmax),
        other => Err(PyValueError::new_err(format!(
            "variant must be 'eq5' (the paper's Eq. 5) or 'top20' (its code's softmax over \
             top-20 scores), got {other:?}"
        ))),
    }
}

/// CPL, the consistency of predictions across layers (Eq. 5), of each input: one float64
/// per row. `layer_scores` holds one (rows × classes) array of class scores per layer,
/// input to output (at least 2) — `Library.predict` with `top_a` = a for 'eq5', 20 for
/// 'top20'. Low CPL: the layers disagree (a sign of being fooled).
#[pyfunction]
#[pyo3(signature = (layer_scores, *, variant = "eq5"))]
pub fn cpl<'py>(
    py: Python<'py>,
    layer_scores: Vec<Bound<'py, PyAny>>,
    variant: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let v = self::variant(variant)?;
    if layer_scores.len() < 2 {
        return Err(PyValueError::new_err(format!(
            "layer_scores needs at least 2 layers, got {}",
            layer_scores.len()
        )));
    }
    let mats = layer_scores
        .iter()
        .enumerate()
        .map(|(l, s)| matrix(s, &format!("layer_scores[{l}]")))
        .collect::<PyResult<Vec<_>>>()?;
    let (rows, classes) = (mats[0].rows, mats[0].cols);
    for (l, m) in mats.iter().enumerate() {
        if (m.rows, m.cols) != (rows, classes) {
            return Err(PyValueError::new_err(format!(
                "layer_scores[{l}] has shape ({}, {}) but layer_scores[0] has ({rows}, {classes})",
                m.rows, m.cols
            )));
        }
    }
    let data: Vec<&[f32]> = mats.iter().map(|m| m.data()).collect();
    let out = py
        .detach(|| {
            (0..rows)
                .map(|i| {
                    let row: Vec<&[f32]> =
                        data.iter().map(|d| &d[i * classes..][..classes]).collect();
                    core_cpl(&row, v)
                })
                .collect::<hapscope_core::Result<Vec<f64>>>()
        })
        .map_err(|e| value("cpl", e))?;
    Ok(PyArray1::from_vec(py, out))
}

/// The area under the ROC curve of a detector whose scores are higher on `positives`
/// (e.g. attacked inputs) than on `negatives` (clean ones): Mann–Whitney, ties count half.
#[pyfunction]
pub fn auroc(positives: &Bound<'_, PyAny>, negatives: &Bound<'_, PyAny>) -> PyResult<f64> {
    let p = vector(positives, "positives")?;
    let n = vector(negatives, "negatives")?;
    hapscope_core::auroc::auroc(&p, &n).map_err(|e| value("auroc", e))
}
