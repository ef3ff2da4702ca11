//! The page's tests and budgets: wasm-bindgen tests of the web crate in headless Chromium
//! (both backends), the end-to-end test of the built page, the endurance run and the page
//! benchmark.

use std::io::Read;
use std::process::Command;

use crate::dist::ON_REQUEST;
use crate::{Result, root, run_env, serve, target_dir};

/// Runs `hapscope-web`'s wasm-bindgen tests in headless Chromium (flags: `web/webdriver.json`),
/// on the WebGPU engine's build (both backends), once `runner` is installed.
pub fn wasm_tests(runner: crate::dist::TestRunner) -> Result {
    runner.finish()?;
    run_env(
        "cargo",
        &[
            "test",
            "--profile",
            crate::dist::WASM_PROFILE,
            "--package",
            "hapscope-web",
            "--features",
            "webgpu",
            "--target",
            "wasm32-unknown-unknown",
        ],
        &[
            (
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            ),
            ("CHROMEDRIVER", "/usr/bin/chromedriver"),
            // A guard against a hung browser, not a budget: the whole file's run (PGD on
            // both backends, WebGPU on SwiftShader) passed 300 s on a slower 2-core machine.
            ("WASM_BINDGEN_TEST_TIMEOUT", "1200"),
        ]
        .iter()
        .chain(crate::lint_env())
        .copied()
        .collect::<Vec<_>>(),
    )
}

/// Serves `dist/` on a free port and runs a node script against it.
fn node_against_dist(script: &str, args: &[&str], capture: bool) -> Result<String> {
    let addr = serve::start(root().join("dist"), 0).map_err(|e| format!("serving dist/: {e}"))?;
    let url = format!("http://{addr}");
    let out_dir = target_dir().join("e2e");
    eprintln!("xtask: $ node {script}  (HAPSCOPE_URL={url})");
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .args(args)
        .current_dir(root())
        .env("HAPSCOPE_URL", &url)
        .env("HAPSCOPE_E2E_OUT", &out_dir);
    // The scripts read the data sets where the CLI and the Rust tests find them.
    if let Some(data) = crate::data_dir() {
        cmd.env(crate::locate::DATA_ENV, data);
    }
    if capture {
        let out = cmd
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("could not start node: {e}"))?;
        if !out.status.success() {
            return Err(format!("node {script} failed ({})", out.status));
        }
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let status = cmd
        .status()
        .map_err(|e| format!("could not start node: {e}"))?;
    if !status.success() {
        return Err(format!("node {script} failed ({status})"));
    }
    Ok(String::new())
}

/// The end-to-end test of the built page (`dist/` must exist).
pub fn end_to_end() -> Result {
    crate::install()?;
    node_against_dist("tests/e2e/page.test.mjs", &[], false)?;
    eprintln!(
        "xtask: screenshots page.png, attack.png (and cifar.png with the CIFAR-10 mode) in {}",
        target_dir().join("e2e").display()
    );
    Ok(())
}

/// `analyses` analyses in a row on the built page (CPU backend), with the page's JS heap
/// and the worker's wasm memory sampled every tenth of the way, printed as a table; fails
/// if memory grows past the bound in tests/e2e/endurance.mjs.
pub fn endurance(analyses: &str) -> Result {
    let n: u32 = analyses
        .parse()
        .map_err(|_| format!("endurance: '{analyses}' is not a number of analyses"))?;
    crate::install()?;
    node_against_dist("tests/e2e/endurance.mjs", &[&n.to_string()], false).map(drop)
}

fn gz_len(bytes: &[u8]) -> usize {
    use flate2::Compression;
    use flate2::read::GzEncoder;
    let mut out = Vec::new();
    GzEncoder::new(bytes, Compression::best())
        .read_to_end(&mut out)
        .map(|_| out.len())
        .unwrap_or(0)
}

/// What each of [`crate::dist::ON_REQUEST`] is, for the transfer table.
const ON_REQUEST_WHAT: [&str; 2] = [
    "CIFAR-10 mode, downloaded only when opened (weights, exemplars)",
    "WebGPU engine, downloaded only when a visitor asks for WebGPU",
];

