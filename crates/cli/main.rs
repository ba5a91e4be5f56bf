//! `tarjoman`: translate and summarize Persian news on your own machine.
//!
//! The binary is thin: argument parsing (clap), progress bars (indicatif) and
//! error reporting (anyhow) live here; the work happens in the library crates.

mod args;
mod commands;
mod input;
mod memory;
mod model;
mod progress;
mod threads;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Translate Persian news into English and summarize it, with open models
/// running locally through candle.
///
/// Models are fetched on first use (with a progress bar) into `models/` of the
/// checkout that built this binary, or into $TARJOMAN_HOME, or the user cache
/// directory. Results go to stdout; progress and logs go to stderr.
#[derive(Debug, Parser)]
#[command(name = "tarjoman", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Translate(commands::translate::Args),
    Summarize(commands::summarize::Args),
    Models(commands::models::Args),
    Manifest(commands::manifest::Args),
    Eval(commands::eval::Args),
    Bench(commands::bench::Args),
    Serve(commands::serve::Args),
}

fn main() -> ExitCode {
    memory::keep_freed_memory();
    threads::pin();
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Translate(args) => commands::translate::run(args),
        Command::Summarize(args) => commands::summarize::run(args),
        Command::Models(args) => commands::models::run(args),
        Command::Manifest(args) => commands::manifest::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Serve(args) => commands::serve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (for example
/// `RUST_LOG=tarjoman_engine=debug` shows each prefill and finished
/// generation); by default only warnings.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing::level_filters::LevelFilter::WARN.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// A closed stdout (`tarjoman translate x | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
