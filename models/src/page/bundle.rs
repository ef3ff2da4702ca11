//! The page's model bundle: a manifest and the files it names, checked on arrival.

use std::path::{Path, PathBuf};

use hapscope_core::artifact::{ArtifactError, LibraryArtifact};
use sha2::{Digest, Sha256};

use super::manifest::{FileRef, MANIFEST_FORMAT, Manifest};

/// Bytes per exemplar digit of the MNIST bundle.
pub const DIGIT_BYTES: usize = 28 * 28;
/// Largest input accepted from a manifest, in values (a 3 × 64 × 64 image).
const MAX_INPUT: usize = 3 * 64 * 64;
/// The manifest's file name.
pub const MANIFEST_NAME: &str = "manifest.json";

/// Why a bundle could not be used, or a model could not be assembled from it or run.
///
/// The bundle's own checks name the file at fault ([`BundleError::Read`],
/// [`BundleError::File`], [`BundleError::Manifest`]). Each message is complete: it includes
/// the underlying error (which is therefore not repeated as `source()`), since the page
/// shows `Display` alone and the CLI prints error chains with `{:#}`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A bundle file could not be read from disk.
    #[error("{}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        error: std::io::Error,
    },
    /// A file the manifest names is not what the manifest says.
    #[error("{name}: {problem}")]
    File {
        /// The file's name in the manifest.
        name: String,
        /// What is wrong with it.
        problem: FileProblem,
    },
    /// `manifest.json` is not a manifest this build reads, or contradicts itself.
    #[error("{MANIFEST_NAME}: {0}")]
    Manifest(ManifestProblem),
    /// A core computation refused a layer's library, links or HAPs.
    #[error("layer {layer}: {error}")]
    Layer {
        /// The layer.
        layer: String,
        /// The core's error.
        error: hapscope_core::Error,
    },
    /// The detectors' part of the bundle is inconsistent.
    #[error("detectors: {0}")]
    Detectors(String),
    /// A library node names a digit that is not among the exemplars.
    #[error("layer {layer}: no exemplar {id}")]
    NoExemplar {
        /// The layer.
        layer: String,
        /// The node's source id.
        id: u32,
    },
    /// An exemplar whose HAP is all zeros cannot be a (unit) library node.
    #[error("layer {layer}: exemplar {id} has an all-zero HAP")]
    ZeroHap {
        /// The layer.
        layer: String,
        /// The exemplar's source id.
        id: u32,
    },
    /// A node's HAP holds NaN or ±∞ (node rows from a damaged cache).
    #[error("layer {layer}: exemplar {id} has a non-finite HAP value")]
    NonFiniteHap {
        /// The layer.
        layer: String,
        /// The exemplar's source id.
        id: u32,
    },
    /// HAPs were given for a different number of layers than there are.
    #[error("{got} layers of HAPs for {expected} layers")]
    LayerCount {
        /// Layers of HAPs given.
        got: usize,
        /// Layers (libraries, or θs) there are.
        expected: usize,
    },
    /// HAPs of no rows (no digits) where some are needed.
    #[error("HAPs of no rows")]
    NoRows,
    /// A layer's HAPs are not one of `dim` values per row (per exemplar, or per node for
    /// node rows).
    #[error("layer {layer}: {got} HAP values for {rows} rows of dimension {dim}")]
    HapLength {
        /// The layer.
        layer: String,
        /// Values given.
        got: usize,
        /// Rows expected.
        rows: usize,
        /// The layer's HAP length.
        dim: usize,
    },
    /// A layer's HAPs do not divide into `rows` rows.
    #[error("layer {layer}: {got} HAP values are not {rows} rows")]
    Ragged {
        /// The layer's index.
        layer: usize,
        /// Values given.
        got: usize,
        /// Rows expected.
        rows: usize,
    },
    /// CPL (Eq. 5) could not be computed.
    #[error("CPL: {0}")]
    Cpl(hapscope_core::Error),
    /// What to build does not make a bundle.
    #[error(
        "need training images and, for each of at least two layers, a θ, its channels and whether it stores its vectors"
    )]
    BuildOptions,
    /// The network has no tap of a requested name.
    #[error("the network has no tap for one of {layers:?}")]
    NoTap {
        /// The requested layers.
        layers: Vec<String>,
    },
    /// A stage of the build failed in a core computation.
    #[error("{stage}: {error}")]
    Build {
        /// `library` or `links`.
        stage: &'static str,
        /// The core's error.
        error: hapscope_core::Error,
    },
}

