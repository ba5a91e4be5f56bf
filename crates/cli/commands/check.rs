//! `tarjoman check`: how far to trust a translation made elsewhere, line by
//! line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;
use tarjoman_engine::confidence::Calibration;

use crate::args::{ModelArgs, TranslationArgs};
use crate::input::{read_document, require_persian};

/// Say how far to trust an English translation of a Persian text, line by
/// line: a person's draft, another system's output, or an edited tarjoman
/// translation.
///
/// SOURCE and TRANSLATION are aligned by line (blank lines on both sides
/// are kept blank). Each line gets the confidence `translate --json`
/// reports for its own sentences, from the same signals: how probable the
/// model finds the translation's words after the line's prompt, the
/// length, the numbers and names carried over, and the checks. It is the
/// probability that the line scores at least the calibration's sentence
/// chrF++ threshold against a careful human translation; the lowest lines
/// are the ones to read first. The calibration was fitted on the default
/// model's signals: with another model the numbers rank lines, but are not
/// calibrated.
///
/// Output: one line per input line, `CONFIDENCE<TAB>TRANSLATION` (`-` for a
/// blank line), or with --json one object per line with the signals.
///
/// Examples:
///
///   tarjoman check article.fa.txt draft.en.txt
///
///   tarjoman check article.fa.txt draft.en.txt --json | jq 'select(.confidence < 0.3)'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The Persian text, one line per translated line (`-` for standard input).
    pub source: PathBuf,

    /// Its English translation, aligned by line.
    pub translation: PathBuf,

    /// Print one JSON object per line (line, source, translation,
    /// confidence, signals) instead of text.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub translation_args: TranslationArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let source = read_document(&args.source)?;
    require_persian(&args.source, &source)?;
    let english = read_document(&args.translation)?;
    let (src_lines, en_lines): (Vec<&str>, Vec<&str>) =
        (source.lines().collect(), english.lines().collect());
    if src_lines.len() != en_lines.len() {
        bail!(
            "{} has {} lines but {} has {}: check needs the translation aligned line by line",
            args.source.display(),
            src_lines.len(),
            args.translation.display(),
            en_lines.len()
        );
    }
    let calibration = Calibration::builtin();
    let mut loaded = crate::model::load_translation_model(args.model.model.as_deref())?;
    let opts = args
        .translation_args
        .options(&args.model, loaded.prompt_format().is_some())?;
    eprintln!(
        "checking {} lines of {} with {}",
        src_lines.len(),
        args.translation.display(),
        loaded.name()
    );
    let mut translator = loaded.translator(opts)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (i, (src, en)) in src_lines.iter().zip(&en_lines).enumerate() {
        let (confidence, signals) = match (src.trim().is_empty(), en.trim().is_empty()) {
            (true, true) => (None, None),
            (false, false) => {
                let signals = translator.score(src, en)?;
                (calibration.map(|c| c.confidence(&signals)), Some(signals))
            }
            _ => bail!(
                "line {}: one of {} and {} is blank there and the other is not",
                i + 1,
                args.source.display(),
                args.translation.display()
            ),
        };
        if args.json {
            let record = json!({
                "line": i + 1,
                "source": src,
                "translation": en,
                "confidence": confidence.map(|c| (c * 1000.0).round() / 1000.0),
                "signals": signals,
            });
            serde_json::to_writer(&mut out, &record)?;
            writeln!(out)?;
        } else {
            match confidence {
                Some(c) => writeln!(out, "{c:.2}\t{en}")?,
                None => writeln!(out, "-\t{en}")?,
            }
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
