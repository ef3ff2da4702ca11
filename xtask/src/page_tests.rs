//! The page's tests and budgets: wasm-bindgen tests of the web crate in headless Chromium
//! (both backends), the end-to-end test of the built page, the endurance run and the page
//! benchmark.

use std::io::Read;
use std::process::Command;

use crate::{Result, root, run_env, serve, target_dir};

/// Runs `hapscope-web`'s wasm-bindgen tests in headless Chromium (flags: `web/webdriver.json`).
pub fn wasm_tests() -> Result {
    run_env(
        "cargo",
        &[
            "test",
            "--release",
            "--package",
            "hapscope-web",
            "--target",
            "wasm32-unknown-unknown",
        ],
        &[
            (
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            ),
            ("CHROMEDRIVER", "/usr/bin/chromedriver"),
            ("WASM_BINDGEN_TEST_TIMEOUT", "300"),
        ],
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

/// Prints the page's budgets as a Markdown table (builds `dist/` first).
pub fn bench() -> Result {
    crate::dist::dist()?;
    let dist = root().join("dist");
    let mut rows = Vec::new();
    let (mut raw_total, mut gz_total) = (0usize, 0usize);
    // The CIFAR-10 mode's files are downloaded only when a visitor opens that mode.
    let (mut cifar_raw, mut cifar_gz, mut cifar_files) = (0usize, 0usize, 0usize);
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
            if p.starts_with(dist.join("model-cifar")) {
                cifar_raw += bytes.len();
                cifar_gz += gz;
                cifar_files += 1;
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
    let json = node_against_dist("tests/e2e/bench.mjs", &[], true)?;
    let mb = |b: usize| b as f64 / 1e6;
    println!("## Transfer (dist/, gzip -9 as a static host serves it)\n");
    println!("| file | bytes | gzipped |\n|---|---:|---:|");
    for (name, raw, gz) in rows.iter().take(8) {
        println!("| {name} | {raw} | {gz} |");
    }
    println!(
        "| **total ({} files)** | **{:.2} MB** | **{:.2} MB** (budget 10 MB) |\n",
        rows.len(),
        mb(raw_total),
        mb(gz_total)
    );
    if cifar_files > 0 {
        println!(
            "CIFAR-10 mode, downloaded only when opened (model-cifar/, {cifar_files} files: node vectors, weights, exemplars): {:.2} MB, {:.2} MB gzipped.\n",
            mb(cifar_raw),
            mb(cifar_gz)
        );
    }
    println!("## Timings, headless Chromium on this machine\n");
    println!("{}", timing_table(&json)?);
    Ok(())
}

/// Formats bench.mjs's JSON (`{cpu: {...}, webgpu: {...}}`) as a Markdown table.
fn timing_table(json: &str) -> Result<String> {
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| format!("bench output is not JSON ({e}): {json}"))?;
    let mut t = String::from(
        "| backend | load (libraries built) | first answer after navigation (budget 3 s) | `analyze` median (budget 20 ms) | PGD-40, one digit (budget 1 s) |\n|---|---:|---:|---:|---:|\n",
    );
    for (key, label) in [
        ("cpu", "CPU (burn-flex, wasm SIMD128)"),
        ("webgpu", "WebGPU — SwiftShader, a software GPU"),
        (
            "cifar-cpu",
            "CIFAR-10 mode (ResNet44), CPU — PGD at ε 8/255",
        ),
    ] {
        // The CIFAR-10 mode is there only where the build found ../shared.
        if key == "cifar-cpu" && v.get(key).is_none() {
            continue;
        }
        let num = |k: &str| {
            v[key][k]
                .as_f64()
                .ok_or(format!("bench output lacks {key}.{k}: {json}"))
        };
        t.push_str(&format!(
            "| {label} | {:.0} ms | {:.0} ms | {:.1} ms | {:.0} ms |\n",
            num("loadMs")?,
            num("firstAnswerMs")?,
            num("analyzeMedianMs")?,
            num("pgdMedianMs")?
        ));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timing_table_reads_both_backends() {
        let json = r#"{"cpu":{"backend":"cpu","loadMs":1964.2,"firstAnswerMs":2592,"analyzeMedianMs":11.34,"pgdMedianMs":198.4},"webgpu":{"backend":"webgpu","loadMs":1852,"firstAnswerMs":3480,"analyzeMedianMs":149.3,"pgdMedianMs":9844}}"#;
        let t = super::timing_table(json).unwrap();
        assert!(
            t.contains("| CPU (burn-flex, wasm SIMD128) | 1964 ms | 2592 ms | 11.3 ms | 198 ms |"),
            "{t}"
        );
        assert!(
            t.contains("| 1852 ms | 3480 ms | 149.3 ms | 9844 ms |"),
            "{t}"
        );
        assert!(!t.contains("CIFAR-10"), "{t}");
        assert!(super::timing_table(r#"{"cpu":{}}"#).is_err());
        let with_cifar = json.replace(
            "}}",
            r#"},"cifar-cpu":{"loadMs":1600,"firstAnswerMs":2100,"analyzeMedianMs":115.2,"pgdMedianMs":2400}}"#,
        );
        let t = super::timing_table(&with_cifar).unwrap();
        assert!(
            t.contains("CPU — PGD at ε 8/255 | 1600 ms | 2100 ms | 115.2 ms | 2400 ms |"),
            "{t}"
        );
    }
}