/// What is wrong with a file the manifest names.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FileProblem {
    /// Its length is not the manifest's.
    #[error("{got} bytes, the manifest says {expected} (truncated or wrong file?)")]
    Length {
        /// Bytes present.
        got: u64,
        /// Bytes the manifest states.
        expected: u64,
    },
    /// Its SHA-256 is not the manifest's.
    #[error("its SHA-256 differs from the manifest's (corrupted or wrong file?)")]
    Checksum,
    /// The exemplar file does not hold one image per exemplar id.
    #[error("{got} bytes is not {images} images of {per} bytes")]
    NotImages {
        /// Bytes present.
        got: usize,
        /// Exemplar ids in the manifest.
        images: usize,
        /// Bytes per image.
        per: usize,
    },
    /// A library file that does not decode.
    #[error("{0}")]
    Artifact(ArtifactError),
    /// A library file that decodes to another layer than its manifest entry describes.
    #[error(
        "holds layer {layer} with {nodes} nodes and {classes} classes, the manifest says \
         {expected_layer} with {expected_nodes} and {expected_classes}"
    )]
    WrongLibrary {
        /// The layer the file holds.
        layer: String,
        /// Its nodes.
        nodes: usize,
        /// Its classes.
        classes: usize,
        /// The layer the manifest names.
        expected_layer: String,
        /// The manifest's node count.
        expected_nodes: usize,
        /// The manifest's class count.
        expected_classes: usize,
    },
    /// A library node's digit that the bundle does not ship.
    #[error("node digit {id} is not among the exemplars")]
    UnknownExemplar {
        /// The node's source id.
        id: u32,
    },
}

/// What is wrong with `manifest.json`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestProblem {
    /// Not JSON of a manifest's shape.
    #[error("not a hapscope manifest ({0})")]
    NotManifest(serde_json::Error),
    /// Another manifest format.
    #[error("format {0}, this build reads format {MANIFEST_FORMAT}")]
    Format(u32),
    /// `exemplar_ids` not strictly increasing.
    #[error("exemplar ids are not increasing")]
    IdsNotIncreasing,
    /// `exemplar_labels` not one class per id.
    #[error("exemplar labels do not match the ids and classes")]
    Labels,
    /// `input` is empty or too large.
    #[error("input {0:?} is not a plausible image")]
    Input([usize; 3]),
    /// Not one library file per listed layer, or fewer than two layers.
    #[error("{listed} layers listed, {given} library files given (at least 2 needed)")]
    Layers {
        /// Layers in the manifest.
        listed: usize,
        /// Library files given.
        given: usize,
    },
    /// `top_a` is zero.
    #[error("top_a must be at least 1")]
    TopA,
}

fn file_err<T>(name: &str, problem: FileProblem) -> Result<T, BundleError> {
    Err(BundleError::File {
        name: name.to_string(),
        problem,
    })
}

fn manifest_err<T>(problem: ManifestProblem) -> Result<T, BundleError> {
    Err(BundleError::Manifest(problem))
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
    /// The detectors' file (`manifest.detectors`), checked against the manifest.
    pub detectors: Option<Vec<u8>>,
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
    check_file_digest(file, bytes, None)
}

/// [`check_file`] with the SHA-256 of `bytes` (lowercase hex) already computed elsewhere —
/// the page's worker hashes with the browser's native WebCrypto, several times faster than
/// hashing in wasm — or, given `None`, computed here.
pub fn check_file_digest(
    file: &FileRef,
    bytes: &[u8],
    digest: Option<&str>,
) -> Result<(), BundleError> {
    if bytes.len() as u64 != file.bytes {
        return file_err(
            &file.name,
            FileProblem::Length {
                got: bytes.len() as u64,
                expected: file.bytes,
            },
        );
    }
    // Fuzz builds skip the digest, so mutations reach the decoders behind it.
    let ok = match digest {
        Some(d) => d == file.sha256,
        None => sha256_hex(bytes) == file.sha256,
    };
    if !ok && !cfg!(fuzzing) {
        return file_err(&file.name, FileProblem::Checksum);
    }
    Ok(())
}

