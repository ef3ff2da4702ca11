//! numpy arrays in: checked for dtype, rank, emptiness and finiteness with messages that
//! name the argument, the row and the column — and borrowed without a copy where the array
//! allows it (C-contiguous `float32`); anything else (other strides, `float64`) is copied.

use numpy::{
    PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// A row-major `rows × cols` float32 matrix, borrowed from numpy or copied.
pub struct Matrix<'py> {
    data: Data<'py>,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

enum Data<'py> {
    /// A C-contiguous float32 array, read in place (numpy's borrow flag keeps Rust writers
    /// out while it lives).
    Borrowed(PyReadonlyArrayDyn<'py, f32>),
    Owned(Vec<f32>),
}

impl Matrix<'_> {
    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        match &self.data {
            Data::Borrowed(ro) => ro.as_slice().unwrap_or(&[]),
            Data::Owned(v) => v,
        }
    }
}

fn untyped<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
    name: &str,
) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    obj.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name} must be a numpy array, got {}",
            obj.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })
}

fn dtype_name(a: &Bound<'_, PyUntypedArray>) -> String {
    a.dtype().to_string()
}

/// A 2-D float array (`float32`, or `float64` rounded to `float32`): non-empty, finite.
pub fn matrix<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Matrix<'py>> {
    let a = untyped(obj, name)?;
    if a.ndim() != 2 {
        return Err(PyValueError::new_err(format!(
            "{name} must be 2-D (rows × features), got {} dimension(s) with shape {:?}",
            a.ndim(),
            a.shape()
        )));
    }
    let (rows, cols) = (a.shape()[0], a.shape()[1]);
    if rows == 0 || cols == 0 {
        return Err(PyValueError::new_err(format!(
            "{name} is empty (shape ({rows}, {cols}))"
        )));
    }
    let py = obj.py();
    let kind = a.dtype().kind();
    let m = if a.dtype().is_equiv_to(&numpy::dtype::<f32>(py)) {
        let ro = obj.cast::<PyArrayDyn<f32>>()?.try_readonly()?;
        let data = if ro.is_c_contiguous() {
            Data::Borrowed(ro)
        } else {
            // Any strides (a transposed or sliced view): one copy in row-major order.
            Data::Owned(ro.as_array().iter().copied().collect())
        };
        Matrix { data, rows, cols }
    } else if kind == b'f' {
        let converted = obj.call_method1("astype", ("float32",))?;
        let ro = converted.cast::<PyArrayDyn<f32>>()?.try_readonly()?;
        Matrix {
            data: Data::Owned(ro.as_array().iter().copied().collect()),
            rows,
            cols,
        }
    } else {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a float32 or float64 array, got dtype {}",
            dtype_name(a)
        )));
    };
    let values = m.data();
    if let Some(i) = hapscope_core::first_non_finite(values) {
        return Err(PyValueError::new_err(format!(
            "{name} has a non-finite value ({}) at row {}, column {}",
            values[i],
            i / cols,
            i % cols
        )));
    }
    Ok(m)
}

/// A 1-D array of class indices (any integer dtype), each ≥ 0 (and < `classes` when given).
pub fn classes_of(
    obj: &Bound<'_, PyAny>,
    name: &str,
    classes: Option<usize>,
) -> PyResult<Vec<usize>> {
    let a = untyped(obj, name)?;
    if a.ndim() != 1 {
        return Err(PyValueError::new_err(format!(
            "{name} must be 1-D (one class per row), got shape {:?}",
            a.shape()
        )));
    }
    if !matches!(a.dtype().kind(), b'i' | b'u') {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an integer array (class indices), got dtype {}",
            dtype_name(a)
        )));
    }
    let converted = obj.call_method1("astype", ("int64",))?;
    let ro = converted.cast::<PyArrayDyn<i64>>()?.try_readonly()?;
    ro.as_array()
        .iter()
        .enumerate()
        .map(|(i, &c)| match usize::try_from(c) {
            Ok(c) if classes.is_none_or(|n| c < n) => Ok(c),
            _ => Err(PyValueError::new_err(match classes {
                Some(n) => format!("{name}[{i}] = {c} is not a class index in 0..{n}"),
                None => format!("{name}[{i}] = {c} is negative"),
            })),
        })
        .collect()
}

/// A 1-D numeric array as `f64` (±∞ allowed, NaN refused).
pub fn vector(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<f64>> {
    let a = untyped(obj, name)?;
    if a.ndim() != 1 {
        return Err(PyValueError::new_err(format!(
            "{name} must be 1-D, got shape {:?}",
            a.shape()
        )));
    }
    if !matches!(a.dtype().kind(), b'f' | b'i' | b'u') {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a numeric array, got dtype {}",
            dtype_name(a)
        )));
    }
    let converted = obj.call_method1("astype", ("float64",))?;
    let ro = converted.cast::<PyArrayDyn<f64>>()?.try_readonly()?;
    let v: Vec<f64> = ro.as_array().iter().copied().collect();
    if let Some(i) = v.iter().position(|x| x.is_nan()) {
        return Err(PyValueError::new_err(format!("{name}[{i}] is NaN")));
    }
    Ok(v)
}

/// Checks that `what` has as many rows as `haps`.
pub fn same_rows(rows: usize, what: &str, got: usize, of: &str) -> PyResult<()> {
    if rows == got {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "{what} has {got} rows but {of} has {rows}"
        )))
    }
}
