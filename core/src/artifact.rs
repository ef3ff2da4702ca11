//! The on-disk (and over-the-wire) format of a built library, version 1.
//!
//! All integers and floats little-endian; every length explicit; a CRC-32 over everything
//! before it. Layout:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | `[u8; 8]` | magic `b"HAPLIB\r\n"` (a CR-LF mangled by text-mode transfer breaks it) |
//! | 8 | `u16` | format version = 1 |
//! | 10 | `u16` | flags: bit 0 = node vectors present; other bits must be 0 |
//! | 12 | `f32` | θ |
//! | 16 | `u32` | dim (HAP length, ≥ 1) |
//! | 20 | `u32` | classes (≥ 1) |
//! | 24 | `u32` | nodes |
//! | 28 | `u32` | layer-name length in bytes (≤ 256) |
//! | 32 | `u64` | total file length in bytes, checksum included |
//! | 40 | `[u8]` | layer name, UTF-8 |
//! | … | `[u32; nodes]` | source ids (training-row index of each node, strictly increasing) |
//! | … | `[f32; nodes·dim]` | unit node vectors, node-major (only if flag bit 0) |
//! | … | `[f32; nodes·classes]` | Hebbian links `W`, node-major (Eq. 2) |
//! | end − 4 | `u32` | CRC-32 (IEEE) of bytes `0 .. end − 4` |
//!
//! Node vectors are optional because the page recomputes them from the exemplars (a node
//! *is* a training example) instead of downloading `nodes × dim` floats.
//!
//! [`LibraryArtifact::decode`] never panics and never allocates more than the input's size
//! justifies: the declared total length must equal the input length before any section is
//! read. Every failure is an [`ArtifactError`] with the byte offset it concerns.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::checksum::crc32;
use crate::error::Result;
use crate::hebbian::Links;
use crate::library::Library;

/// The 8-byte magic at offset 0.
pub const MAGIC: [u8; 8] = *b"HAPLIB\r\n";
/// The format version this code writes and reads.
pub const VERSION: u16 = 1;
/// Flag bit: node vectors are present.
pub const FLAG_VECTORS: u16 = 1;
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 40;
/// Longest accepted layer name, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// A library as stored: its layer, θ, nodes and links.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryArtifact {
    /// The tapped layer's name, e.g. `"CN1"`.
    pub layer: String,
    /// Novelty threshold θ the library was built with.
    pub theta: f32,
    /// HAP length.
    pub dim: usize,
    /// Training-row index of each node, in creation order.
    pub source_ids: Vec<u32>,
    /// Unit node vectors (`nodes × dim`), if stored.
    pub vectors: Option<Vec<f32>>,
    /// Hebbian links (`nodes × classes`).
    pub links: Links,
}

/// Why an artifact could not be decoded, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactError {
    /// Byte offset the problem concerns.
    pub offset: usize,
    /// What the problem is.
    pub kind: ArtifactErrorKind,
}

/// The kinds of decoding failure.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ArtifactErrorKind {
    /// Fewer bytes than the fixed header (or a section) needs.
    Truncated {
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        got: u64,
    },
    /// Not a hapscope library file.
    BadMagic,
    /// A version this code does not read.
    UnsupportedVersion(u16),
    /// Flag bits this code does not know.
    UnknownFlags(u16),
    /// More bytes than the header declares.
    TrailingBytes {
        /// Declared total length.
        declared: u64,
        /// Actual length.
        got: u64,
    },
    /// The stored CRC-32 does not match the content.
    Checksum {
        /// CRC stored in the file.
        stored: u32,
        /// CRC computed over the content.
        computed: u32,
    },
    /// The declared counts do not add up to the declared length.
    SizeMismatch {
        /// Length implied by the counts.
        implied: u64,
        /// Declared total length.
        declared: u64,
    },
    /// θ is not a finite number in [−1, 1].
    BadTheta,
    /// `dim` or `classes` is zero.
    ZeroSize(&'static str),
    /// The layer name is too long or not UTF-8.
    BadName,
    /// Source ids are not strictly increasing (first offending node).
    IdsNotIncreasing(usize),
    /// A NaN or infinite value in a float section.
    NonFinite(&'static str),
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ArtifactErrorKind::*;
        write!(f, "at byte {}: ", self.offset)?;
        match &self.kind {
            Truncated { needed, got } => write!(f, "truncated: needs {needed} bytes, has {got}"),
            BadMagic => write!(f, "not a hapscope library (bad magic)"),
            UnsupportedVersion(v) => write!(
                f,
                "unsupported format version {v} (this build reads {VERSION})"
            ),
            UnknownFlags(x) => write!(f, "unknown flag bits {x:#06x}"),
            TrailingBytes { declared, got } => {
                write!(f, "{got} bytes but the header declares {declared}")
            }
            Checksum { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): file corrupted"
                )
            }
            SizeMismatch { implied, declared } => {
                write!(
                    f,
                    "section sizes add up to {implied} bytes but the header declares {declared}"
                )
            }
            BadTheta => write!(f, "theta is not a finite number in [-1, 1]"),
            ZeroSize(what) => write!(f, "{what} is zero"),
            BadName => write!(
                f,
                "layer name is longer than {MAX_NAME_LEN} bytes or not UTF-8"
            ),
            IdsNotIncreasing(n) => write!(
                f,
                "source id of node {n} is not greater than the previous one"
            ),
            NonFinite(what) => write!(f, "non-finite value in {what}"),
        }
    }
}

