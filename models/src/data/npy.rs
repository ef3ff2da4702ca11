//! NumPy `.npy` files: read 2-D float HAP matrices and 1-D integer answer vectors exactly as
//! `numpy.save` writes them, and write them back.
//!
//! Accepted: format versions 1.0, 2.0 and 3.0; C order (`fortran_order: False`);
//! little-endian (or byte-order-free) `f4`/`f8` for floats and `i4`/`i8` (also `u1`, `i1`,
//! `u2`, `i2`, `u4`) for integers. Floats are converted to `f32` (an `f8` value too large
//! for `f32` is reported as non-finite); integers to `i64`.
//!
//! The reader checks the file length against the header **before** allocating, so a
//! truncated or lying file costs nothing and never panics; every failure is an
//! [`NpyError`] that says what is wrong.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

/// Why a `.npy` file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The file could not be opened or read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Not a `.npy` file at all.
    #[error("not a .npy file (bad magic)")]
    BadMagic,
    /// A format version this reader does not know.
    #[error("unsupported .npy format version {0}.{1}")]
    UnsupportedVersion(u8, u8),
    /// The header dictionary could not be parsed.
    #[error("malformed .npy header: {0}")]
    BadHeader(String),
    /// A dtype this reader does not accept for this use.
    #[error("unsupported dtype '{dtype}' (expected {expected})")]
    UnsupportedDtype {
        /// The dtype string from the header.
        dtype: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// Fortran-ordered data.
    #[error("Fortran-ordered arrays are not supported (save with numpy.ascontiguousarray)")]
    FortranOrder,
    /// The array has the wrong number of dimensions.
    #[error("expected a {expected}-D array, found shape {shape:?}")]
    WrongRank {
        /// Required number of dimensions.
        expected: usize,
        /// The file's shape.
        shape: Vec<usize>,
    },
    /// The file is shorter than its header says.
    #[error("truncated: header promises {expected} data bytes, file has {got}")]
    Truncated {
        /// Data bytes the header implies.
        expected: u64,
        /// Data bytes present.
        got: u64,
    },
    /// The file is longer than its header says.
    #[error("{extra} unexpected bytes after the array data")]
    TrailingBytes {
        /// Number of extra bytes.
        extra: u64,
    },
    /// A NaN or infinite value.
    #[error("non-finite value (NaN or Inf) at row {row}, column {col}")]
    NonFinite {
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
    },
}

/// Element types this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F4,
    F8,
    Int { size: usize, signed: bool },
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F4 => 4,
            Dtype::F8 => 8,
            Dtype::Int { size, .. } => size,
        }
    }
}

/// The parsed header: dtype, shape, and where the data begins.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    descr: String,
    dtype: Option<Dtype>,
    shape: Vec<usize>,
    data_offset: u64,
}

/// A 2-D `f32` matrix, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows (examples).
    pub rows: usize,
    /// Number of columns (HAP length).
    pub cols: usize,
    /// `rows × cols` values, row-major.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..][..self.cols]
    }
}

const MAGIC: &[u8; 6] = b"\x93NUMPY";

fn parse_descr(descr: &str) -> Option<Dtype> {
    let (order, kind) = descr.split_at_checked(1)?;
    if !matches!(order, "<" | "|" | "=") {
        return None; // big-endian ('>') is not read
    }
    Some(match kind {
        "f4" => Dtype::F4,
        "f8" => Dtype::F8,
        "i1" => Dtype::Int {
            size: 1,
            signed: true,
        },
        "u1" | "b1" => Dtype::Int {
            size: 1,
            signed: false,
        },
        "i2" => Dtype::Int {
            size: 2,
            signed: true,
        },
        "u2" => Dtype::Int {
            size: 2,
            signed: false,
        },
        "i4" => Dtype::Int {
            size: 4,
            signed: true,
        },
        "u4" => Dtype::Int {
            size: 4,
            signed: false,
        },
        "i8" => Dtype::Int {
            size: 8,
            signed: true,
        },
        _ => return None,
    })
}

