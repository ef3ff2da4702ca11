//! One θ, end to end: build the library, link it, predict the test answers — timing each
//! stage and showing progress.

use std::time::Instant;

use anyhow::Result;
use hapscope_core::hebbian::Links;
use hapscope_core::library::{BuildStats, Library};
use hapscope_core::predict::Predictor;
use hapscope_models::kernel::GemmKernel;
use hapscope_models::method::{Agreement, agreement, build_library, hebbian_links, predict_scores};

use crate::args::DataArgs;
use crate::inputs::Inputs;
use crate::progress::rows_bar;

/// Everything one θ produced.
pub struct LayerRun {
    pub library: Library,
    pub links: Links,
    pub stats: BuildStats,
    pub agreement: Agreement,
    pub build_seconds: f64,
    pub links_seconds: f64,
    pub predict_seconds: f64,
}

pub fn run(inputs: &Inputs, theta: f32, args: &DataArgs) -> Result<LayerRun> {
    let (top_a, threads) = (args.top_a, args.threads);
    let kernel = GemmKernel::new(threads);
    let (train, test) = (&inputs.train, &inputs.test);
    let tag = format!("θ={theta:.3}");

    let t = Instant::now();
    let bar = rows_bar(train.rows, &format!("{tag} build"));
    let (library, stats) = build_library(
        &train.data,
        train.cols,
        theta,
        kernel,
        !args.no_screen,
        &mut |n| bar.inc(n as u64),
    )?;
    bar.finish_and_clear();
    let build_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let bar = rows_bar(train.rows, &format!("{tag} links"));
    let links = hebbian_links(
        &library,
        &train.data,
        &inputs.train_answers,
        inputs.classes,
        &kernel,
        &mut |n| bar.inc(n as u64),
    )?;
    bar.finish_and_clear();
    let links_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let bar = rows_bar(test.rows, &format!("{tag} predict"));
    let predictor = Predictor::new(&library, &links, top_a)?;
    let scores = predict_scores(&predictor, &test.data, test.cols, &kernel, &mut |n| {
        bar.inc(n as u64)
    })?;
    bar.finish_and_clear();
    let agreement = agreement(&scores, inputs.classes, &inputs.test_answers);
    let predict_seconds = t.elapsed().as_secs_f64();

    Ok(LayerRun {
        library,
        links,
        stats,
        agreement,
        build_seconds,
        links_seconds,
        predict_seconds,
    })
}
