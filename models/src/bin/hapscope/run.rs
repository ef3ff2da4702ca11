//! A θ grid (one θ or many), end to end on in-memory HAPs: the grid pass builds every
//! library, links the union of their nodes once and predicts the test answers at every θ
//! (`hapscope_models::grid`) — timing each stage and showing progress.

use std::time::Instant;

use anyhow::Result;
use hapscope_core::hebbian::Links;
use hapscope_core::library::Library;
use hapscope_models::grid::{GridBuilder, GridLinkBuilder, GridPredictor, GridStats};
use hapscope_models::kernel::GemmKernel;
use hapscope_models::method::{Agreement, STEP, agreement};

use crate::args::DataArgs;
use crate::inputs::Inputs;
use crate::progress::rows_bar;

/// Everything a grid produced: per θ, the library, its links and its agreement.
pub struct GridRun {
    pub libraries: Vec<Library>,
    pub links: Vec<Links>,
    pub agreements: Vec<Agreement>,
    pub stats: GridStats,
    /// Distinct nodes over the grid.
    pub union: usize,
    /// (row, node) pairs whose similarity the links computed in full.
    pub link_pairs: u64,
    pub build_seconds: f64,
    pub links_seconds: f64,
    pub predict_seconds: f64,
}

pub fn run(inputs: &Inputs, thetas: &[f32], args: &DataArgs) -> Result<GridRun> {
    let kernel = GemmKernel::new(args.threads);
    let (train, test) = (&inputs.train, &inputs.test);
    let dim = train.cols;
    let tag = match thetas {
        [t] => format!("θ={t:.3}"),
        _ => format!("{} θ", thetas.len()),
    };

    let t = Instant::now();
    let bar = rows_bar(train.rows, &format!("{tag} build"));
    let mut builder = GridBuilder::new(dim, thetas, kernel, !args.no_screen)?;
    for chunk in train.data.chunks(STEP * dim) {
        builder.push(chunk)?;
        bar.inc((chunk.len() / dim) as u64);
    }
    let (layer, stats) = builder.finish()?;
    bar.finish_and_clear();
    let build_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let bar = rows_bar(train.rows, &format!("{tag} links"));
    let mut linker = GridLinkBuilder::new(&layer, inputs.classes, kernel)?;
    for (chunk, ans) in train
        .data
        .chunks(STEP * dim)
        .zip(inputs.train_answers.chunks(STEP))
    {
        linker.add(chunk, ans)?;
        bar.inc((chunk.len() / dim) as u64);
    }
    linker.flush();
    let link_pairs = linker.pairs();
    let links = linker.finish()?;
    bar.finish_and_clear();
    let links_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let bar = rows_bar(test.rows, &format!("{tag} predict"));
    let predictor = GridPredictor::new(&layer, &links, args.top_a, kernel)?;
    let classes = inputs.classes;
    let mut scores: Vec<Vec<f32>> = vec![Vec::with_capacity(test.rows * classes); thetas.len()];
    for chunk in test.data.chunks(STEP * dim) {
        for (all, part) in scores.iter_mut().zip(predictor.scores(chunk)?) {
            all.extend_from_slice(&part);
        }
        bar.inc((chunk.len() / dim) as u64);
    }
    bar.finish_and_clear();
    let agreements = scores
        .iter()
        .map(|s| agreement(s, classes, &inputs.test_answers))
        .collect();
    let predict_seconds = t.elapsed().as_secs_f64();

    Ok(GridRun {
        libraries: layer.libraries()?,
        links,
        agreements,
        stats,
        union: layer.union_len(),
        link_pairs,
        build_seconds,
        links_seconds,
        predict_seconds,
    })
}
