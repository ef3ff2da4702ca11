//! `manifest.json`: what the page downloads and how to check it.

use serde::{Deserialize, Serialize};

/// The input of the MNIST LeNet: one channel, 28 × 28.
pub const MNIST_INPUT: [usize; 3] = [1, 28, 28];

/// The manifest format this code writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;

/// One downloaded file: its name beside the manifest, its length and SHA-256, so a
/// truncated, corrupted or swapped download is named precisely instead of failing somewhere
/// later. (Not CRC-32: library artifacts end with their own CRC-32, and the CRC-32 of
/// anything followed by its CRC is the same constant for every file.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRef {
    /// File name, relative to the manifest.
    pub name: String,
    /// Length in bytes.
    pub bytes: u64,
    /// SHA-256 of the contents, lowercase hex.
    pub sha256: String,
}

/// One tapped layer's library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerRef {
    /// Tap name (`CN1`, `CN2`, `FC1`, `FC2`).
    pub name: String,
    /// Novelty threshold θ the library was built with.
    pub theta: f32,
    /// Number of library nodes.
    pub nodes: usize,
    /// The library artifact (`hapscope-core` format, without node vectors).
    pub file: FileRef,
}

/// The CPL verdict's threshold, calibrated on clean digits the libraries never saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// CPL variant (`eq5`).
    pub variant: String,
    /// CPL below this reads as "layers disagree — possibly adversarial".
    pub threshold: f64,
    /// Fraction of the clean calibration digits below the threshold (false-positive rate).
    pub false_positive_rate: f64,
    /// Number of clean calibration digits.
    pub digits: usize,
}

/// Everything the page needs besides the bytes of the files it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The network (`crate::network::LENET` or `RESNET44`); absent means the LeNet.
    #[serde(default = "lenet")]
    pub network: String,
    /// Input `[channels, height, width]`: analyses take that many values in [0, 1]
    /// (channel-major), and each exemplar is that many bytes.
    #[serde(default = "mnist_input")]
    pub input: [usize; 3],
    /// Class names by index (the digits 0–9 for MNIST).
    #[serde(default = "digit_classes")]
    pub classes: Vec<String>,
    /// Where the digits came from, in words.
    pub source: String,
    /// Network weights (safetensors).
    pub weights: FileRef,
    /// Exemplar images: `exemplar_ids.len()` images of [`Manifest::input`] bytes.
    pub exemplars: FileRef,
    /// Source id (index in the digit set) of each exemplar, increasing; library nodes
    /// name their exemplar by this id.
    pub exemplar_ids: Vec<u32>,
    /// The true class of each exemplar.
    pub exemplar_labels: Vec<u8>,
    /// Libraries, input to output.
    pub layers: Vec<LayerRef>,
    /// Top-a nodes per prediction (Eq. 3).
    pub top_a: usize,
    /// The verdict's threshold.
    pub calibration: Calibration,
    /// The digits set aside for calibration and fidelity tests: every `holdout_every`-th
    /// digit of the set (source ids `k · holdout_every − 1`).
    pub holdout_every: usize,
    /// The detectors beyond CPL (absent in bundles built before them: CPL decides alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectors: Option<super::detectors::DetectorsManifest>,
}

fn lenet() -> String {
    crate::network::LENET.into()
}

fn mnist_input() -> [usize; 3] {
    MNIST_INPUT
}

/// The class names of MNIST: "0" … "9".
pub fn digit_classes() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

impl Manifest {
    /// Values per input image (and bytes per exemplar).
    pub fn input_len(&self) -> usize {
        self.input.iter().product()
    }
}
