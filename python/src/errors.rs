//! Rust errors as Python exceptions: bad values (the core's errors, undecodable artifacts)
//! are `ValueError`, file problems `OSError`.

use pyo3::PyErr;
use pyo3::exceptions::PyValueError;

/// A core error, with what the caller was doing.
pub fn value(context: &str, e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{context}: {e}"))
}