/// Parses the Python-literal header dict, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_dict(text: &str) -> Result<(String, bool, Vec<usize>), NpyError> {
    let bad = |m: &str| NpyError::BadHeader(m.to_string());
    let t = text.trim_end_matches(['\n', ' ', '\0']).trim();
    let inner = t
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| bad("not a dict"))?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let quote = rest
            .chars()
            .next()
            .filter(|c| *c == '\'' || *c == '"')
            .ok_or_else(|| bad("expected a quoted key"))?;
        let end = rest[1..]
            .find(quote)
            .ok_or_else(|| bad("unterminated key"))?
            + 1;
        let key = &rest[1..end];
        rest = rest[end + 1..]
            .trim_start()
            .strip_prefix(':')
            .ok_or_else(|| bad("expected ':' after key"))?
            .trim_start();
        let (value, after) = if let Some(r) = rest.strip_prefix('(') {
            let close = r.find(')').ok_or_else(|| bad("unterminated shape tuple"))?;
            (&rest[..close + 2], &r[close + 1..])
        } else if rest.starts_with(['\'', '"']) {
            let q = rest.as_bytes()[0] as char;
            let close = rest[1..]
                .find(q)
                .ok_or_else(|| bad("unterminated string"))?
                + 1;
            (&rest[..=close], &rest[close + 1..])
        } else {
            let stop = rest.find(',').unwrap_or(rest.len());
            (rest[..stop].trim_end(), &rest[stop..])
        };
        match key {
            "descr" => {
                descr = Some(value.trim_matches(['\'', '"']).to_string());
            }
            "fortran_order" => {
                fortran = Some(match value {
                    "False" => false,
                    "True" => true,
                    _ => return Err(bad("fortran_order is not True/False")),
                })
            }
            "shape" => {
                let body = value.trim_start_matches('(').trim_end_matches(')');
                let dims = body
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.trim_end_matches('L')
                            .parse::<usize>()
                            .map_err(|_| bad("shape entry is not a non-negative integer"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                shape = Some(dims);
            }
            _ => {} // numpy may add keys in future versions; ignore them
        }
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        if !after.trim_start().starts_with(',') && !rest.is_empty() {
            return Err(bad("expected ',' between entries"));
        }
    }
    Ok((
        descr.ok_or_else(|| bad("missing 'descr'"))?,
        fortran.ok_or_else(|| bad("missing 'fortran_order'"))?,
        shape.ok_or_else(|| bad("missing 'shape'"))?,
    ))
}

fn read_header(r: &mut impl Read) -> Result<Header, NpyError> {
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            NpyError::BadMagic
        } else {
            e.into()
        }
    })?;
    if &pre[..6] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = (pre[6], pre[7]);
    let (len, prefix) = match major {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)
                .map_err(|_| NpyError::BadHeader("truncated header length".into()))?;
            (u16::from_le_bytes(b) as usize, 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)
                .map_err(|_| NpyError::BadHeader("truncated header length".into()))?;
            (u32::from_le_bytes(b) as usize, 12)
        }
        _ => return Err(NpyError::UnsupportedVersion(major, minor)),
    };
    if len > 1 << 20 {
        return Err(NpyError::BadHeader(format!(
            "header length {len} is implausible"
        )));
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text)
        .map_err(|_| NpyError::BadHeader("truncated header".into()))?;
    let text = if major == 3 {
        String::from_utf8(text).ok()
    } else {
        text.is_ascii()
            .then(|| String::from_utf8(text).unwrap_or_default())
    }
    .ok_or_else(|| NpyError::BadHeader("header is not text".into()))?;
    let (descr, fortran, shape) = parse_dict(&text)?;
    if fortran && shape.len() > 1 {
        return Err(NpyError::FortranOrder);
    }
    Ok(Header {
        dtype: parse_descr(&descr),
        descr,
        shape,
        data_offset: (prefix + len) as u64,
    })
}

/// Parses the header from `r` (a source of `len` bytes in all) and checks the length
/// against it, before anything is allocated for the data.
fn open<R: Read>(
    mut r: R,
    len: u64,
    rank: usize,
    expected: &'static str,
    ok: impl Fn(Dtype) -> bool,
) -> Result<(Header, Dtype, R), NpyError> {
    let h = read_header(&mut r)?;
    let dtype = h
        .dtype
        .filter(|&d| ok(d))
        .ok_or_else(|| NpyError::UnsupportedDtype {
            dtype: h.descr.clone(),
            expected,
        })?;
    if h.shape.len() != rank {
        return Err(NpyError::WrongRank {
            expected: rank,
            shape: h.shape.clone(),
        });
    }
    let count = h
        .shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64));
    let expected_bytes = count
        .and_then(|c| c.checked_mul(dtype.size() as u64))
        .ok_or_else(|| NpyError::BadHeader("shape overflows".into()))?;
    let got = len.saturating_sub(h.data_offset);
    if got < expected_bytes {
        return Err(NpyError::Truncated {
            expected: expected_bytes,
            got,
        });
    }
    if got > expected_bytes {
        return Err(NpyError::TrailingBytes {
            extra: got - expected_bytes,
        });
    }
    Ok((h, dtype, r))
}

