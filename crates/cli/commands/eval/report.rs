//! `tarjoman eval report`: compare systems on one test set with confidence
//! intervals and significance tests, as Markdown and a self-contained HTML
//! page.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use tarjoman_eval::bootstrap::BootstrapConfig;
use tarjoman_eval::report::{Report, ReportOptions, SystemOutput};
use tarjoman_eval::{check_aligned, read_lines};

use super::args::{file_label, NamedFile, ReportArgs};
use crate::input::AtomicOutput;

/// The per-line confidence `eval run` recorded beside a system's
/// `hyp.txt` (in `lines.jsonl`), if it did, for every line.
fn run_confidence(hyp: &Path) -> Result<Option<Vec<f64>>> {
    let Some(lines) = hyp.parent().map(|d| d.join("lines.jsonl")) else {
        return Ok(None);
    };
    if hyp.file_name() != Some("hyp.txt".as_ref()) || !lines.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&lines)
        .with_context(|| format!("cannot read {}", lines.display()))?;
    let mut values = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{} line {}: not a JSON object", lines.display(), i + 1))?;
        match record["confidence"].as_f64() {
            Some(c) => values.push(c),
            None => return Ok(None),
        }
    }
    Ok(Some(values))
}

pub(super) fn run_report(args: ReportArgs) -> Result<ExitCode> {
    let refs = read_lines(&args.reference)?;
    let mut names = HashSet::new();
    let mut systems = Vec::with_capacity(args.systems.len());
    for NamedFile { name, path } in &args.systems {
        if !names.insert(name.as_str()) {
            bail!("two systems are named {name:?}; name them with --sys NAME=FILE");
        }
        let hyps = read_lines(path)?;
        check_aligned(path, hyps.len(), &args.reference, refs.len())?;
        systems.push(SystemOutput {
            name: name.clone(),
            hyps,
        });
    }
    let source = match &args.src {
        Some(path) => {
            let lines = read_lines(path)?;
            if lines.len() != refs.len() {
                bail!(
                    "{} has {} lines but {} has {}: the source and the reference must be \
                     aligned line by line",
                    path.display(),
                    lines.len(),
                    args.reference.display(),
                    refs.len()
                );
            }
            Some(lines)
        }
        None => None,
    };
    let options = ReportOptions {
        title: args.title.clone(),
        reference_label: file_label(&args.reference),
        source_label: args.src.as_deref().map(file_label),
        bootstrap: BootstrapConfig {
            samples: args.samples,
            seed: args.seed,
        },
        worst_lines: args.worst,
        summaries: args.summaries,
    };
    eprintln!(
        "scoring {} systems on {} lines ({} bootstrap resamples)...",
        systems.len(),
        refs.len(),
        args.samples
    );
    let mut report = Report::build(&systems, &[refs], source.as_deref(), &options)?;
    for (s, NamedFile { path, .. }) in args.systems.iter().enumerate() {
        if let Some(values) = run_confidence(path)? {
            report.set_confidence(s, values)?;
        }
    }

    let mut html = AtomicOutput::create(&args.output)?;
    html.writer()
        .write_all(report.html().as_bytes())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    html.commit()?;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(report.markdown().as_bytes())?;
    out.flush()?;
    eprintln!("wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
