//! Loads and cross-checks the four input files of `library` and `sweep`, turning every
//! problem into a one-line message that names the file.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use hapscope_models::data::npy::{Matrix, read_ints, read_matrix};

use crate::args::DataArgs;

/// Largest accepted answer + 1 (bounds the link matrix).
const MAX_CLASSES: i64 = 65_536;

/// Validated inputs.
pub struct Inputs {
    pub train: Matrix,
    pub train_answers: Vec<usize>,
    pub test: Matrix,
    pub test_answers: Vec<usize>,
    pub classes: usize,
    pub load_seconds: f64,
}

pub fn matrix(path: &Path) -> Result<Matrix> {
    let m = read_matrix(path).with_context(|| path.display().to_string())?;
    if m.rows == 0 || m.cols == 0 {
        bail!(
            "{}: empty array (shape ({}, {}))",
            path.display(),
            m.rows,
            m.cols
        );
    }
    Ok(m)
}

pub fn answers(path: &Path, rows: usize, haps: &Path) -> Result<Vec<usize>> {
    let v = read_ints(path).with_context(|| path.display().to_string())?;
    if v.len() != rows {
        bail!(
            "{}: {} answers but {} has {} rows",
            path.display(),
            v.len(),
            haps.display(),
            rows
        );
    }
    if let Some((i, &a)) = v
        .iter()
        .enumerate()
        .find(|&(_, &a)| !(0..MAX_CLASSES).contains(&a))
    {
        bail!(
            "{}: answer {a} at index {i} is not a class index in 0..{MAX_CLASSES}",
            path.display()
        );
    }
    Ok(v.into_iter().map(|a| a as usize).collect())
}

/// Reads all four files and checks that they fit together.
pub fn load(args: &DataArgs) -> Result<Inputs> {
    let t0 = Instant::now();
    if args.top_a == 0 {
        bail!("--top must be at least 1");
    }
    let train = matrix(&args.train_haps)?;
    let train_answers = answers(&args.train_answers, train.rows, &args.train_haps)?;
    let test = matrix(&args.test_haps)?;
    if test.cols != train.cols {
        bail!(
            "{}: {} columns but {} has {} (HAPs of different layers?)",
            args.test_haps.display(),
            test.cols,
            args.train_haps.display(),
            train.cols
        );
    }
    let test_answers = answers(&args.test_answers, test.rows, &args.test_haps)?;
    let classes = train_answers
        .iter()
        .chain(&test_answers)
        .max()
        .map_or(1, |&m| m + 1)
        .max(1);
    Ok(Inputs {
        train,
        train_answers,
        test,
        test_answers,
        classes,
        load_seconds: t0.elapsed().as_secs_f64(),
    })
}