impl core::error::Error for ArtifactError {}

fn err(offset: usize, kind: ArtifactErrorKind) -> ArtifactError {
    ArtifactError { offset, kind }
}

/// A little-endian reader over a slice whose bounds were checked up front.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> core::result::Result<&'a [u8], ArtifactError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(err(
                self.pos,
                ArtifactErrorKind::Truncated {
                    needed: self.pos as u64 + n as u64,
                    got: self.bytes.len() as u64,
                },
            ))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> core::result::Result<[u8; N], ArtifactError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u16(&mut self) -> core::result::Result<u16, ArtifactError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> core::result::Result<u32, ArtifactError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> core::result::Result<u64, ArtifactError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f32s(
        &mut self,
        n: usize,
        what: &'static str,
    ) -> core::result::Result<Vec<f32>, ArtifactError> {
        let start = self.pos;
        let raw = self.take(n * 4)?;
        let v: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        match v.iter().position(|x| !x.is_finite()) {
            Some(i) => Err(err(start + 4 * i, ArtifactErrorKind::NonFinite(what))),
            None => Ok(v),
        }
    }
}

impl LibraryArtifact {
    /// Packs a built library and its links. `with_vectors` chooses whether the node vectors
    /// are stored (see the module docs).
    pub fn new(layer: &str, library: &Library, links: &Links, with_vectors: bool) -> Result<Self> {
        if links.nodes() != library.len() {
            return Err(crate::Error::DimMismatch {
                expected: library.len(),
                got: links.nodes(),
            });
        }
        if layer.len() > MAX_NAME_LEN {
            return Err(crate::Error::InvalidParameter {
                name: "layer",
                reason: "name longer than 256 bytes",
            });
        }
        Ok(LibraryArtifact {
            layer: layer.into(),
            theta: library.theta(),
            dim: library.dim(),
            source_ids: library.source_ids().to_vec(),
            vectors: with_vectors.then(|| library.vectors().to_vec()),
            links: links.clone(),
        })
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.source_ids.len()
    }

    /// The library, when node vectors are stored.
    pub fn library(&self) -> Option<Result<Library>> {
        let v = self.vectors.as_ref()?;
        Some(Library::from_parts(
            self.dim,
            self.theta,
            v.clone(),
            self.source_ids.clone(),
        ))
    }