/// Prints the page's budgets as a Markdown table (builds `dist/` first).
pub fn bench() -> Result {
    crate::install()?;
    crate::dist::dist()?;
    let dist = root().join("dist");
    let mut rows = Vec::new();
    let (mut raw_total, mut gz_total) = (0usize, 0usize);
    // Downloaded only when a visitor asks for them: (raw, gzipped, files) per part.
    let mut optional = [(0usize, 0usize, 0usize); ON_REQUEST.len()];
    let mut stack = vec![dist.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let p = e.map_err(|e| e.to_string())?.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let gz = gz_len(&bytes);
            if let Some(k) = ON_REQUEST.iter().position(|d| p.starts_with(dist.join(d))) {
                optional[k].0 += bytes.len();
                optional[k].1 += gz;
                optional[k].2 += 1;
                continue;
            }
            raw_total += bytes.len();
            gz_total += gz;
            rows.push((
                p.strip_prefix(&dist).unwrap_or(&p).display().to_string(),
                bytes.len(),
                gz,
            ));
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.2));
    let runs: Vec<String> = (0..BENCH_RUNS)
        .map(|_| node_against_dist("tests/e2e/bench.mjs", &[], true))
        .collect::<Result<_>>()?;
    let mb = |b: usize| b as f64 / 1e6;
    println!("## Transfer (dist/, gzip -9 as a static host serves it)\n");
    println!("| file | bytes | gzipped |\n|---|---:|---:|");
    for (name, raw, gz) in rows.iter().take(8) {
        println!("| {name} | {raw} | {gz} |");
    }
    println!(
        "| **total ({} files)** | **{:.2} MB** | **{:.2} MB** (budget 5 MB) |\n",
        rows.len(),
        mb(raw_total),
        mb(gz_total)
    );
    for ((dir, what), (raw, gz, files)) in ON_REQUEST.iter().zip(ON_REQUEST_WHAT).zip(optional) {
        if files > 0 {
            println!(
                "{what} ({dir}/, {files} files): {:.2} MB, {:.2} MB gzipped.\n",
                mb(raw),
                mb(gz)
            );
        }
    }
    println!("## Timings, headless Chromium on this machine\n");
    println!("{}", timing_table(&runs)?);
    Ok(())
}

/// Runs of `tests/e2e/bench.mjs` whose medians and spread `bench-page` reports.
const BENCH_RUNS: usize = 3;

/// `median (min–max)` of `v` with `digits` decimals (just the value for one run).
fn spread(v: &mut [f64], digits: usize) -> String {
    v.sort_by(f64::total_cmp);
    let m = v[v.len() / 2];
    if v.len() == 1 {
        return format!("{m:.digits$}");
    }
    format!(
        "{m:.digits$} ({:.digits$}–{:.digits$})",
        v[0],
        v[v.len() - 1]
    )
}

