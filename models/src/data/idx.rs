//! MNIST's IDX files (LeCun's format), gzip-compressed or raw: unsigned-byte images and
//! labels.
//!
//! Layout: a big-endian magic `0x0000_08NN` (type 0x08 = u8, NN = number of dimensions),
//! then NN big-endian u32 sizes, then the bytes. Images are 3-D (count × rows × cols),
//! labels 1-D. Whether a file is gzipped is decided by its first two bytes, not its name.

use std::path::Path;

use super::{DataError, read_maybe_gz};

/// A stack of `count` greyscale images of `rows × cols` bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// `count × rows × cols` bytes, image-major.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// Image `i` scaled to [0, 1] (value / 255), as PyTorch's `ToTensor` does.
    pub fn image_f32(&self, i: usize) -> Vec<f32> {
        let n = self.rows * self.cols;
        self.pixels[i * n..][..n]
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect()
    }
}

fn parse(bytes: &[u8], rank: usize, path: &Path) -> Result<(Vec<usize>, usize), DataError> {
    let bad = |why: String| DataError::Format {
        path: path.to_path_buf(),
        why,
    };
    if bytes.len() < 4 {
        return Err(bad(format!(
            "{} bytes is too short for an IDX header",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 {
        return Err(bad(format!(
            "not an unsigned-byte IDX file (magic {:02x}{:02x}{:02x}{:02x})",
            bytes[0], bytes[1], bytes[2], bytes[3]
        )));
    }
    if usize::from(bytes[3]) != rank {
        return Err(bad(format!(
            "expected {rank} dimensions, the file has {}",
            bytes[3]
        )));
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(bad("truncated header".into()));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap_or([0; 4])) as usize
        })
        .collect();
    let len = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad("sizes overflow".into()))?;
    let got = bytes.len() - header;
    if got != len {
        return Err(bad(format!(
            "header promises {len} data bytes, file has {got}"
        )));
    }
    Ok((dims, header))
}

/// Reads an IDX image file (`*-images-idx3-ubyte[.gz]`).
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    let bytes = read_maybe_gz(path)?;
    let (dims, header) = parse(&bytes, 3, path)?;
    Ok(IdxImages {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels: bytes[header..].to_vec(),
    })
}

/// Reads an IDX label file (`*-labels-idx1-ubyte[.gz]`).
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_maybe_gz(path)?;
    let (_, header) = parse(&bytes, 1, path)?;
    Ok(bytes[header..].to_vec())
}

/// Parses IDX image bytes already in memory.
pub fn parse_images(bytes: &[u8]) -> Result<IdxImages, DataError> {
    let (dims, header) = parse(bytes, 3, Path::new("<memory>"))?;
    Ok(IdxImages {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels: bytes[header..].to_vec(),
    })
}

/// Parses IDX label bytes already in memory.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    let (_, header) = parse(bytes, 1, Path::new("<memory>"))?;
    Ok(bytes[header..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx3(count: u32, rows: u32, cols: u32, extra: usize) -> Vec<u8> {
        let mut b = vec![0, 0, 8, 3];
        for d in [count, rows, cols] {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend((0..(count * rows * cols) as usize + extra).map(|i| i as u8));
        b
    }

    #[test]
    fn parses_and_rejects() {
        let img = parse_images(&idx3(2, 3, 4, 0)).unwrap();
        assert_eq!(
            (img.count, img.rows, img.cols, img.pixels.len()),
            (2, 3, 4, 24)
        );
        assert_eq!(img.image_f32(1)[0], 12.0 / 255.0);
        assert!(parse_images(&idx3(2, 3, 4, 1)).is_err(), "trailing byte");
        let mut short = idx3(2, 3, 4, 0);
        short.pop();
        assert!(parse_images(&short).is_err(), "truncated");
        assert!(parse_images(&[0, 0, 8]).is_err());
        assert!(
            parse_images(&[0, 0, 9, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err(),
            "not u8"
        );
        let big = [
            0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        ];
        assert!(parse_images(&big).is_err(), "huge sizes without data");
    }
}
