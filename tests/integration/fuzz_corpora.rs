//! Replays every input the fuzzers of `models/fuzz` kept (corpus) or crashed on once
//! (regressions) through the same function the fuzz target runs (`models/fuzz/feed.rs`):
//! each must give a value or an error, never a panic, and pass the target's checks.
//! The corpora were produced by `cargo xtask fuzz` (see models/fuzz/README.md).

use std::path::Path;

#[path = "../../models/fuzz/feed.rs"]
mod feed;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fuzz");
    let mut seen = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "{} panicked", path.display());
            seen += 1;
        }
    }
    assert!(
        seen > 0,
        "expected the committed corpus of {target}, found no files"
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

#[test]
fn bundle_corpus() {
    replay("bundle", feed::bundle);
}
