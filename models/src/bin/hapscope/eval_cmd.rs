//! `hapscope eval mnist|resnet [--limit N]`: prints `correct: K/N` on the test set.

use anyhow::Result;
use burn::prelude::*;
use hapscope_models::train::count_correct;

use crate::args::{EvalArgs, SplitArg};
use crate::nets::{dataset, load};

pub fn eval(args: &EvalArgs) -> Result<()> {
    let device = Device::flex();
    let net = load(args.model, args.weights.as_deref(), &device)?;
    let test = dataset(args.model, args.data.as_deref(), SplitArg::Test)?;
    let n = args.limit.unwrap_or(test.count).min(test.count);
    let k = count_correct(|x| net.forward(x), &test, n, &device);
    println!("correct: {k}/{n}");
    Ok(())
}
