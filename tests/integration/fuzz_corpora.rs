//! Replays every input the fuzzers of `core/fuzz` and `models/fuzz` kept (corpus) or crashed
//! on once (regressions) through the same checks the fuzz targets run (`models/fuzz/feed.rs`,
//! `core/fuzz/fuzz_targets/artifact_decode.rs`): each must give a value or an error, never a
//! panic, and pass the target's checks. The corpora were produced by `cargo xtask fuzz` (see
//! models/fuzz/README.md and core/fuzz/README.md).
//!
//! Fuzz builds (`cfg(fuzzing)`) skip the library artifacts' CRC-32 and the page bundle's
//! SHA-256 checks so mutations reach the decoders behind them; the corpora therefore hold
//! almost no input with a valid checksum, and replayed as they are, with the checks on,
//! nearly all of them would stop at the checksum. So the replay first recomputes each
//! input's checksums (the artifact's trailing CRC-32; in a bundle, every library's CRC-32
//! and every file's SHA-256 in the manifest), then feeds the real decoders, checks on. Each
//! target prints how many replayed inputs got past the checksum stage, as committed and
//! after recomputing, and the test fails when too few get past (a harness that stops at
//! the checksums again).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use hapscope_core::artifact::{ArtifactError, ArtifactErrorKind, LibraryArtifact};
use hapscope_core::checksum::crc32;
use hapscope_models::page::bundle::{check_file, sha256_hex};

#[path = "../../models/fuzz/feed.rs"]
mod feed;

/// The committed inputs of `target` under `project` (`core/fuzz` or `models/fuzz`):
/// `corpus/<target>/*` and `regressions/<target>/*`, sorted, as (path, bytes).
fn inputs(project: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(project);
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out.sort();
    assert!(
        !out.is_empty(),
        "expected the committed corpus of {target} in {project}, found no files"
    );
    out
}

/// Runs `f`, failing the test with the input's path if it panics.
fn no_panic<T>(path: &Path, what: &str, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| panic!("{} panicked ({what})", path.display()))
}

/// Replays a target without a checksum stage (every input reaches its decoder as is).
fn replay(target: &str, run: fn(&[u8])) {
    let inputs = inputs("models/fuzz", target);
    for (path, bytes) in &inputs {
        no_panic(path, "as committed", || run(bytes));
    }
    println!(
        "fuzz replay {target}: {} inputs, no checksum stage: all reach the decoder",
        inputs.len()
    );
}

#[test]
fn npy_corpus() {
    replay("npy", feed::npy);
}

#[test]
fn idx_corpus() {
    replay("idx", feed::idx);
}

#[test]
fn cifar_corpus() {
    replay("cifar", feed::cifar);
}

#[test]
fn weights_corpus() {
    replay("weights", feed::weights);
}

#[test]
fn upload_corpus() {
    replay("upload", feed::upload);
}

