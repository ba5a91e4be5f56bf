//! `tarjoman summarize`: a short English summary of a Persian or English
//! article (`file`), or of every article in a folder (`dir`); the options
//! of both are in `args`.

mod args;
mod dir;
mod file;
mod models;

use std::process::ExitCode;

use anyhow::Result;

pub use args::Args;

pub fn run(args: Args) -> Result<ExitCode> {
    if args.input.is_dir() {
        dir::run(args)
    } else {
        file::run(args)
    }
}
