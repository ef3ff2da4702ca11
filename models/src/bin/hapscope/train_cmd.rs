//! `hapscope train mnist`: trains the LeNet with a progress bar showing loss and accuracy,
//! evaluates it on the test set after every epoch, and saves the weights.
//!
//! The committed weights (`models/weights/mnist-lenet.safetensors`) feed the page bundle,
//! the golden files and the results, so they are guarded: only a run of the paper's recipe
//! defaults to them, and it replaces them only with `--force`. A run that departs from the
//! recipe (`--limit`, other epochs or seed) needs `--out` and never writes them. Every check
//! happens before any data is loaded.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use hapscope_models::train::{TrainConfig, count_correct, train_lenet};
use hapscope_models::weights::{lenet_to_bytes, mnist_lenet_path};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{Model, SplitArg, TrainArgs};
use crate::nets::dataset;

pub fn train(args: &TrainArgs) -> Result<()> {
    if args.model != Model::Mnist {
        anyhow::bail!(
            "only the MNIST network is trained here; ResNet44 uses the original PyTorch weights"
        );
    }
    let cfg = TrainConfig::new()
        .with_epochs(args.epochs)
        .with_seed(args.seed);
    let out = output_path(args, &cfg)?;
    let mut train = dataset(args.model, args.data.as_deref(), SplitArg::Train)?;
    let test = dataset(args.model, args.data.as_deref(), SplitArg::Test)?;
    train.truncate(args.limit.unwrap_or(train.count));
    let n = train.count;
    let device = Device::flex();
    let steps_per_epoch = n.div_ceil(cfg.batch) as u64;
    let bar = ProgressBar::new(steps_per_epoch * cfg.epochs as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "epoch {prefix} [{bar:40}] {pos}/{len} steps {msg} ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    // Running sums of the current epoch: (loss, correct, seen, steps). Shared by the step
    // and epoch callbacks, hence a Cell.
    let sums = std::cell::Cell::new((0.0f64, 0usize, 0usize, 0usize));
    let t0 = std::time::Instant::now();
    let net = train_lenet(
        &train,
        &cfg,
        &device,
        &mut |s| {
            let (mut loss, mut correct, mut seen, mut steps) = sums.get();
            if s.seen == s.batch {
                (loss, correct, seen, steps) = (0.0, 0, 0, 0); // a new epoch
            }
            loss += f64::from(s.loss);
            correct += s.correct;
            seen += s.batch;
            steps += 1;
            sums.set((loss, correct, seen, steps));
            bar.set_prefix(format!("{}/{}", s.epoch, cfg.epochs));
            bar.set_message(format!(
                "loss {:.4} acc {:.4}",
                loss / steps as f64,
                correct as f64 / seen.max(1) as f64
            ));
            bar.inc(1);
        },
        &mut |epoch, net| {
            let k = count_correct(|x| net.forward(x), &test, usize::MAX, &device);
            let (loss, correct, seen, steps) = sums.get();
            // Not `bar.println`: it prints nothing when the bar is hidden (no terminal).
            bar.suspend(|| {
                eprintln!(
                    "epoch {epoch}: train loss {:.4}, train acc {:.4}, test {k}/{} = {:.2} %",
                    loss / steps.max(1) as f64,
                    correct as f64 / seen.max(1) as f64,
                    test.count,
                    100.0 * k as f64 / test.count as f64
                )
            })
        },
    );
    bar.finish_and_clear();
    let k = count_correct(|x| net.forward(x), &test, usize::MAX, &device);
    std::fs::write(&out, lenet_to_bytes(&net)?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "trained {} epochs on {n} digits in {:.0} s; test accuracy {k}/{} = {:.2} %; weights in {}",
        cfg.epochs,
        t0.elapsed().as_secs_f64(),
        test.count,
        100.0 * k as f64 / test.count as f64,
        out.display()
    );
    Ok(())
}

/// Where this run's weights go, refusing (before any work) to default a departure from the
/// paper's recipe to the committed weights, or to replace them without `--force`.
fn output_path(args: &TrainArgs, cfg: &TrainConfig) -> Result<PathBuf> {
    let mut departures = cfg.departures();
    if let Some(n) = args.limit {
        departures.insert(0, format!("limit {n}"));
    }
    let committed = mnist_lenet_path();
    let out = match &args.out {
        Some(out) => out.clone(),
        None if departures.is_empty() => committed.clone(),
        None => bail!(
            "this run departs from the paper's recipe ({}): pass --out FILE for its weights \
             (only the recipe defaults to the committed {})",
            departures.join(", "),
            committed.display()
        ),
    };
    if resolved(&out) == resolved(&committed) {
        if !departures.is_empty() {
            bail!(
                "--out {}: the committed weights come from the paper's recipe only, and this run \
                 departs from it ({})",
                out.display(),
                departures.join(", ")
            );
        }
        if out.exists() && !args.force {
            bail!(
                "{} holds the committed weights (the page bundle, golden files and results \
                 depend on them): pass --force to replace them, or --out FILE",
                out.display()
            );
        }
    }
    match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            bail!("--out {}: no directory {}", out.display(), dir.display())
        }
        _ => Ok(out),
    }
}

/// `path` made absolute with links resolved, as far as it exists (a file not yet written
/// resolves through its directory), so two spellings of one file compare equal.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}
