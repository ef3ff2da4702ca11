//! The `hapscope` command-line tool.
//!
//! Exit status: 0 success; 2 usage, input or I/O error (one line on stderr naming the file
//! and the problem). Results go to stdout, progress bars to stderr.

mod args;
mod attack_cmd;
mod detect_cmd;
mod eval_cmd;
mod haps_cmd;
mod inputs;
mod library_cmd;
mod nets;
mod page_cmd;
mod plot;
mod predict_cmd;
mod progress;
mod reproduce_cmd;
mod run;
mod sweep;
mod train_cmd;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Library(a) => library_cmd::library(a),
        Command::Sweep(a) => sweep::sweep(a),
        Command::Predict(a) => predict_cmd::predict(a),
        Command::Train(a) => train_cmd::train(a),
        Command::Eval(a) => eval_cmd::eval(a),
        Command::Haps(a) => haps_cmd::haps(a),
        Command::Attack(a) => attack_cmd::attack(a),
        Command::Reproduce(a) => reproduce_cmd::reproduce(a),
        Command::Detect(a) => detect_cmd::detect(a),
        Command::Page(a) => page_cmd::page(a),
        Command::PageCifar(a) => page_cmd::page_cifar(a),
        Command::PageGolden(a) => page_cmd::golden(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line: "T.npy: truncated: …".
            eprintln!("hapscope: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
