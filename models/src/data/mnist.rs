//! The MNIST dataset from its IDX files in a data directory (`<data>/mnist/`).

use std::path::Path;

use super::DataError;
use super::idx::{read_images, read_labels};
use super::images::LabelledImages;
use super::locate::find;

/// Which part of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training set (60,000 digits for MNIST).
    Train,
    /// The test set (10,000 digits).
    Test,
}

const SOURCE: &str =
    "the original MNIST distribution (train-images-idx3-ubyte.gz etc.), e.g. ../shared/data/mnist";

/// Loads one split from `<data_dir>/mnist/` (gzipped or raw IDX files).
pub fn load(data_dir: &Path, split: Split) -> Result<LabelledImages, DataError> {
    load_dir(&data_dir.join("mnist"), split, SOURCE)
}

/// Where Debian's `dataset-fashion-mnist` package puts Fashion-MNIST.
pub const FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Loads one split of Fashion-MNIST (same IDX layout as MNIST) from `dir`.
pub fn load_fashion(dir: &Path, split: Split) -> Result<LabelledImages, DataError> {
    load_dir(
        dir,
        split,
        "Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist)",
    )
}

/// Loads one split of an MNIST-layout IDX directory.
fn load_dir(dir: &Path, split: Split, source: &str) -> Result<LabelledImages, DataError> {
    let dir = dir.to_path_buf();
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let names = |kind: &str| {
        [
            format!(
                "{prefix}-{kind}-idx{}-ubyte.gz",
                if kind == "images" { 3 } else { 1 }
            ),
            format!(
                "{prefix}-{kind}-idx{}-ubyte",
                if kind == "images" { 3 } else { 1 }
            ),
        ]
    };
    let [a, b] = names("images");
    let images = read_images(&find(&dir, &[&a, &b], "MNIST-layout images", source)?)?;
    let [a, b] = names("labels");
    let label_path = find(&dir, &[&a, &b], "MNIST-layout labels", source)?;
    let labels = read_labels(&label_path)?;
    if labels.len() != images.count || images.rows != 28 || images.cols != 28 {
        return Err(DataError::Format {
            path: label_path,
            why: format!(
                "{} labels for {} images of {}×{} (expected 28×28)",
                labels.len(),
                images.count,
                images.rows,
                images.cols
            ),
        });
    }
    if let Some(i) = labels.iter().position(|&l| l > 9) {
        return Err(DataError::Format {
            path: label_path,
            why: format!("label {} at index {i} is not a digit", labels[i]),
        });
    }
    Ok(LabelledImages {
        count: images.count,
        shape: [1, 28, 28],
        pixels: images.pixels,
        labels,
    })
}
