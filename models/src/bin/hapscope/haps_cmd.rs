//! `hapscope haps`: one layer's raw activations as .npy (float32, flattened per image,
//! before any normalization, rows in dataset order) and the network's answers (int64).

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use hapscope_models::data::npy::{NpyWriter, write_ints};
use hapscope_models::taps;

use crate::args::{HapsArgs, SplitArg};
use crate::nets::{dataset, load, taps};
use crate::progress::rows_bar;

/// Images per forward pass.
const BATCH: usize = 500;

pub fn haps(args: &HapsArgs) -> Result<()> {
    let names = taps(args.model);
    if !names.contains(&args.layer.as_str()) {
        bail!(
            "--layer {}: this network's taps are {}",
            args.layer,
            names.join(", ")
        );
    }
    if args.limit == Some(0) {
        bail!("--limit 0: no images, so nothing to write (give N ≥ 1, or leave --limit out)");
    }
    let device = Device::flex();
    let net = load(args.model, args.weights.as_deref(), &device)?;
    let data = dataset(args.model, args.data.as_deref(), args.split)?;
    let n = args.limit.unwrap_or(data.count).min(data.count);
    if n == 0 {
        let split = match args.split {
            SplitArg::Train => "training",
            SplitArg::Test => "test",
        };
        bail!("the {split} set has no images, so nothing to write");
    }
    let bar = rows_bar(n, &args.layer);
    let mut writer = None;
    let mut answers = Vec::with_capacity(n);
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(BATCH) {
        let (x, _) = data.batch(chunk, &device);
        let taps = net.forward_taps(x);
        let hap = taps.get(&args.layer).context("tap")?.clone();
        let [_, cols] = hap.dims();
        let values = hap
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading activations: {e:?}"))?;
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(
                NpyWriter::create(&args.out, n, cols)
                    .with_context(|| args.out.display().to_string())?,
            ),
        };
        w.write_rows(&values)
            .with_context(|| args.out.display().to_string())?;
        answers.extend(taps::answers(taps.logits).into_iter().map(|a| a as i64));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    // n ≥ 1, so the first batch created the writer.
    let w = writer.context("no activations were written")?;
    w.finish().with_context(|| args.out.display().to_string())?;
    if let Some(path) = &args.answers {
        write_ints(path, &answers).with_context(|| path.display().to_string())?;
    }
    eprintln!("wrote {n} rows of {} to {}", args.layer, args.out.display());
    Ok(())
}
