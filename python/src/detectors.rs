//! `hapscope.Detectors`: the attack-agnostic detectors of `hapscope detect`, fitted on clean
//! inputs only — per layer a library, its links, the nodes' classes and a class-conditional
//! Gaussian; calibrated on clean inputs; scoring new ones.

use hapscope_fast::detector::{
    Components, Detector, Detectors as Fitted, FeatureMap, LayerDetector, RawScores, Statistics,
    Thresholds,
};
use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::{Matrix, classes_of, matrix, same_rows, vector};
use crate::errors::value;
use crate::library::{class_count, kernel};

/// Fitted, calibrated detectors over two or more layers.
#[pyclass(frozen, module = "hapscope")]
pub struct Detectors {
    fitted: Fitted,
    components: Components,
    thresholds: Thresholds,
}

/// Per-layer HAP matrices of one set of inputs, checked against each other and `answers`.
fn layers<'py>(
    haps: &[Bound<'py, PyAny>],
    name: &str,
    expect: Option<&[usize]>,
) -> PyResult<Vec<Matrix<'py>>> {
    if let Some(dims) = expect {
        if haps.len() != dims.len() {
            return Err(PyValueError::new_err(format!(
                "{name} has {} layers but the detectors were fitted on {}",
                haps.len(),
                dims.len()
            )));
        }
    }
    let mats = haps
        .iter()
        .enumerate()
        .map(|(l, h)| matrix(h, &format!("{name}[{l}]")))
        .collect::<PyResult<Vec<_>>>()?;
    for (l, m) in mats.iter().enumerate() {
        if m.rows != mats[0].rows {
            return Err(PyValueError::new_err(format!(
                "{name}[{l}] has {} rows but {name}[0] has {}",
                m.rows, mats[0].rows
            )));
        }
        if let Some(dims) = expect {
            if m.cols != dims[l] {
                return Err(PyValueError::new_err(format!(
                    "{name}[{l}] has {} columns but layer {l} was fitted on {}",
                    m.cols, dims[l]
                )));
            }
        }
    }
    Ok(mats)
}

fn squeeze_of(squeeze: Option<&Bound<'_, PyAny>>, rows: usize, name: &str) -> PyResult<Vec<f64>> {
    match squeeze {
        None => Ok(vec![0.0; rows]),
        Some(s) => {
            let v = vector(s, name)?;
            same_rows(rows, name, v.len(), "the HAPs")?;
            Ok(v)
        }
    }
}

fn raw(
    py: Python<'_>,
    fitted: &Fitted,
    mats: &[Matrix<'_>],
    answers: &[usize],
    squeeze: &[f64],
) -> PyResult<Vec<RawScores>> {
    let haps: Vec<(usize, &[f32])> = mats.iter().map(|m| (m.cols, m.data())).collect();
    py.detach(|| fitted.raw(&haps, answers, squeeze, &kernel()))
        .map_err(|e| value("scoring", e))
}

fn detector(name: &str) -> PyResult<Detector> {
    Detector::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown detector {name:?}; one of {:?}",
            Detector::ALL.map(|d| d.name())
        ))
    })
}

impl Detectors {
    fn dims(&self) -> Vec<usize> {
        self.fitted.layers.iter().map(|l| l.library.dim()).collect()
    }