/// A buffered reader of the file at `path` and the file's length.
fn file(path: &Path) -> Result<(BufReader<File>, u64), NpyError> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    Ok((BufReader::with_capacity(1 << 20, file), len))
}

/// Reads a 2-D float array (`f4` or `f8`) as an `f32` matrix; NaN/Inf is an error.
pub fn read_matrix(path: &Path) -> Result<Matrix, NpyError> {
    let (r, len) = file(path)?;
    matrix_from(r, len)
}

/// [`read_matrix`] for a file's bytes already in memory.
pub fn parse_matrix(bytes: &[u8]) -> Result<Matrix, NpyError> {
    matrix_from(bytes, bytes.len() as u64)
}

fn matrix_from(r: impl Read, len: u64) -> Result<Matrix, NpyError> {
    let (h, dtype, mut r) = open(r, len, 2, "float32 or float64", |d| {
        matches!(d, Dtype::F4 | Dtype::F8)
    })?;
    let (rows, cols) = (h.shape[0], h.shape[1]);
    let n = rows * cols;
    let mut data = Vec::with_capacity(n);
    let mut buf = vec![0u8; (1 << 20) / 8 * 8];
    let size = dtype.size();
    while data.len() < n {
        let want = ((n - data.len()) * size).min(buf.len());
        r.read_exact(&mut buf[..want])?;
        match dtype {
            Dtype::F4 => data.extend(
                buf[..want]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            _ => data.extend(
                buf[..want]
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()) as f32),
            ),
        }
    }
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(NpyError::NonFinite {
            row: i / cols.max(1),
            col: i % cols.max(1),
        });
    }
    Ok(Matrix { rows, cols, data })
}

/// Reads a 1-D integer array as `i64`.
pub fn read_ints(path: &Path) -> Result<Vec<i64>, NpyError> {
    let (r, len) = file(path)?;
    ints_from(r, len)
}

/// [`read_ints`] for a file's bytes already in memory.
pub fn parse_ints(bytes: &[u8]) -> Result<Vec<i64>, NpyError> {
    ints_from(bytes, bytes.len() as u64)
}

fn ints_from(r: impl Read, len: u64) -> Result<Vec<i64>, NpyError> {
    let (h, dtype, mut r) = open(r, len, 1, "an integer type (int32 or int64)", |d| {
        matches!(d, Dtype::Int { .. })
    })?;
    let n = h.shape[0];
    let Dtype::Int { size, signed } = dtype else {
        unreachable!("filtered above")
    };
    let mut raw = vec![0u8; n * size];
    r.read_exact(&mut raw)?;
    Ok(raw
        .chunks_exact(size)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(c);
            if signed && c[size - 1] & 0x80 != 0 {
                b[size..].fill(0xFF); // sign-extend
            }
            i64::from_le_bytes(b)
        })
        .collect())
}

fn write_header(w: &mut impl Write, descr: &str, shape: &[usize]) -> io::Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad so the data starts at a multiple of 64 bytes, newline-terminated, as numpy does.
    let total = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat(total.div_ceil(64) * 64 - total));
    dict.push('\n');
    w.write_all(MAGIC)?;
    w.write_all(&[1, 0])?;
    w.write_all(&(dict.len() as u16).to_le_bytes())?;
    w.write_all(dict.as_bytes())
}

/// Writes a `<f4` matrix to a `.npy` file a block of rows at a time, so activations never
/// need to be held in memory all at once.
pub struct NpyWriter {
    w: io::BufWriter<File>,
    cols: usize,
    remaining: usize,
}