    /// The encoded bytes (deterministic: equal artifacts encode to equal bytes).
    pub fn encode(&self) -> Vec<u8> {
        let nodes = self.nodes();
        let classes = self.links.classes();
        let body = HEADER_LEN
            + self.layer.len()
            + 4 * nodes
            + self.vectors.as_ref().map_or(0, |v| 4 * v.len())
            + 4 * self.links.weights().len();
        let total = body + 4;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        let flags = if self.vectors.is_some() {
            FLAG_VECTORS
        } else {
            0
        };
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&self.theta.to_le_bytes());
        for n in [self.dim, classes, nodes, self.layer.len()] {
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        out.extend_from_slice(&(total as u64).to_le_bytes());
        out.extend_from_slice(self.layer.as_bytes());
        for id in &self.source_ids {
            out.extend_from_slice(&id.to_le_bytes());
        }
        for x in self.vectors.iter().flatten().chain(self.links.weights()) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        let crc = crc32(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and validates an artifact; never panics.
    pub fn decode(bytes: &[u8]) -> core::result::Result<Self, ArtifactError> {
        use ArtifactErrorKind::*;
        let got = bytes.len() as u64;
        if bytes.len() < HEADER_LEN + 4 {
            return Err(err(
                0,
                Truncated {
                    needed: (HEADER_LEN + 4) as u64,
                    got,
                },
            ));
        }
        let mut r = Reader { bytes, pos: 0 };
        if r.array::<8>()? != MAGIC {
            return Err(err(0, BadMagic));
        }
        let version = r.u16()?;
        if version != VERSION {
            return Err(err(8, UnsupportedVersion(version)));
        }
        let flags = r.u16()?;
        if flags & !FLAG_VECTORS != 0 {
            return Err(err(10, UnknownFlags(flags)));
        }
        let theta = f32::from_le_bytes(r.array()?);
        let dim = r.u32()? as u64;
        let classes = r.u32()? as u64;
        let nodes = r.u32()? as u64;
        let name_len = r.u32()? as u64;
        let declared = r.u64()?;
        if declared > got {
            return Err(err(
                32,
                Truncated {
                    needed: declared,
                    got,
                },
            ));
        }
        if declared < got {
            return Err(err(declared as usize, TrailingBytes { declared, got }));
        }
        let body = bytes.len() - 4;
        let stored = u32::from_le_bytes([
            bytes[body],
            bytes[body + 1],
            bytes[body + 2],
            bytes[body + 3],
        ]);
        let computed = crc32(&bytes[..body]);
        // Fuzz builds skip the checksum so mutations reach the parser behind it.
        if stored != computed && !cfg!(fuzzing) {
            return Err(err(body, Checksum { stored, computed }));
        }
        // Counts are u32, so in u128 these sums of products cannot overflow (< 2^68).
        let (n, d, c) = (u128::from(nodes), u128::from(dim), u128::from(classes));
        let vec_floats = if flags & FLAG_VECTORS != 0 { n * d } else { 0 };
        let implied =
            HEADER_LEN as u128 + u128::from(name_len) + 4 * n + 4 * vec_floats + 4 * n * c + 4;
        if implied != u128::from(declared) {
            let implied = u64::try_from(implied).unwrap_or(u64::MAX);
            return Err(err(24, SizeMismatch { implied, declared }));
        }
        if !theta.is_finite() || !(-1.0..=1.0).contains(&theta) {
            return Err(err(12, BadTheta));
        }
        if dim == 0 {
            return Err(err(16, ZeroSize("dim")));
        }
        if classes == 0 {
            return Err(err(20, ZeroSize("classes")));
        }
        // Every size below fits in the input, which fits in memory: plain casts are safe.
        let (dim, classes, nodes, name_len) = (
            dim as usize,
            classes as usize,
            nodes as usize,
            name_len as usize,
        );
        let name_at = r.pos;
        let layer = match core::str::from_utf8(r.take(name_len)?) {
            Ok(s) if name_len <= MAX_NAME_LEN => String::from(s),
            _ => return Err(err(name_at, BadName)),
        };
        let ids_at = r.pos;
        let raw = r.take(4 * nodes)?;
        let source_ids: Vec<u32> = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(n) = source_ids.windows(2).position(|w| w[0] >= w[1]) {
            return Err(err(ids_at + 4 * (n + 1), IdsNotIncreasing(n + 1)));
        }
        let vectors = if flags & FLAG_VECTORS != 0 {
            Some(r.f32s(nodes * dim, "node vectors")?)
        } else {
            None
        };
        let links_at = r.pos;
        let weights = r.f32s(nodes * classes, "links")?;
        let links = Links::from_parts(nodes, classes, weights)
            .map_err(|_| err(links_at, NonFinite("links")))?;
        Ok(LibraryArtifact {
            layer,
            theta,
            dim,
            source_ids,
            vectors,
            links,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hebbian::HebbianAccumulator;
    use crate::kernel::PlainKernel;
    use crate::library::LibraryBuilder;
    use alloc::vec;

    fn sample(with_vectors: bool) -> LibraryArtifact {
        let haps = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.9, 0.1, 0.0, 0.0, 0.0, 1.0];
        let mut b = LibraryBuilder::new(3, 0.8, PlainKernel).unwrap();
        b.push(&haps).unwrap();
        let lib = b.finish();
        let mut acc = HebbianAccumulator::new(lib.len(), 2).unwrap();
        acc.add(&vec![0.5; lib.len()], 1).unwrap();
        LibraryArtifact::new("CN1", &lib, &acc.finish(), with_vectors).unwrap()
    }

    #[test]
    fn round_trip() {
        for with_vectors in [true, false] {
            let a = sample(with_vectors);
            let bytes = a.encode();
            assert_eq!(LibraryArtifact::decode(&bytes).unwrap(), a);
            assert_eq!(a.encode(), bytes, "deterministic");
        }
        let a = sample(true);
        assert_eq!(a.library().unwrap().unwrap().source_ids(), &[0, 1, 3]);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error() {
        let bytes = sample(true).encode();
        for len in 0..bytes.len() {
            assert!(
                LibraryArtifact::decode(&bytes[..len]).is_err(),
                "truncated to {len}"
            );
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(
                    LibraryArtifact::decode(&b).is_err(),
                    "flip byte {i} bit {bit}"
                );
            }
        }
    }

    /// Found by the `artifact_decode` fuzz target: huge counts overflowed the size check.
    #[test]
    fn huge_counts_are_a_size_mismatch_not_an_overflow() {
        let mut bytes = sample(true).encode();
        for off in [16, 24] {
            bytes[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        }
        let n = bytes.len() - 4;
        let crc = crc32(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            LibraryArtifact::decode(&bytes).unwrap_err().kind,
            ArtifactErrorKind::SizeMismatch { .. }
        ));
    }

    #[test]
    fn specific_errors() {
        let mut bytes = sample(false).encode();
        bytes[0] = b'X';
        assert_eq!(
            LibraryArtifact::decode(&bytes).unwrap_err().kind,
            ArtifactErrorKind::BadMagic
        );
        let mut bytes = sample(false).encode();
        bytes.push(0);
        assert!(matches!(
            LibraryArtifact::decode(&bytes).unwrap_err().kind,
            ArtifactErrorKind::TrailingBytes { .. }
        ));
        let mut bytes = sample(false).encode();
        let n = bytes.len();
        bytes[n - 10] ^= 0xFF;
        assert!(matches!(
            LibraryArtifact::decode(&bytes).unwrap_err().kind,
            ArtifactErrorKind::Checksum { .. }
        ));
    }
}