/// Rewrites the trailing CRC-32 of a library artifact (inputs shorter than 4 bytes stay).
fn fix_crc(bytes: &mut [u8]) {
    if let Some(n) = bytes.len().checked_sub(4) {
        let crc = crc32(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Whether decoding got past the CRC-32 check: accepted, or rejected by a check behind it.
fn past_crc(decoded: &Result<LibraryArtifact, ArtifactError>) -> bool {
    use ArtifactErrorKind::*;
    match decoded {
        Ok(_) => true,
        // Every check before the CRC (after it, the declared length equals the input's and
        // the counts add up, so no section can be truncated), and the CRC itself.
        Err(e) => !matches!(
            e.kind,
            Truncated { .. }
                | BadMagic
                | UnsupportedVersion(_)
                | UnknownFlags(_)
                | TrailingBytes { .. }
                | Checksum { .. }
        ),
    }
}

/// The artifact decoder's fuzz target, checks on: what it accepts re-encodes to the very
/// same bytes (the CRC included, now that it is checked). Returns whether decoding got
/// past the CRC.
fn artifact_decode(bytes: &[u8]) -> bool {
    let decoded = LibraryArtifact::decode(bytes);
    if let Ok(a) = &decoded {
        assert!(a.encode() == bytes, "accepted input must round-trip");
        let _ = a.library();
    }
    past_crc(&decoded)
}

#[test]
fn artifact_decode_corpus_reaches_the_decoder() {
    let inputs = inputs("core/fuzz", "artifact_decode");
    let (mut past_committed, mut past) = (0, 0);
    for (path, bytes) in &inputs {
        past_committed += usize::from(no_panic(path, "as committed", || artifact_decode(bytes)));
        let mut fixed = bytes.clone();
        fix_crc(&mut fixed);
        past += usize::from(no_panic(path, "CRC recomputed", || artifact_decode(&fixed)));
    }
    let n = inputs.len();
    println!(
        "fuzz replay artifact_decode: {n} inputs; past the CRC-32: {past_committed} as \
         committed, {past} with the CRC recomputed"
    );
    assert!(
        past * 2 >= n,
        "only {past} of {n} artifact inputs got past the CRC-32 check: the replay no longer \
         reaches the decoder"
    );
}

/// A bundle's parts with every checksum recomputed: each library's CRC-32, then the SHA-256
/// of every file in the manifest. Lengths stay as they are.
fn fix_checksums(parts: &mut feed::BundleParts) {
    let m = &mut parts.manifest;
    m.weights.sha256 = sha256_hex(&parts.weights);
    m.exemplars.sha256 = sha256_hex(&parts.exemplars);
    for (layer, lib) in m.layers.iter_mut().zip(&mut parts.libraries) {
        fix_crc(lib);
        layer.file.sha256 = sha256_hex(lib);
    }
}

/// Whether every file of the bundle matches its manifest entry (length and SHA-256): the
/// checksum stage `Bundle::assemble` runs before the decoders.
fn past_sha256(parts: &feed::BundleParts) -> bool {
    let m = &parts.manifest;
    check_file(&m.weights, &parts.weights).is_ok()
        && check_file(&m.exemplars, &parts.exemplars).is_ok()
        && m.layers
            .iter()
            .zip(&parts.libraries)
            .all(|(l, b)| check_file(&l.file, b).is_ok())
}

/// Whether every file of the bundle has the length its manifest entry declares (the fuzz
/// input may end early, cutting the last files short).
fn lengths_match(parts: &feed::BundleParts) -> bool {
    let m = &parts.manifest;
    m.weights.bytes == parts.weights.len() as u64
        && m.exemplars.bytes == parts.exemplars.len() as u64
        && m.layers
            .iter()
            .zip(&parts.libraries)
            .all(|(l, b)| l.file.bytes == b.len() as u64)
}

#[test]
fn bundle_corpus_reaches_the_decoders() {
    let inputs = inputs("models/fuzz", "bundle");
    let (mut manifests, mut complete, mut past_committed, mut past, mut accepted) = (0, 0, 0, 0, 0);
    for (path, bytes) in &inputs {
        // As committed, exactly as the fuzz target feeds it (checks on: almost every input
        // stops at a SHA-256).
        no_panic(path, "as committed", || feed::bundle(bytes));
        let Some(mut parts) = no_panic(path, "splitting", || feed::bundle_parts(bytes)) else {
            continue;
        };
        manifests += 1;
        complete += usize::from(lengths_match(&parts));
        past_committed += usize::from(past_sha256(&parts));
        fix_checksums(&mut parts);
        if past_sha256(&parts) {
            past += 1;
        }
        accepted += usize::from(no_panic(path, "checksums recomputed", || {
            feed::bundle_from_parts(parts)
        }));
    }
    let n = inputs.len();
    println!(
        "fuzz replay bundle: {n} inputs, {manifests} with a valid manifest, {complete} of \
         them with every file of its declared length; past the SHA-256 checks: {past_committed} as committed, {past} with the checksums recomputed; \
         {accepted} accepted as bundles"
    );
    // Most inputs exercise the manifest's JSON parser (no checksum before it); of those
    // with a manifest, the ones whose files have their declared lengths must all get past
    // the SHA-256 checks now (1 of the committed corpus did as it is).
    assert_eq!(
        past, complete,
        "inputs whose files have their declared lengths must pass the recomputed SHA-256s"
    );
    assert!(
        past >= 10 && past * 4 >= manifests,
        "only {past} of {n} bundle inputs ({manifests} with a manifest) got past the SHA-256 \
         checks: the replay no longer reaches the decoders"
    );
    assert!(
        accepted >= 5,
        "only {accepted} replayed bundle inputs were accepted: the decoders behind the checks \
         are not reached"
    );
}
