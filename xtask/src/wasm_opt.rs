//! binaryen's wasm-opt on the page's engines: cached by the input's hash, and startable in the
//! background — it is one thread (binaryen's JS build) for minutes, so the suite runs the CPU
//! engine's beside its next builds ([`crate::dist::dist_for_tests`]).

use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use crate::Result;
use crate::background::Background;
use crate::dist::io;

/// wasm-opt's passes and the wasm features the engines use.
///
/// `--one-caller-inline-max-function-size 1000`: a function with one caller is inlined into
/// it only up to 1,000 expressions (binaryen's default: no limit). V8 compiles a wasm
/// function when it is first called, and optimises it in the background once it is hot —
/// whole. Without the limit burn's dtype conversion (`TensorData::try_cast`, called for
/// every tensor built from data) took in its two single-caller halves, casts between every
/// pair of dtypes that our f32 tensors never take (125 and 79 kB apart): one 220 kB function,
/// compiled on every visit before the first answer (≈ 23 ms in a trace) and optimised for
/// hundreds of milliseconds of a cold visit's CPU. Side by side, 8 rounds (BENCHMARKS.md):
/// first answer cold 1,429 → 1,289 ms, return 495 → 466 ms (medians).
const PASSES: [&str; 8] = [
    "-O3",
    "--one-caller-inline-max-function-size",
    "1000",
    "--enable-simd",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
];

/// One wasm-opt of a file in place: [`WasmOpt::start`], then [`WasmOpt::finish`].
pub struct WasmOpt {
    /// The file optimised in place.
    wasm: PathBuf,
    /// `$CARGO_TARGET_DIR/wasm-opt/<hash>-<len>.wasm`: the result for this input; `None`
    /// under `HAPSCOPE_NO_WASM_OPT` (the file stays as it is).
    cached: Option<PathBuf>,
    /// Where the running wasm-opt writes, renamed to `cached` when it succeeds; `None` when
    /// nothing runs (a cached result, or `HAPSCOPE_NO_WASM_OPT`).
    running: Option<(Background, PathBuf)>,
}

impl WasmOpt {
    /// Starts optimising `wasm` (binaryen from npm: Debian's is too old and breaks the module)
    /// unless an earlier run left the result for the same bytes and [`PASSES`].
    /// `HAPSCOPE_NO_WASM_OPT=1` skips it while iterating (the page works either way, only
    /// larger and slower).
    pub fn start(wasm: &Path) -> Result<Self> {
        let mut job = WasmOpt {
            wasm: wasm.to_path_buf(),
            cached: None,
            running: None,
        };
        if std::env::var_os("HAPSCOPE_NO_WASM_OPT").is_some() {
            eprintln!("xtask: HAPSCOPE_NO_WASM_OPT is set: the wasm stays unoptimised");
            return Ok(job);
        }
        let bytes = fs::read(wasm).map_err(io(wasm))?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        PASSES.hash(&mut h);
        let key = format!("{:016x}-{}", h.finish(), bytes.len());
        let dir = crate::target_dir().join("wasm-opt");
        let cached = dir.join(format!("{key}.wasm"));
        if cached.exists() {
            eprintln!("xtask: wasm-opt: reusing {}", cached.display());
            job.cached = Some(cached);
            return Ok(job);
        }
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        // Named for its input: two runs at once never share it.
        let tmp = dir.join(format!("{key}.tmp"));
        let log = dir.join(format!("{key}.log"));
        let (wasm_arg, tmp_arg) = (utf8(wasm)?, utf8(&tmp)?);
        let mut args = vec![
            "--max-old-space-size=8000",
            "node_modules/binaryen/bin/wasm-opt",
        ];
        args.extend(PASSES);
        args.extend([wasm_arg, "-o", tmp_arg]);
        let what = format!("wasm-opt of {}", wasm.display());
        job.running = Some((Background::start(&what, "node", &args, false, log)?, tmp));
        job.cached = Some(cached);
        Ok(job)
    }

    /// Waits for the run, keeps its result in the cache and puts it in place of the input.
    pub fn finish(self) -> Result {
        let Some(cached) = self.cached else {
            return Ok(());
        };
        if let Some((run, tmp)) = self.running {
            run.finish()?;
            fs::rename(&tmp, &cached).map_err(io(&cached))?;
        }
        fs::copy(&cached, &self.wasm).map_err(io(&cached))?;
        Ok(())
    }
}

fn utf8(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| format!("non-UTF-8 path {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty module with one exported function that returns its argument plus zero:
    /// something wasm-opt rewrites (`-O3` folds the addition away).
    const MODULE: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type: (i32) -> i32
        0x03, 0x02, 0x01, 0x00, // function 0 has type 0
        0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export "f"
        0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x41, 0x00, 0x6a,
        0x0b, // local.get 0; i32.const 0; i32.add
    ];

    #[test]
    fn a_run_is_cached_and_the_next_one_reuses_it() {
        if !crate::root().join("node_modules/binaryen").exists() {
            // The suite runs `npm ci` before the workspace's tests; a bare `cargo test` may not.
            assert!(
                std::env::var_os("CI").is_none(),
                "binaryen is not installed (npm ci)"
            );
            return;
        }
        let dir = tempfile_dir("wasm-opt");
        let wasm = dir.join("m.wasm");
        fs::write(&wasm, MODULE).unwrap();
        let first = WasmOpt::start(&wasm).unwrap();
        let cached = first.cached.clone().unwrap();
        first.finish().unwrap();
        let optimised = fs::read(&wasm).unwrap();
        assert!(optimised.starts_with(&MODULE[..8]));
        assert!(optimised.len() < MODULE.len(), "{optimised:?}");
        assert_eq!(fs::read(&cached).unwrap(), optimised);

        // The same input again: nothing runs, the cached result is put in place.
        fs::write(&wasm, MODULE).unwrap();
        let again = WasmOpt::start(&wasm).unwrap();
        assert!(again.running.is_none());
        again.finish().unwrap();
        assert_eq!(fs::read(&wasm).unwrap(), optimised);
        fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        d
    }
}