/// Formats bench.mjs's JSON outputs (each `{cpu: {...}, "cpu-return": {...}, webgpu: …}`)
/// as Markdown tables: per backend the median and range over the runs of each budget, then
/// where a cold load's time goes.
fn timing_table(runs: &[String]) -> Result<String> {
    let vs: Vec<serde_json::Value> = runs
        .iter()
        .map(|j| {
            serde_json::from_str(j).map_err(|e| format!("bench output is not JSON ({e}): {j}"))
        })
        .collect::<Result<_>>()?;
    let first = vs.first().ok_or("no bench runs")?;
    let mut t = format!(
        "Median (min–max) of {} runs, ms. First answers by the page's clock (from the start of the navigation) and by the benchmark's (from opening the tab, DevTools round trips included).\n\n| backend | load (libraries built) | first answer, page clock | first answer, with the tab | return visit, page clock | return visit, with the tab | `analyze` median | PGD-40, one image |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        vs.len()
    );
    let mut phases = String::from(
        "\n| cold load, where the time goes (ms) | download and compile | exemplar passes | libraries and detectors |\n|---|---:|---:|---:|\n",
    );
    let rows = [
        ("cpu", "CPU (burn-flex, wasm SIMD128)"),
        ("webgpu", "WebGPU — SwiftShader, a software GPU"),
        (
            "cifar-cpu",
            "CIFAR-10 mode (ResNet44), CPU — PGD at ε 8/255",
        ),
    ];
    for (key, label) in rows {
        // The CIFAR-10 mode is there only where the build found ../shared.
        if key == "cifar-cpu" && first.get(key).is_none() {
            continue;
        }
        let all = |k: &str, path: &[&str]| -> Result<Vec<f64>> {
            vs.iter()
                .map(|v| {
                    path.iter()
                        .fold(&v[k], |x, p| &x[*p])
                        .as_f64()
                        .ok_or(format!("bench output lacks {k}.{}: {v}", path.join(".")))
                })
                .collect()
        };
        let return_key = format!("{key}-return");
        t.push_str(&format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} |\n",
            spread(&mut all(key, &["loadMs"])?, 0),
            spread(&mut all(key, &["pageFirstAnswerMs"])?, 0),
            spread(&mut all(key, &["firstAnswerMs"])?, 0),
            spread(&mut all(&return_key, &["pageFirstAnswerMs"])?, 0),
            spread(&mut all(&return_key, &["firstAnswerMs"])?, 0),
            spread(&mut all(key, &["analyzeMedianMs"])?, 1),
            spread(&mut all(key, &["pgdMedianMs"])?, 0),
        ));
        phases.push_str(&format!(
            "| {label} | {} | {} | {} |\n",
            spread(&mut all(key, &["phases", "downloadAndCompileMs"])?, 0),
            spread(&mut all(key, &["phases", "exemplarHapsMs"])?, 0),
            spread(&mut all(key, &["phases", "librariesMs"])?, 0),
        ));
    }
    Ok(t + &phases)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timing_table_reads_both_backends_and_takes_medians() {
        let run = |cpu: f64| {
            format!(
                r#"{{"cpu":{{"loadMs":{cpu},"firstAnswerMs":2592,"pageFirstAnswerMs":2400,"analyzeMedianMs":11.34,"pgdMedianMs":198.4,"phases":{{"downloadAndCompileMs":600,"exemplarHapsMs":900,"librariesMs":300}}}},"cpu-return":{{"firstAnswerMs":420,"pageFirstAnswerMs":380}},"webgpu":{{"loadMs":1852,"firstAnswerMs":3480,"pageFirstAnswerMs":3300,"analyzeMedianMs":149.3,"pgdMedianMs":9844,"phases":{{"downloadAndCompileMs":1,"exemplarHapsMs":2,"librariesMs":3}}}},"webgpu-return":{{"firstAnswerMs":900,"pageFirstAnswerMs":850}}}}"#
            )
        };
        let t = super::timing_table(&[run(1964.2), run(2100.0), run(1800.0)]).unwrap();
        assert!(
            t.contains("| CPU (burn-flex, wasm SIMD128) | 1964 (1800–2100) | 2400 (2400–2400) | 2592 (2592–2592) | 380 (380–380) | 420 (420–420) | 11.3 (11.3–11.3) | 198 (198–198) |"),
            "{t}"
        );
        assert!(
            t.contains("| 600 (600–600) | 900 (900–900) | 300 (300–300) |"),
            "{t}"
        );
        assert!(t.starts_with("Median (min–max) of 3 runs"), "{t}");
        assert!(!t.contains("CIFAR-10"), "{t}");
        let one = super::timing_table(&[run(1964.2)]).unwrap();
        assert!(
            one.contains("| 1964 | 2400 | 2592 | 380 | 420 | 11.3 | 198 |"),
            "{one}"
        );
        assert!(super::timing_table(&[r#"{"cpu":{}}"#.to_string()]).is_err());
        assert!(super::timing_table(&[]).is_err());
    }
}
