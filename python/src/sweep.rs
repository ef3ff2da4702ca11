//! The θ sweep of `hapscope sweep`/`reproduce` in one call: every library of a θ grid in one
//! pass over the training rows, linked and scored on test rows.

use hapscope_core::library::check_theta;
use hapscope_fast::grid::GridPredictor;
use hapscope_fast::method::{STEP, agreement, grid_links_of_rows, grid_of_rows};
use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::{classes_of, matrix, same_rows};
use crate::errors::value;
use crate::library::{class_count, kernel};

/// For each θ of `thetas`: the library size and the top-1 / within-top-3 agreement of its
/// predictions (Eq. 3, `top_a` nodes) with the network's `test_answers`. Returns a dict of
/// equal-length arrays: theta, nodes, top1, top3.
#[pyfunction]
#[pyo3(signature = (train_haps, train_answers, test_haps, test_answers, thetas, *, top_a = 3, classes = None, screen = true))]
#[allow(clippy::too_many_arguments)]
pub fn theta_sweep<'py>(
    py: Python<'py>,
    train_haps: &Bound<'py, PyAny>,
    train_answers: &Bound<'py, PyAny>,
    test_haps: &Bound<'py, PyAny>,
    test_answers: &Bound<'py, PyAny>,
    thetas: Vec<f32>,
    top_a: usize,
    classes: Option<usize>,
    screen: bool,
) -> PyResult<Bound<'py, PyDict>> {
    if thetas.is_empty() {
        return Err(PyValueError::new_err("thetas is empty"));
    }
    for (i, &t) in thetas.iter().enumerate() {
        check_theta(t).map_err(|e| value(&format!("thetas[{i}]"), e))?;
    }
    let train = matrix(train_haps, "train_haps")?;
    let test = matrix(test_haps, "test_haps")?;
    if test.cols != train.cols {
        return Err(PyValueError::new_err(format!(
            "test_haps has {} columns but train_haps has {}",
            test.cols, train.cols
        )));
    }
    let a = classes_of(train_answers, "train_answers", classes)?;
    same_rows(train.rows, "train_answers", a.len(), "train_haps")?;
    let classes = class_count(&a, classes)?;
    let b = classes_of(test_answers, "test_answers", Some(classes))?;
    same_rows(test.rows, "test_answers", b.len(), "test_haps")?;
    let (tr, te, dim) = (train.data(), test.data(), train.cols);
    let (sizes, agree) = py
        .detach(|| {
            let grid = grid_of_rows(tr, dim, &thetas, kernel(), screen)?;
            let links = grid_links_of_rows(&grid, tr, &a, classes, kernel())?;
            let p = GridPredictor::new(&grid, &links, top_a, kernel())?;
            let mut scores: Vec<Vec<f32>> = vec![Vec::new(); thetas.len()];
            for chunk in te.chunks(STEP * dim) {
                for (all, part) in scores.iter_mut().zip(p.scores(chunk)?) {
                    all.extend_from_slice(&part);
                }
            }
            let agree: Vec<_> = scores.iter().map(|s| agreement(s, classes, &b)).collect();
            Ok::<_, hapscope_core::Error>((grid.sizes(), agree))
        })
        .map_err(|e| value("theta_sweep", e))?;
    let d = PyDict::new(py);
    d.set_item("theta", PyArray1::from_vec(py, thetas))?;
    d.set_item(
        "nodes",
        PyArray1::from_vec(py, sizes.iter().map(|&s| s as u64).collect()),
    )?;
    d.set_item(
        "top1",
        PyArray1::from_vec(py, agree.iter().map(|g| g.top1).collect()),
    )?;
    d.set_item(
        "top3",
        PyArray1::from_vec(py, agree.iter().map(|g| g.top3).collect()),
    )?;
    Ok(d)
}
