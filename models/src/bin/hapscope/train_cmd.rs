//! `hapscope train mnist`: trains the LeNet with a progress bar showing loss and accuracy,
//! evaluates it on the test set after every epoch, and saves the weights.

use anyhow::{Context, Result};
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
    let mut train = dataset(args.model, args.data.as_deref(), SplitArg::Train)?;
    let test = dataset(args.model, args.data.as_deref(), SplitArg::Test)?;
    train.truncate(args.limit.unwrap_or(train.count));
    let n = train.count;
    let cfg = TrainConfig::new()
        .with_epochs(args.epochs)
        .with_seed(args.seed);
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
    let out = args.out.clone().unwrap_or_else(mnist_lenet_path);
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