    fn statistics(
        &self,
        py: Python<'_>,
        haps: &[Bound<'_, PyAny>],
        answers: &Bound<'_, PyAny>,
        squeeze: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Statistics>> {
        let mats = layers(haps, "haps", Some(&self.dims()))?;
        let answers = classes_of(answers, "answers", Some(self.fitted.classes))?;
        same_rows(mats[0].rows, "answers", answers.len(), "haps[0]")?;
        let squeeze = squeeze_of(squeeze, answers.len(), "squeeze")?;
        raw(py, &self.fitted, &mats, &answers, &squeeze)?
            .iter()
            .map(|r| self.components.statistics(r))
            .collect::<hapscope_core::Result<_>>()
            .map_err(|e| value("scoring", e))
    }

    /// The statistic `name` of each input.
    fn column(
        &self,
        py: Python<'_>,
        haps: &[Bound<'_, PyAny>],
        answers: &Bound<'_, PyAny>,
        squeeze: Option<&Bound<'_, PyAny>>,
        name: &str,
    ) -> PyResult<(Detector, Vec<f64>)> {
        let d = detector(name)?;
        let stats = self.statistics(py, haps, answers, squeeze)?;
        Ok((d, stats.iter().map(|s| s[d.index()]).collect()))
    }
}

#[pymethods]
impl Detectors {
    /// Fits the detectors on clean inputs only. `train_haps[l]` (rows × features of layer
    /// l, input to output, at least 2 layers) with the network's `train_answers` build each
    /// layer's library at `thetas[l]`, its links and a class-conditional Gaussian (on the
    /// whole HAP, or on per-channel means where `channels[l]` > 1: a conv layer flattened
    /// channel-major). `calib_haps` / `calib_answers`, other clean inputs, calibrate: even
    /// rows turn scores into p-values for the fusions, odd rows set the thresholds.
    /// `calib_squeeze` is feature squeezing's score of each calibration input, if you have
    /// it (`score` then wants it too); without it that part is neutral.
    #[staticmethod]
    #[pyo3(signature = (train_haps, train_answers, calib_haps, calib_answers, thetas, *, classes = None, channels = None, top_a = 3, calib_squeeze = None, screen = true))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        train_haps: Vec<Bound<'_, PyAny>>,
        train_answers: &Bound<'_, PyAny>,
        calib_haps: Vec<Bound<'_, PyAny>>,
        calib_answers: &Bound<'_, PyAny>,
        thetas: Vec<f32>,
        classes: Option<usize>,
        channels: Option<Vec<usize>>,
        top_a: usize,
        calib_squeeze: Option<&Bound<'_, PyAny>>,
        screen: bool,
    ) -> PyResult<Self> {
        let n = train_haps.len();
        if n < 2 {
            return Err(PyValueError::new_err(format!(
                "train_haps needs at least 2 layers (CPL compares layers), got {n}"
            )));
        }
        if thetas.len() != n {
            return Err(PyValueError::new_err(format!(
                "thetas has {} values but train_haps has {n} layers",
                thetas.len()
            )));
        }
        for (i, &t) in thetas.iter().enumerate() {
            hapscope_core::library::check_theta(t)
                .map_err(|e| value(&format!("thetas[{i}]"), e))?;
        }
        let channels = channels.unwrap_or_else(|| vec![1; n]);
        if channels.len() != n {
            return Err(PyValueError::new_err(format!(
                "channels has {} values but train_haps has {n} layers",
                channels.len()
            )));
        }
        if top_a == 0 {
            return Err(PyValueError::new_err("top_a must be at least 1"));
        }
        let train = layers(&train_haps, "train_haps", None)?;
        let answers = classes_of(train_answers, "train_answers", classes)?;
        same_rows(
            train[0].rows,
            "train_answers",
            answers.len(),
            "train_haps[0]",
        )?;
        let classes = class_count(&answers, classes)?;
        let maps: Vec<FeatureMap> = train
            .iter()
            .zip(&channels)
            .enumerate()
            .map(|(l, (m, &c))| {
                let map = FeatureMap::for_tap(m.cols, c);
                if map.fits(m.cols) {
                    Ok(map)
                } else {
                    Err(PyValueError::new_err(format!(
                        "channels[{l}] = {c} does not divide layer {l}'s {} features",
                        m.cols
                    )))
                }
            })
            .collect::<PyResult<_>>()?;
        let dims: Vec<usize> = train.iter().map(|m| m.cols).collect();
        let calib = layers(&calib_haps, "calib_haps", Some(&dims))?;
        let calib_answers = classes_of(calib_answers, "calib_answers", Some(classes))?;
        same_rows(
            calib[0].rows,
            "calib_answers",
            calib_answers.len(),
            "calib_haps[0]",
        )?;
        if calib_answers.len() < 2 {
            return Err(PyValueError::new_err(
                "calib_haps needs at least 2 rows (even rows calibrate p-values, odd rows thresholds); a few hundred is sensible",
            ));
        }
        let squeeze = squeeze_of(calib_squeeze, calib_answers.len(), "calib_squeeze")?;
        let data: Vec<&[f32]> = train.iter().map(|m| m.data()).collect();
        let fitted = py
            .detach(|| {
                let layers = data
                    .iter()
                    .enumerate()
                    .map(|(l, &haps)| {
                        LayerDetector::fit(
                            &format!("layer{l}"),
                            l,
                            haps,
                            dims[l],
                            &answers,
                            thetas[l],
                            classes,
                            maps[l],
                            kernel(),
                            screen,
                        )
                    })
                    .collect::<hapscope_core::Result<Vec<_>>>()?;
                Ok::<_, hapscope_core::Error>(Fitted {
                    layers,
                    top_a,
                    classes,
                })
            })
            .map_err(|e| value("fitting", e))?;
        let raw = raw(py, &fitted, &calib, &calib_answers, &squeeze)?;
        let (a, b): (Vec<_>, Vec<_>) = raw.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let a: Vec<RawScores> = a.into_iter().map(|(_, r)| r).collect();
        let components = Components::new(&a).map_err(|e| value("calibrating", e))?;
        let b = b
            .iter()
            .map(|(_, r)| components.statistics(r))
            .collect::<hapscope_core::Result<Vec<_>>>()
            .map_err(|e| value("calibrating", e))?;
        let thresholds = Thresholds::new(&b).map_err(|e| value("calibrating", e))?;
        Ok(Detectors {
            fitted,
            components,
            thresholds,
        })
    }

    /// The statistics' names, in the order `score` returns them.
    #[staticmethod]
    fn names() -> Vec<&'static str> {
        Detector::ALL.map(|d| d.name()).to_vec()
    }

    /// Every statistic (higher = more anomalous) of each input: a dict name → float64 array.
    /// `haps` holds one array per fitted layer, `answers` the network's answers.
    #[pyo3(signature = (haps, answers, *, squeeze = None))]
    fn score<'py>(
        &self,
        py: Python<'py>,
        haps: Vec<Bound<'py, PyAny>>,
        answers: &Bound<'py, PyAny>,
        squeeze: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let stats = self.statistics(py, &haps, answers, squeeze)?;
        let d = PyDict::new(py);
        for det in Detector::ALL {
            let col: Vec<f64> = stats.iter().map(|s| s[det.index()]).collect();
            d.set_item(det.name(), PyArray1::from_vec(py, col))?;
        }
        Ok(d)
    }

