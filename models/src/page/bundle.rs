//! The page's model bundle: a manifest and the files it names, checked on arrival.

use std::fmt;
use std::path::Path;

use hapscope_core::artifact::LibraryArtifact;
use sha2::{Digest, Sha256};

use super::manifest::{FileRef, MANIFEST_FORMAT, Manifest};

/// Bytes per exemplar digit of the MNIST bundle.
pub const DIGIT_BYTES: usize = 28 * 28;
/// Largest input accepted from a manifest, in values (a 3 × 64 × 64 image).
const MAX_INPUT: usize = 3 * 64 * 64;
/// The manifest's file name.
pub const MANIFEST_NAME: &str = "manifest.json";

/// Why a bundle could not be used; the message names the file at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleError(pub String);

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BundleError {}

fn err<T>(msg: impl Into<String>) -> Result<T, BundleError> {
    Err(BundleError(msg.into()))
}

/// A checked bundle: every file present, of the stated length and checksum, and consistent
/// with the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// The manifest.
    pub manifest: Manifest,
    /// Safetensors bytes of the network.
    pub weights: Vec<u8>,
    /// Exemplar digits, 784 bytes each, in `manifest.exemplar_ids` order.
    pub exemplars: Vec<u8>,
    /// One library per layer, in `manifest.layers` order.
    pub libraries: Vec<LibraryArtifact>,
}

/// A `FileRef` for `bytes` called `name`.
pub fn file_ref(name: &str, bytes: &[u8]) -> FileRef {
    FileRef {
        name: name.to_string(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(bytes),
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks downloaded `bytes` against their manifest entry.
pub fn check_file(file: &FileRef, bytes: &[u8]) -> Result<(), BundleError> {
    if bytes.len() as u64 != file.bytes {
        return err(format!(
            "{}: {} bytes, the manifest says {} (truncated or wrong file?)",
            file.name,
            bytes.len(),
            file.bytes
        ));
    }
    // Fuzz builds skip the digest, so mutations reach the decoders behind it.
    if sha256_hex(bytes) != file.sha256 && !cfg!(fuzzing) {
        return err(format!(
            "{}: its SHA-256 differs from the manifest's (corrupted or wrong file?)",
            file.name
        ));
    }
    Ok(())
}

/// Parses `manifest.json`.
pub fn parse_manifest(text: &[u8]) -> Result<Manifest, BundleError> {
    let m: Manifest = serde_json::from_slice(text)
        .map_err(|e| BundleError(format!("{MANIFEST_NAME}: not a hapscope manifest ({e})")))?;
    if m.format != MANIFEST_FORMAT {
        return err(format!(
            "{MANIFEST_NAME}: format {}, this build reads format {MANIFEST_FORMAT}",
            m.format
        ));
    }
    Ok(m)
}

impl Bundle {
    /// Checks and assembles a bundle from its manifest and the files' bytes (`libraries` in
    /// `manifest.layers` order).
    pub fn assemble(
        manifest: Manifest,
        weights: Vec<u8>,
        exemplars: Vec<u8>,
        libraries: Vec<Vec<u8>>,
    ) -> Result<Self, BundleError> {
        check_file(&manifest.weights, &weights)?;
        check_file(&manifest.exemplars, &exemplars)?;
        let ids = &manifest.exemplar_ids;
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            return err(format!("{MANIFEST_NAME}: exemplar ids are not increasing"));
        }
        let classes = manifest.classes.len();
        if manifest.exemplar_labels.len() != ids.len()
            || manifest
                .exemplar_labels
                .iter()
                .any(|&l| usize::from(l) >= classes)
        {
            return err(format!(
                "{MANIFEST_NAME}: exemplar labels do not match the ids and classes"
            ));
        }
        let per = manifest.input_len();
        if per == 0 || per > MAX_INPUT {
            return err(format!(
                "{MANIFEST_NAME}: input {:?} is not a plausible image",
                manifest.input
            ));
        }
        if exemplars.len() != ids.len() * per {
            return err(format!(
                "{}: {} bytes is not {} images of {per} bytes",
                manifest.exemplars.name,
                exemplars.len(),
                ids.len()
            ));
        }
        if manifest.layers.len() != libraries.len() || manifest.layers.len() < 2 {
            return err(format!(
                "{MANIFEST_NAME}: {} layers listed, {} library files given (at least 2 needed)",
                manifest.layers.len(),
                libraries.len()
            ));
        }
        if manifest.top_a == 0 {
            return err(format!("{MANIFEST_NAME}: top_a must be at least 1"));
        }
        let mut decoded = Vec::with_capacity(libraries.len());
        for (layer, bytes) in manifest.layers.iter().zip(&libraries) {
            check_file(&layer.file, bytes)?;
            let a = LibraryArtifact::decode(bytes)
                .map_err(|e| BundleError(format!("{}: {e}", layer.file.name)))?;
            if a.layer != layer.name
                || a.nodes() != layer.nodes
                || a.nodes() == 0
                || a.links.classes() != classes
            {
                return err(format!(
                    "{}: holds layer {} with {} nodes and {} classes, the manifest says {} with {} and {classes}",
                    layer.file.name,
                    a.layer,
                    a.nodes(),
                    a.links.classes(),
                    layer.name,
                    layer.nodes
                ));
            }
            if let Some(&id) = a
                .source_ids
                .iter()
                .find(|id| ids.binary_search(id).is_err())
            {
                return err(format!(
                    "{}: node digit {id} is not among the exemplars",
                    layer.file.name
                ));
            }
            decoded.push(a);
        }
        Ok(Bundle {
            manifest,
            weights,
            exemplars,
            libraries: decoded,
        })
    }

    /// Reads and checks a bundle from a directory.
    pub fn read(dir: &Path) -> Result<Self, BundleError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| BundleError(format!("{}: {e}", dir.join(name).display())))
        };
        let manifest = parse_manifest(&read(MANIFEST_NAME)?)?;
        let weights = read(&manifest.weights.name)?;
        let exemplars = read(&manifest.exemplars.name)?;
        let libraries = manifest
            .layers
            .iter()
            .map(|l| read(&l.file.name))
            .collect::<Result<Vec<_>, _>>()?;
        Self::assemble(manifest, weights, exemplars, libraries)
    }

    /// Writes the bundle's files and manifest into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let m = &self.manifest;
        std::fs::write(dir.join(&m.weights.name), &self.weights)?;
        std::fs::write(dir.join(&m.exemplars.name), &self.exemplars)?;
        for (layer, lib) in m.layers.iter().zip(&self.libraries) {
            std::fs::write(dir.join(&layer.file.name), lib.encode())?;
        }
        let json = serde_json::to_string_pretty(m).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(MANIFEST_NAME), json + "\n")
    }

    /// The exemplar row of source id `id`.
    pub fn exemplar_row(&self, id: u32) -> Option<usize> {
        self.manifest.exemplar_ids.binary_search(&id).ok()
    }

    /// Whether every library stores its node vectors (the CIFAR-10 bundle): then nothing is
    /// recomputed from the exemplars.
    pub fn stores_vectors(&self) -> bool {
        self.libraries.iter().all(|a| a.vectors.is_some())
    }

    /// The pixels (bytes) of exemplar row `row`.
    pub fn exemplar(&self, row: usize) -> &[u8] {
        let per = self.manifest.input_len();
        &self.exemplars[row * per..][..per]
    }
}
