//! # hapscope for Python
//!
//! Lee (2019)'s library networks on numpy arrays of hidden-layer activity (HAPs): build a
//! layer's library ([`library::Library`]), link it to the network's answers (Eq. 2),
//! predict per layer (Eq. 3), sweep θ ([`sweep`]), score consistency across layers (CPL,
//! Eq. 5) and AUROC ([`scores`]), and run the attack-agnostic detectors ([`detectors`]).
//! The arithmetic is `hapscope-core`'s and `hapscope-fast`'s, the same code the CLI and the
//! page run; heavy calls release the GIL. Type stubs: `hapscope.pyi` beside Cargo.toml.

mod arrays;
mod detectors;
mod errors;
mod library;
mod scores;
mod sweep;

use pyo3::prelude::*;

/// Library networks (Lee 2019): libraries, per-layer predictions, CPL and detectors.
#[pymodule]
fn hapscope(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<library::Library>()?;
    m.add_class::<detectors::Detectors>()?;
    m.add_function(wrap_pyfunction!(sweep::theta_sweep, m)?)?;
    m.add_function(wrap_pyfunction!(scores::cpl, m)?)?;
    m.add_function(wrap_pyfunction!(scores::auroc, m)?)?;
    Ok(())
}