impl NpyWriter {
    /// Creates `path` for a `rows × cols` matrix.
    pub fn create(path: &Path, rows: usize, cols: usize) -> io::Result<Self> {
        let mut w = io::BufWriter::with_capacity(1 << 20, File::create(path)?);
        write_header(&mut w, "<f4", &[rows, cols])?;
        Ok(NpyWriter {
            w,
            cols,
            remaining: rows * cols,
        })
    }

    /// Appends whole rows.
    pub fn write_rows(&mut self, data: &[f32]) -> io::Result<()> {
        if data.len() % self.cols.max(1) != 0 || data.len() > self.remaining {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "rows do not fit the declared shape",
            ));
        }
        self.remaining -= data.len();
        for x in data {
            self.w.write_all(&x.to_le_bytes())?;
        }
        Ok(())
    }

    /// Flushes; fails if fewer rows were written than declared.
    pub fn finish(mut self) -> io::Result<()> {
        if self.remaining != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "fewer rows written than declared",
            ));
        }
        self.w.flush()
    }
}

/// Writes a row-major `f32` matrix as a `<f4` `.npy` file.
pub fn write_matrix(path: &Path, rows: usize, cols: usize, data: &[f32]) -> io::Result<()> {
    assert_eq!(data.len(), rows * cols, "write_matrix: data length");
    let mut w = io::BufWriter::new(File::create(path)?);
    write_header(&mut w, "<f4", &[rows, cols])?;
    for x in data {
        w.write_all(&x.to_le_bytes())?;
    }
    w.flush()
}

/// Writes integers as an `<i8` (int64) `.npy` vector.
pub fn write_ints(path: &Path, values: &[i64]) -> io::Result<()> {
    let mut w = io::BufWriter::new(File::create(path)?);
    write_header(&mut w, "<i8", &[values.len()])?;
    for x in values {
        w.write_all(&x.to_le_bytes())?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numpy_headers() {
        let (d, f, s) =
            parse_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }          \n")
                .unwrap();
        assert_eq!((d.as_str(), f, s), ("<f4", false, vec![3, 4]));
        let (_, _, s) =
            parse_dict("{'descr': '<i8', 'fortran_order': False, 'shape': (7,), }").unwrap();
        assert_eq!(s, vec![7]);
        let (_, _, s) =
            parse_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (), }").unwrap();
        assert!(s.is_empty());
        assert!(
            parse_dict("{'descr': '<f4', 'shape': (3, 4)}").is_err(),
            "missing fortran_order"
        );
        assert!(parse_dict("{'descr': '<f4' 'fortran_order': False}").is_err());
        assert!(parse_dict("{'shape': (-1, 4), 'descr': '<f4', 'fortran_order': False}").is_err());
        assert!(parse_dict("not a dict").is_err());
    }

    #[test]
    fn dtypes() {
        assert_eq!(parse_descr("<f4"), Some(Dtype::F4));
        assert_eq!(
            parse_descr("<i4"),
            Some(Dtype::Int {
                size: 4,
                signed: true
            })
        );
        assert_eq!(parse_descr(">f4"), None);
        assert_eq!(parse_descr("<c8"), None);
        assert_eq!(parse_descr(""), None);
    }

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.npy");
        let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 2.0).collect();
        write_matrix(&p, 3, 4, &data).unwrap();
        let m = read_matrix(&p).unwrap();
        assert_eq!((m.rows, m.cols), (3, 4));
        assert_eq!(m.data, data);
        assert!(matches!(
            read_ints(&p),
            Err(NpyError::UnsupportedDtype { .. })
        ));

        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
        assert!(matches!(
            read_matrix(&p),
            Err(NpyError::Truncated {
                expected: 48,
                got: 45
            })
        ));
        for cut in 0..80 {
            std::fs::write(&p, &bytes[..cut]).unwrap();
            assert!(read_matrix(&p).is_err());
        }
        let mut nan = bytes.clone();
        let off = nan.len() - 4 * 6;
        nan[off..off + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        std::fs::write(&p, &nan).unwrap();
        assert!(matches!(
            read_matrix(&p),
            Err(NpyError::NonFinite { row: 1, col: 2 })
        ));

        let q = dir.path().join("a.npy");
        write_ints(&q, &[3, -1, 9]).unwrap();
        assert_eq!(read_ints(&q).unwrap(), vec![3, -1, 9]);
        assert!(matches!(
            read_matrix(&q),
            Err(NpyError::UnsupportedDtype { .. })
        ));
    }
}
