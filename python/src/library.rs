//! `hapscope.Library`: one layer's library (§2.1), its links to the network's answers (Eq. 2)
//! and per-layer predictions (Eq. 3), on numpy arrays; saved in the CLI's artifact format.

use std::sync::Arc;

use hapscope_core::artifact::LibraryArtifact;
use hapscope_core::hebbian::Links;
use hapscope_core::library::{Library as CoreLibrary, check_theta};
use hapscope_core::predict::Predictor;
use hapscope_fast::grid::{GridLayer, GridPredictor};
use hapscope_fast::kernel::GemmKernel;
use hapscope_fast::method::{
    STEP, grid_links_of_rows, grid_of_rows, hebbian_links, predict_scores,
};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::arrays::{classes_of, matrix, same_rows};
use crate::errors::value;

/// The kernel every call uses: BLAS-grade, all cores.
pub fn kernel() -> GemmKernel {
    GemmKernel::new(0)
}

/// A layer's library: unit node vectors, the training row each came from, and — once
/// linked — their links to the network's answers. Immutable: `link` returns a new object.
#[pyclass(frozen, module = "hapscope")]
pub struct Library {
    library: Arc<CoreLibrary>,
    /// The grid layer it was built as (built here, not loaded): links and predictions then
    /// take the θ-grid pass's exact shortcuts.
    grid: Option<Arc<GridLayer>>,
    links: Option<Arc<Links>>,
}

impl Library {
    /// The core library.
    pub fn core(&self) -> &CoreLibrary {
        &self.library
    }

    fn check_dim(&self, cols: usize, name: &str) -> PyResult<()> {
        if cols == self.library.dim() {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!(
                "{name} has {cols} columns but the library's HAPs have {}",
                self.library.dim()
            )))
        }
    }

    fn links(&self) -> PyResult<&Arc<Links>> {
        self.links.as_ref().ok_or_else(|| {
            PyValueError::new_err("the library has no links yet: call link(haps, answers) first")
        })
    }
}

