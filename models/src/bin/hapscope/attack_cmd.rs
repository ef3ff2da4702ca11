//! `hapscope attack`: PGD on the first test images, reporting clean accuracy, accuracy
//! under attack and the attack success rate (the share of correctly answered images whose
//! answer the attack changed).

use anyhow::Result;
use burn::prelude::*;
use hapscope_models::nets::lenet::{MNIST_MEAN, MNIST_STD};
use hapscope_models::nets::resnet44::{IMAGENET_MEAN, IMAGENET_STD};
use hapscope_models::pgd::{PgdConfig, PgdSpace, check_eps, try_pgd};

use crate::args::{AttackArgs, Model, SplitArg};
use crate::nets::{dataset, load, load_frozen};
use crate::progress::rows_bar;

const BATCH: usize = 100;

pub fn attack(args: &AttackArgs) -> Result<()> {
    // Before any loading: a bad ε is a usage error (exit 2, one line), never a panic.
    let eps = check_eps(args.eps).map_err(|e| anyhow::anyhow!("--eps: {e}"))?;
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let net = load(args.model, args.weights.as_deref(), &device)?;
    let frozen = load_frozen(args.model, args.weights.as_deref(), &ad)?;
    let data = dataset(args.model, args.data.as_deref(), SplitArg::Test)?;
    let n = args.limit.min(data.count);
    let space = if args.quirk {
        match args.model {
            Model::Mnist => PgdSpace::NormalizedQuirk {
                mean: vec![MNIST_MEAN],
                std: vec![MNIST_STD],
            },
            Model::Resnet => PgdSpace::NormalizedQuirk {
                mean: IMAGENET_MEAN.to_vec(),
                std: IMAGENET_STD.to_vec(),
            },
        }
    } else {
        PgdSpace::Pixel
    };
    let cfg = PgdConfig::new(eps).with_steps(args.steps);
    let (mut clean, mut adv, mut flipped) = (0usize, 0usize, 0usize);
    let bar = rows_bar(n, "PGD");
    let t0 = std::time::Instant::now();
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(BATCH) {
        let (x, y) = data.batch(chunk, &device);
        let x_adv = try_pgd(
            &|p| frozen.forward(p),
            x.clone(),
            y.clone(),
            &cfg,
            &space,
            &ad,
        )?;
        let answer = |t: Tensor<4>| net.forward(t).argmax(1).flatten::<1>(0, 1);
        let (a0, a1) = (answer(x), answer(x_adv));
        let c0 = a0.clone().equal(y.clone());
        clean += c0.clone().int().sum().into_scalar::<i64>() as usize;
        adv += a1.clone().equal(y).int().sum().into_scalar::<i64>() as usize;
        flipped += c0
            .int()
            .mul(a1.not_equal(a0).int())
            .sum()
            .into_scalar::<i64>() as usize;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    println!(
        "PGD-{} ε={} ({}) on {n} test images: clean {clean}/{n}, under attack {adv}/{n}, success rate {:.3} ({flipped}/{clean}); {:.1} s",
        args.steps,
        eps,
        if args.quirk {
            "quirk: normalized inputs clipped to [0,1]"
        } else {
            "pixel space"
        },
        flipped as f64 / clean.max(1) as f64,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
