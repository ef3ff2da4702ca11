//! CIFAR-10 in its binary format (`data_batch_N.bin`, `test_batch.bin`), gzip-compressed
//! or raw, with any number of records.
//!
//! Each record is 3,073 bytes: the label (0–9), then 1,024 red, 1,024 green and 1,024 blue
//! pixel bytes, each plane row-major 32 × 32 (so the image is already channel-major, as a
//! `[3, 32, 32]` tensor wants it).

use std::path::Path;

use super::{DataError, read_maybe_gz};

/// Bytes per record: one label + 3 × 32 × 32 pixels.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// Decoded CIFAR-10 records.
#[derive(Debug, Clone, PartialEq)]
pub struct Cifar {
    /// One label per image (0–9).
    pub labels: Vec<u8>,
    /// `count × 3 × 32 × 32` bytes, image-major, channel-major.
    pub pixels: Vec<u8>,
}

impl Cifar {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i` as `[3, 32, 32]` values in [0, 1].
    pub fn image_f32(&self, i: usize) -> Vec<f32> {
        self.pixels[i * 3072..][..3072]
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect()
    }
}

/// Parses records from bytes.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Cifar, DataError> {
    let bad = |why: String| DataError::Format {
        path: path.to_path_buf(),
        why,
    };
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        return Err(bad(format!(
            "{} bytes is not a whole number of {RECORD}-byte records",
            bytes.len()
        )));
    }
    let n = bytes.len() / RECORD;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * 3072);
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(bad(format!(
                "record {i} has label {} (expected 0-9)",
                rec[0]
            )));
        }
        labels.push(rec[0]);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(Cifar { labels, pixels })
}

/// Reads a CIFAR-10 binary batch file.
pub fn read(path: &Path) -> Result<Cifar, DataError> {
    parse(&read_maybe_gz(path)?, path)
}

/// The CIFAR-10 split from `<data_dir>/cifar10/`: the first training batch or the test
/// batch (any record count; `.bin` or `.bin.gz`).
pub fn load(
    data_dir: &Path,
    split: super::mnist::Split,
) -> Result<super::images::LabelledImages, DataError> {
    let dir = data_dir.join("cifar10");
    let names: &[&str] = match split {
        super::mnist::Split::Train => &[
            "data_batch_1.bin",
            "data_batch_1.bin.gz",
            "data_batch_1.first4000.bin.gz",
        ],
        super::mnist::Split::Test => &[
            "test_batch.bin",
            "test_batch.bin.gz",
            "test_batch.first1000.bin.gz",
        ],
    };
    let path = super::locate::find(
        &dir,
        names,
        "CIFAR-10",
        "the CIFAR-10 binary version (cifar-10-binary.tar.gz), e.g. ../shared/data/cifar10",
    )?;
    let c = read(&path)?;
    Ok(super::images::LabelledImages {
        count: c.len(),
        shape: [3, 32, 32],
        pixels: c.pixels,
        labels: c.labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let mut b = vec![3u8];
        b.extend((0..3072).map(|i| (i % 256) as u8));
        let c = parse(&b, Path::new("x")).unwrap();
        assert_eq!((c.len(), c.labels[0], c.pixels[1025]), (1, 3, 1));
        assert!(parse(&b[..100], Path::new("x")).is_err());
        b[0] = 10;
        assert!(parse(&b, Path::new("x")).is_err());
        assert!(parse(&[], Path::new("x")).is_err());
    }
}
