//! Where the datasets are: a flag, else `$HAPSCOPE_DATA`, else `../shared/data` beside the
//! repository (or beside the working directory) when it exists.

use std::path::{Path, PathBuf};

use super::DataError;

/// The data directory to use: `explicit` if given, else `$HAPSCOPE_DATA`, else the first
/// existing `shared/data` beside the repository or the working directory.
pub fn data_dir(explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("HAPSCOPE_DATA") {
        return Ok(PathBuf::from(p));
    }
    let candidates = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        PathBuf::from("../shared/data"),
    ];
    candidates.into_iter().find(|p| p.is_dir()).ok_or_else(|| {
        DataError::Missing(
            "no data directory: pass --data DIR or set HAPSCOPE_DATA (expected mnist/ and cifar10/ inside, \
             e.g. ../shared/data beside the repository)"
                .into(),
        )
    })
}

/// The first of `names` that exists in `dir`, or a message saying what is missing and
/// where to get it.
pub fn find(dir: &Path, names: &[&str], what: &str, source: &str) -> Result<PathBuf, DataError> {
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            DataError::Missing(format!(
                "{what} not found in {} (looked for {}); get it from {source}",
                dir.display(),
                names.join(", ")
            ))
        })
}

/// The third-party ResNet44 weights: `explicit` if given, else
/// `$HAPSCOPE_MODELS/resnet44-cifar10.safetensors`, else the copy in `../shared/models`.
pub fn resnet44_weights(explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let name = "resnet44-cifar10.safetensors";
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("HAPSCOPE_MODELS") {
        candidates.push(PathBuf::from(d).join(name));
    }
    candidates.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/models")
            .join(name),
    );
    candidates.push(Path::new("../shared/models").join(name));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        DataError::Missing(format!(
            "{name} not found: pass --weights FILE or set HAPSCOPE_MODELS; it is the akamaster/pytorch_resnet_cifar10 \
             ResNet44 checkpoint (resnet44-014dd654.th) saved as safetensors without the `module.` prefix"
        ))
    })
}