/// The class count: `classes` if given, else one more than the largest answer.
pub fn class_count(answers: &[usize], classes: Option<usize>) -> PyResult<usize> {
    match classes {
        Some(0) => Err(PyValueError::new_err("classes must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(answers.iter().max().map_or(1, |&m| m + 1)),
    }
}

#[pymethods]
impl Library {
    /// Builds the library of `haps` (rows × features, training order) at novelty
    /// threshold `theta` in [-1, 1]: a row becomes a node when its cosine to every stored
    /// node is below θ. `screen` allows exact shortcuts (same nodes either way).
    #[staticmethod]
    #[pyo3(signature = (haps, theta, *, screen = true))]
    fn build(py: Python<'_>, haps: &Bound<'_, PyAny>, theta: f32, screen: bool) -> PyResult<Self> {
        check_theta(theta).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let m = matrix(haps, "haps")?;
        let (data, dim) = (m.data(), m.cols);
        let (grid, library) = py
            .detach(|| {
                let grid = grid_of_rows(data, dim, &[theta], kernel(), screen)?;
                let library = grid.library(0)?;
                Ok::<_, hapscope_core::Error>((grid, library))
            })
            .map_err(|e| value("building the library", e))?;
        Ok(Library {
            library: Arc::new(library),
            grid: Some(Arc::new(grid)),
            links: None,
        })
    }

    /// The library with its links (Eq. 2) from training rows `haps` and the network's
    /// `answers` on them (integers in 0..classes; `classes` defaults to max + 1).
    #[pyo3(signature = (haps, answers, *, classes = None))]
    fn link(
        &self,
        py: Python<'_>,
        haps: &Bound<'_, PyAny>,
        answers: &Bound<'_, PyAny>,
        classes: Option<usize>,
    ) -> PyResult<Self> {
        let m = matrix(haps, "haps")?;
        self.check_dim(m.cols, "haps")?;
        let answers = classes_of(answers, "answers", classes)?;
        same_rows(m.rows, "answers", answers.len(), "haps")?;
        let classes = class_count(&answers, classes)?;
        let data = m.data();
        let links = py
            .detach(|| match &self.grid {
                Some(grid) => grid_links_of_rows(grid, data, &answers, classes, kernel())
                    .map(|mut v| v.remove(0)),
                None => hebbian_links(
                    &self.library,
                    data,
                    &answers,
                    classes,
                    &kernel(),
                    &mut |_| {},
                ),
            })
            .map_err(|e| value("linking", e))?;
        Ok(Library {
            library: self.library.clone(),
            grid: self.grid.clone(),
            links: Some(Arc::new(links)),
        })
    }

    /// Class scores P (Eq. 3) of each row of `haps` from its `top_a` most similar nodes:
    /// a float32 array (rows × classes). Needs links.
    #[pyo3(signature = (haps, *, top_a = 3))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        haps: &Bound<'py, PyAny>,
        top_a: usize,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let links = self.links()?.clone();
        let m = matrix(haps, "haps")?;
        self.check_dim(m.cols, "haps")?;
        let (data, rows, dim) = (m.data(), m.rows, m.cols);
        let classes = links.classes();
        let scores = py
            .detach(|| match &self.grid {
                Some(grid) => {
                    let links = std::slice::from_ref(&*links);
                    let p = GridPredictor::new(grid, links, top_a, kernel())?;
                    let mut all = Vec::with_capacity(rows * classes);
                    for chunk in data.chunks(STEP * dim) {
                        all.extend_from_slice(&p.scores(chunk)?[0]);
                    }
                    Ok(all)
                }
                None => {
                    let p = Predictor::new(&self.library, &links, top_a)?;
                    predict_scores(&p, data, dim, &kernel(), &mut |_| {})
                }
            })
            .map_err(|e| value("predicting", e))?;
        to_matrix(py, scores, rows, classes)
    }

    /// θ, the novelty threshold.
    #[getter]
    fn theta(&self) -> f32 {
        self.library.theta()
    }

    /// HAP length (features per row).
    #[getter]
    fn dim(&self) -> usize {
        self.library.dim()
    }

    /// The training row each node came from, in creation order (uint32).
    #[getter]
    fn node_ids<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_slice(py, self.library.source_ids())
    }

    /// The unit node vectors (nodes × dim, float32; a copy).
    #[getter]
    fn vectors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        to_matrix(
            py,
            self.library.vectors().to_vec(),
            self.library.len(),
            self.library.dim(),
        )
    }

    /// The links (nodes × classes, float32), or None before `link`.
    #[getter(links)]
    fn links_array<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray2<f32>>>> {
        self.links
            .as_ref()
            .map(|l| to_matrix(py, l.weights().to_vec(), l.nodes(), l.classes()))
            .transpose()
    }

    /// Number of classes the links point to, or None before `link`.
    #[getter]
    fn classes(&self) -> Option<usize> {
        self.links.as_ref().map(|l| l.classes())
    }

    fn __len__(&self) -> usize {
        self.library.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Library(nodes={}, dim={}, theta={}, classes={})",
            self.library.len(),
            self.library.dim(),
            self.library.theta(),
            self.links
                .as_ref()
                .map_or("None".into(), |l| l.classes().to_string())
        )
    }

    /// The library and its links in the CLI's artifact format (`hapscope library
    /// --artifact`), as bytes. `layer` names the tapped layer (≤ 256 bytes).
    #[pyo3(signature = (*, layer = "layer"))]
    fn to_bytes<'py>(&self, py: Python<'py>, layer: &str) -> PyResult<Bound<'py, PyBytes>> {
        let links = self.links()?;
        let art = LibraryArtifact::new(layer, &self.library, links, true)
            .map_err(|e| value("saving", e))?;
        Ok(PyBytes::new(py, &art.encode()))
    }

    /// Writes [`to_bytes`] to `path`.
    #[pyo3(signature = (path, *, layer = "layer"))]
    fn save(&self, py: Python<'_>, path: std::path::PathBuf, layer: &str) -> PyResult<()> {
        let bytes = self.to_bytes(py, layer)?;
        std::fs::write(&path, bytes.as_bytes())?;
        Ok(())
    }

    /// A library read from the CLI's artifact format (checked: version, checksum, sizes).
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        Self::decode(data).map_err(PyValueError::new_err)
    }

    /// Reads an artifact file (see `from_bytes`).
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        let bytes = std::fs::read(&path)?;
        Self::decode(&bytes).map_err(|e| PyValueError::new_err(format!("{}: {e}", path.display())))
    }
}

impl Library {
    /// The artifact in `data`, or why it is not one.
    fn decode(data: &[u8]) -> Result<Self, String> {
        let art = LibraryArtifact::decode(data)
            .map_err(|e| format!("not a hapscope library artifact: {e}"))?;
        let library = art
            .library()
            .ok_or("the artifact stores links only, without node vectors: it cannot predict")?
            .map_err(|e| format!("artifact: {e}"))?;
        Ok(Library {
            library: Arc::new(library),
            grid: None,
            links: Some(Arc::new(art.links)),
        })
    }
}

/// A row-major vector as a numpy matrix, without a copy.
pub fn to_matrix<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    Array2::from_shape_vec((rows, cols), values)
        .map(|a| a.into_pyarray(py))
        .map_err(|e| value("shape", e))
}
