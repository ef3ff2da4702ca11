//! binaryen's wasm-opt on the page's engines: cached by the input's hash, and startable in the
//! background — it is one thread (binaryen's JS build) for minutes, so the suite runs the CPU
//! engine's beside its next builds ([`crate::dist::dist_for_tests`]).

use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use crate::Result;
use crate::background::Background;
use crate::dist::io;

/// One wasm-opt of a file in place: [`WasmOpt::start`], then [`WasmOpt::finish`].
pub struct WasmOpt {
    /// The file optimised in place.
    wasm: PathBuf,
    /// `$CARGO_TARGET_DIR/wasm-opt/<hash>-<len>.wasm`: the result for this input.
    cached: PathBuf,
    /// Where the running wasm-opt writes, renamed to `cached` when it succeeds; `None` when
    /// nothing runs (a cached result, or `HAPSCOPE_NO_WASM_OPT`).
    running: Option<(Background, PathBuf)>,
    /// `HAPSCOPE_NO_WASM_OPT` was set: the file stays as it is.
    skipped: bool,
}

impl WasmOpt {
    /// Starts optimising `wasm` (binaryen from npm: Debian's is too old and breaks the module)
    /// unless an earlier run left the result for the same bytes. `HAPSCOPE_NO_WASM_OPT=1`
    /// skips it while iterating (the page works either way, only larger and slower).
    pub fn start(wasm: &Path) -> Result<Self> {
        let mut job = WasmOpt {
            wasm: wasm.to_path_buf(),
            cached: PathBuf::new(),
            running: None,
            skipped: std::env::var_os("HAPSCOPE_NO_WASM_OPT").is_some(),
        };
        if job.skipped {
            eprintln!("xtask: HAPSCOPE_NO_WASM_OPT is set: the wasm stays unoptimised");
            return Ok(job);
        }
        let bytes = fs::read(wasm).map_err(io(wasm))?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        let key = format!("{:016x}-{}", h.finish(), bytes.len());
        let dir = crate::target_dir().join("wasm-opt");
        job.cached = dir.join(format!("{key}.wasm"));
        if job.cached.exists() {
            eprintln!("xtask: wasm-opt: reusing {}", job.cached.display());
            return Ok(job);
        }
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        // Named for its input: two runs at once never share it.
        let tmp = dir.join(format!("{key}.tmp"));
        let log = dir.join(format!("{key}.log"));
        let (wasm_arg, tmp_arg) = (utf8(wasm)?, utf8(&tmp)?);
        let args = [
            "--max-old-space-size=8000",
            "node_modules/binaryen/bin/wasm-opt",
            "-O3",
            "--enable-simd",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            wasm_arg,
            "-o",
            tmp_arg,
        ];
        let what = format!("wasm-opt of {}", wasm.display());
        job.running = Some((Background::start(&what, "node", &args, false, log)?, tmp));
        Ok(job)
    }

    /// Waits for the run, keeps its result in the cache and puts it in place of the input.
    pub fn finish(mut self) -> Result {
        if self.skipped {
            return Ok(());
        }
        if let Some((run, tmp)) = self.running.take() {
            run.finish()?;
            fs::rename(&tmp, &self.cached).map_err(io(&self.cached))?;
        }
        fs::copy(&self.cached, &self.wasm).map_err(io(&self.cached))?;
        Ok(())
    }
}

fn utf8(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| format!("non-UTF-8 path {}", p.display()))
}
