//! `tarjoman manifest`: tools for the `manifest.jsonl` of folder runs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use tarjoman_batch::manifest;

/// Work with the manifests that `tarjoman summarize DIR` writes.
///
/// Examples:
///
///   tarjoman manifest merge out/manifest.shard-*.jsonl -o out/manifest.jsonl
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Merge(MergeArgs),
}

/// Combine shard manifests into one, one record per input, sorted by path.
///
/// A path found in several manifests keeps its latest record. Torn last
/// lines and corrupt lines are left out (and counted on stderr).
#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// The manifests to merge.
    #[arg(required = true, value_name = "MANIFEST")]
    inputs: Vec<PathBuf>,

    /// Write the merged manifest here (atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Merge(args) => merge(args),
    }
}

fn merge(args: MergeArgs) -> Result<ExitCode> {
    if let Some(out) = &args.output {
        if args.inputs.contains(out) {
            // Allowed: the inputs are read before the output is replaced.
            eprintln!("note: {} is both an input and the output", out.display());
        }
    }
    let (records, report) = manifest::merge(&args.inputs)?;
    match &args.output {
        Some(out) => manifest::rewrite(out, &records)?,
        None => {
            let stdout = std::io::stdout();
            let mut stdout = stdout.lock();
            for record in &records {
                stdout.write_all(&manifest::to_line(record)?)?;
            }
            stdout.flush()?;
        }
    }
    let count = |status| records.iter().filter(|r| r.status == status).count();
    eprintln!(
        "merged {} manifests: {} records ({} ok, {} failed, {} skipped){}{}{}",
        args.inputs.len(),
        records.len(),
        count(manifest::Status::Ok),
        count(manifest::Status::Failed),
        count(manifest::Status::Skipped),
        match report.duplicates.len() {
            0 => String::new(),
            n => format!("; {n} paths in more than one manifest, the latest record kept"),
        },
        match report.bad_lines {
            0 => String::new(),
            n => format!("; {n} corrupt lines left out"),
        },
        match report.torn.len() {
            0 => String::new(),
            n => format!("; {n} manifests ended in a torn line, left out"),
        },
    );
    if records.is_empty() {
        bail!("no records in {} manifests", args.inputs.len());
    }
    Ok(ExitCode::SUCCESS)
}