/// Parses `manifest.json`.
pub fn parse_manifest(text: &[u8]) -> Result<Manifest, BundleError> {
    let m: Manifest = serde_json::from_slice(text)
        .map_err(|e| BundleError::Manifest(ManifestProblem::NotManifest(e)))?;
    if m.format != MANIFEST_FORMAT {
        return manifest_err(ManifestProblem::Format(m.format));
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
        Self::assemble_digests(manifest, weights, exemplars, libraries, &[])
    }

    /// [`Bundle::assemble`] with the files' SHA-256 digests computed elsewhere
    /// ([`check_file_digest`]), in the order weights, exemplars, libraries; a file past the
    /// end of `digests` is hashed here.
    pub fn assemble_digests(
        manifest: Manifest,
        weights: Vec<u8>,
        exemplars: Vec<u8>,
        libraries: Vec<Vec<u8>>,
        digests: &[String],
    ) -> Result<Self, BundleError> {
        let digest = |i: usize| digests.get(i).map(String::as_str);
        check_file_digest(&manifest.weights, &weights, digest(0))?;
        check_file_digest(&manifest.exemplars, &exemplars, digest(1))?;
        let ids = &manifest.exemplar_ids;
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            return manifest_err(ManifestProblem::IdsNotIncreasing);
        }
        let classes = manifest.classes.len();
        if manifest.exemplar_labels.len() != ids.len()
            || manifest
                .exemplar_labels
                .iter()
                .any(|&l| usize::from(l) >= classes)
        {
            return manifest_err(ManifestProblem::Labels);
        }
        let per = manifest.input_len();
        if per == 0 || per > MAX_INPUT {
            return manifest_err(ManifestProblem::Input(manifest.input));
        }
        if exemplars.len() != ids.len() * per {
            return file_err(
                &manifest.exemplars.name,
                FileProblem::NotImages {
                    got: exemplars.len(),
                    images: ids.len(),
                    per,
                },
            );
        }
        if manifest.layers.len() != libraries.len() || manifest.layers.len() < 2 {
            return manifest_err(ManifestProblem::Layers {
                listed: manifest.layers.len(),
                given: libraries.len(),
            });
        }
        if manifest.top_a == 0 {
            return manifest_err(ManifestProblem::TopA);
        }
        let mut decoded = Vec::with_capacity(libraries.len());
        for (i, (layer, bytes)) in manifest.layers.iter().zip(&libraries).enumerate() {
            check_file_digest(&layer.file, bytes, digest(2 + i))?;
            let a = match LibraryArtifact::decode(bytes) {
                Ok(a) => a,
                Err(e) => return file_err(&layer.file.name, FileProblem::Artifact(e)),
            };
            if a.layer != layer.name
                || a.nodes() != layer.nodes
                || a.nodes() == 0
                || a.links.classes() != classes
            {
                return file_err(
                    &layer.file.name,
                    FileProblem::WrongLibrary {
                        layer: a.layer.clone(),
                        nodes: a.nodes(),
                        classes: a.links.classes(),
                        expected_layer: layer.name.clone(),
                        expected_nodes: layer.nodes,
                        expected_classes: classes,
                    },
                );
            }
            if let Some(&id) = a
                .source_ids
                .iter()
                .find(|id| ids.binary_search(id).is_err())
            {
                return file_err(&layer.file.name, FileProblem::UnknownExemplar { id });
            }
            decoded.push(a);
        }
        Ok(Bundle {
            manifest,
            weights,
            exemplars,
            libraries: decoded,
            detectors: None,
        })
    }

    /// Adds the detectors' file: required (and checked) when the manifest lists detectors,
    /// refused when it does not.
    pub fn with_detectors(self, bytes: Option<Vec<u8>>) -> Result<Self, BundleError> {
        self.with_detectors_digest(bytes, None)
    }

    /// [`Bundle::with_detectors`] with the file's SHA-256 computed elsewhere
    /// ([`check_file_digest`]).
    pub fn with_detectors_digest(
        mut self,
        bytes: Option<Vec<u8>>,
        digest: Option<&str>,
    ) -> Result<Self, BundleError> {
        match (&self.manifest.detectors, bytes) {
            (Some(d), Some(bytes)) => {
                check_file_digest(&d.file, &bytes, digest)?;
                self.detectors = Some(bytes);
            }
            (Some(d), None) => {
                return Err(BundleError::Detectors(format!(
                    "{} is missing",
                    d.file.name
                )));
            }
            (None, Some(_)) => {
                return Err(BundleError::Detectors(
                    "a detectors file for a manifest without detectors".into(),
                ));
            }
            (None, None) => {}
        }
        Ok(self)
    }

    /// Reads and checks a bundle from a directory.
    pub fn read(dir: &Path) -> Result<Self, BundleError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|error| BundleError::Read { path, error })
        };
        let manifest = parse_manifest(&read(MANIFEST_NAME)?)?;
        let weights = read(&manifest.weights.name)?;
        let exemplars = read(&manifest.exemplars.name)?;
        let libraries = manifest
            .layers
            .iter()
            .map(|l| read(&l.file.name))
            .collect::<Result<Vec<_>, _>>()?;
        let detectors = match &manifest.detectors {
            Some(d) => Some(read(&d.file.name)?),
            None => None,
        };
        Self::assemble(manifest, weights, exemplars, libraries)?.with_detectors(detectors)
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
        if let (Some(d), Some(bytes)) = (&m.detectors, &self.detectors) {
            std::fs::write(dir.join(&d.file.name), bytes)?;
        }
        let json = serde_json::to_string_pretty(m).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(MANIFEST_NAME), json + "\n")
    }

    /// The exemplar row of source id `id`.
    pub fn exemplar_row(&self, id: u32) -> Option<usize> {
        self.manifest.exemplar_ids.binary_search(&id).ok()
    }

    /// The pixels (bytes) of exemplar row `row`.
    pub fn exemplar(&self, row: usize) -> &[u8] {
        let per = self.manifest.input_len();
        &self.exemplars[row * per..][..per]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use hapscope_core::hebbian::Links;
    use hapscope_core::library::Library;

    use super::*;
    use crate::page::manifest::{Calibration, LayerRef, digit_classes};

    /// The parts of a bundle: two exemplar digits (ids 3 and 7, labels 1 and 2) that are
    /// the nodes of two 3-dimensional layers, `A` and `B`.
    pub(crate) fn parts() -> (Manifest, Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
        let exemplars: Vec<u8> = (0..2 * DIGIT_BYTES).map(|i| (i % 251) as u8).collect();
        let weights = b"weights".to_vec();
        let (mut layers, mut libraries) = (Vec::new(), Vec::new());
        let rows = [
            ("A", [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
            ("B", [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]),
        ];
        for (name, rows) in rows {
            let mut lib = Library::new(3, 0.5).unwrap();
            for (row, id) in rows.iter().zip([3, 7]) {
                assert!(lib.offer(row, id).unwrap());
            }
            let w = (0..20)
                .map(|j| if j % 11 == 1 { 1.0 } else { -1.0 })
                .collect();
            let links = Links::from_parts(2, 10, w).unwrap();
            let bytes = LibraryArtifact::new(name, &lib, &links, false)
                .unwrap()
                .encode();
            layers.push(LayerRef {
                name: name.into(),
                theta: lib.theta(),
                nodes: lib.len(),
                file: file_ref(&format!("{name}.haplib"), &bytes),
            });
            libraries.push(bytes);
        }
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            network: crate::network::LENET.into(),
            input: [1, 28, 28],
            classes: digit_classes(),
            source: "two synthetic digits".into(),
            weights: file_ref("lenet.safetensors", &weights),
            exemplars: file_ref("exemplars.u8", &exemplars),
            exemplar_ids: vec![3, 7],
            exemplar_labels: vec![1, 2],
            layers,
            top_a: 1,
            calibration: Calibration {
                variant: "eq5".into(),
                threshold: 0.0,
                false_positive_rate: 0.0,
                digits: 0,
            },
            holdout_every: 10,
            detectors: None,
        };
        (manifest, weights, exemplars, libraries)
    }

    /// A checked bundle of [`parts`].
    pub(crate) fn bundle() -> Bundle {
        let (m, w, e, l) = parts();
        Bundle::assemble(m, w, e, l).unwrap()
    }

    fn assemble_with(
        change: impl FnOnce(&mut Manifest, &mut Vec<u8>, &mut Vec<Vec<u8>>),
    ) -> BundleError {
        let (mut m, w, mut e, mut l) = parts();
        change(&mut m, &mut e, &mut l);
        Bundle::assemble(m, w, e, l).unwrap_err()
    }

    /// Replaces library `i` by `bytes`, with a manifest entry that matches them.
    fn replace_library(m: &mut Manifest, l: &mut [Vec<u8>], i: usize, bytes: Vec<u8>) {
        m.layers[i].file = file_ref(&m.layers[i].file.name, &bytes);
        l[i] = bytes;
    }

    #[test]
    fn a_bad_file_is_named_with_its_problem() {
        assert_eq!(bundle().libraries.len(), 2);
        let e = assemble_with(|_, _, l| l[1].truncate(10));
        assert!(
            matches!(&e, BundleError::File { name, problem: FileProblem::Length { got: 10, .. } } if name == "B.haplib"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("B.haplib: 10 bytes, the manifest says ")
        );
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = assemble_with(|_, _, l| l[1][20] ^= 0x40);
        assert!(
            matches!(&e, BundleError::File { name, problem: FileProblem::Checksum } if name == "B.haplib"),
            "{e:?}"
        );
        assert!(e.to_string().contains("SHA-256 differs"), "{e}");
        let e = assemble_with(|m, e, _| {
            e.truncate(DIGIT_BYTES);
            m.exemplars = file_ref("exemplars.u8", e);
        });
        assert!(
            matches!(&e, BundleError::File { name, problem: FileProblem::NotImages { got: DIGIT_BYTES, images: 2, per: DIGIT_BYTES } } if name == "exemplars.u8"),
            "{e:?}"
        );
        let e = assemble_with(|m, _, l| replace_library(m, l, 0, b"not a library".to_vec()));
        assert!(
            matches!(&e, BundleError::File { name, problem: FileProblem::Artifact(_) } if name == "A.haplib"),
            "{e:?}"
        );
        let e = assemble_with(|m, _, l| {
            let a = l[0].clone();
            replace_library(m, l, 1, a);
        });
        assert!(
            matches!(&e, BundleError::File { name, problem: FileProblem::WrongLibrary { layer, expected_layer, .. } } if name == "B.haplib" && layer == "A" && expected_layer == "B"),
            "{e:?}"
        );
        let e = assemble_with(|m, _, _| m.exemplar_ids = vec![3, 8]);
        assert!(
            matches!(&e, BundleError::File { name, problem: FileProblem::UnknownExemplar { id: 7 } } if name == "A.haplib"),
            "{e:?}"
        );
    }

    #[test]
    fn a_bad_manifest_is_named_with_its_problem() {
        let manifest = |e: BundleError| match e {
            BundleError::Manifest(p) => p,
            e => panic!("{e:?}"),
        };
        let e = parse_manifest(b"{").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("manifest.json: not a hapscope manifest ("),
            "{e}"
        );
        assert!(matches!(manifest(e), ManifestProblem::NotManifest(_)));
        let mut m = serde_json::to_value(parts().0).unwrap();
        m["format"] = 2.into();
        let e = parse_manifest(m.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "manifest.json: format 2, this build reads format 1"
        );
        assert!(matches!(manifest(e), ManifestProblem::Format(2)));
        let p = manifest(assemble_with(|m, _, _| m.exemplar_ids = vec![7, 3]));
        assert!(matches!(p, ManifestProblem::IdsNotIncreasing), "{p:?}");
        let p = manifest(assemble_with(|m, _, _| m.exemplar_labels = vec![1, 10]));
        assert!(matches!(p, ManifestProblem::Labels), "{p:?}");
        let p = manifest(assemble_with(|m, _, _| m.input = [3, 64, 65]));
        assert!(matches!(p, ManifestProblem::Input([3, 64, 65])), "{p:?}");
        let p = manifest(assemble_with(|_, _, l| {
            l.pop();
        }));
        assert!(
            matches!(
                p,
                ManifestProblem::Layers {
                    listed: 2,
                    given: 1
                }
            ),
            "{p:?}"
        );
        let p = manifest(assemble_with(|m, _, _| m.top_a = 0));
        assert!(matches!(p, ManifestProblem::TopA), "{p:?}");
    }

    #[test]
    fn reading_names_the_missing_file() {
        let dir = std::env::temp_dir().join(format!("hapscope-no-bundle-{}", std::process::id()));
        let e = Bundle::read(&dir).unwrap_err();
        assert!(
            matches!(&e, BundleError::Read { path, .. } if *path == dir.join(MANIFEST_NAME)),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with(&dir.join(MANIFEST_NAME).display().to_string()),
            "{e}"
        );
        // A bundle round-trips through a directory.
        let b = bundle();
        let dir = dir.with_extension("written");
        b.write(&dir).unwrap();
        assert_eq!(Bundle::read(&dir).unwrap(), b);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
