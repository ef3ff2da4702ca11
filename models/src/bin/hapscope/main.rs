//! The `hapscope` command-line tool.
//!
//! Exit status: 0 success; 2 usage, input or I/O error (one line on stderr naming the file
//! and the problem). Results go to stdout, progress bars to stderr.

mod args;
mod inputs;
mod library_cmd;
mod plot;
mod progress;
mod run;
mod sweep;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Library(a) => library_cmd::library(a),
        Command::Sweep(a) => sweep::sweep(a),
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