    /// Each input's p-value under `detector` against the clean calibration inputs (the
    /// chance a clean input scores at least as high): float64 in (0, 1].
    #[pyo3(signature = (haps, answers, *, detector = "min-gauss-min", squeeze = None))]
    fn p_values<'py>(
        &self,
        py: Python<'py>,
        haps: Vec<Bound<'py, PyAny>>,
        answers: &Bound<'py, PyAny>,
        detector: &str,
        squeeze: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (d, col) = self.column(py, &haps, answers, squeeze, detector)?;
        let c = &self.thresholds.calibrations[d.index()];
        Ok(PyArray1::from_vec(
            py,
            col.into_iter().map(|s| c.p_value(s)).collect(),
        ))
    }

    /// The threshold on `detector`'s statistic that flags at most a fraction `fpr` of the
    /// clean calibration inputs (statistic > threshold is flagged).
    #[pyo3(signature = (detector = "min-gauss-min", fpr = 0.05))]
    fn threshold(&self, detector: &str, fpr: f64) -> PyResult<f64> {
        let d = self::detector(detector)?;
        self.thresholds.calibrations[d.index()]
            .threshold(fpr)
            .map_err(|e| value("threshold", e))
    }

    /// Whether each input is flagged by `detector` at false-positive rate `fpr` (bool array).
    #[pyo3(signature = (haps, answers, *, detector = "min-gauss-min", fpr = 0.05, squeeze = None))]
    fn flag<'py>(
        &self,
        py: Python<'py>,
        haps: Vec<Bound<'py, PyAny>>,
        answers: &Bound<'py, PyAny>,
        detector: &str,
        fpr: f64,
        squeeze: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        let t = self.threshold(detector, fpr)?;
        let (_, col) = self.column(py, &haps, answers, squeeze, detector)?;
        Ok(PyArray1::from_vec(
            py,
            col.into_iter().map(|s| s > t).collect(),
        ))
    }

    /// Per fitted layer: its library's size.
    #[getter]
    fn nodes(&self) -> Vec<usize> {
        self.fitted.layers.iter().map(|l| l.library.len()).collect()
    }

    /// Number of classes.
    #[getter]
    fn classes(&self) -> usize {
        self.fitted.classes
    }

    fn __repr__(&self) -> String {
        format!(
            "Detectors(layers={}, nodes={:?}, classes={}, top_a={})",
            self.fitted.layers.len(),
            self.nodes(),
            self.fitted.classes,
            self.fitted.top_a
        )
    }
}
