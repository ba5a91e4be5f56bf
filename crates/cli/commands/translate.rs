//! `tarjoman translate`: a Persian document to English, sentence by sentence.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use tarjoman_engine::translate::Event;

use crate::args::{confidence_threshold, ModelArgs, TranslationArgs};
use crate::input::{read_document, require_persian, AtomicOutput};

/// Translate a Persian document into English.
///
/// Each input line gives one output line; sentences are translated a few at
/// a time (--batch) and printed in order as soon as they are done. Metadata
/// such as a leading `date 2025-11-08` passes through untranslated.
///
/// Examples:
///
///   tarjoman translate article.fa.txt
///
///   tarjoman translate article.fa.txt -o article.en.txt
///
///   cat article.fa.txt | tarjoman translate - --json | jq .translation
///
///   tarjoman translate article.fa.txt -m ~/models/nllb-200-distilled-600M
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The Persian text file to translate, or `-` for standard input.
    pub input: PathBuf,

    /// Write the translation to this file (atomically: it appears only when
    /// complete) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print one JSON object per sentence (index, line, source, translation,
    /// byte span, token counts, milliseconds, warnings, confidence and the
    /// signals behind it) instead of text.
    #[arg(long)]
    pub json: bool,

    /// Wrap each sentence whose confidence is below THRESHOLD (0-1; 0.5
    /// when no value is given) in ⟦ ⟧, and list those sentences on stderr:
    /// the ones to check against the source first.
    #[arg(long, value_name = "THRESHOLD", num_args = 0..=1,
          default_missing_value = UNCERTAIN_DEFAULT, value_parser = confidence_threshold)]
    pub mark_uncertain: Option<f64>,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub translation: TranslationArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let text = read_document(&args.input)?;
    require_persian(&args.input, &text)?;
    let mut output = args
        .output
        .as_deref()
        .map(AtomicOutput::create)
        .transpose()?;
    let mut loaded = crate::model::load_translation_model(args.model.model.as_deref())?;
    let opts = args
        .translation
        .options(&args.model, loaded.prompt_format().is_some())?;
    eprintln!(
        "translating {} with {}",
        args.input.display(),
        loaded.name()
    );
    let mut translator = loaded.translator(opts)?;
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let json = args.json;
    let mut warnings = 0;
    let mut uncertain: Vec<String> = Vec::new();
    let stats = {
        let out: &mut dyn Write = match output.as_mut() {
            Some(o) => o.writer(),
            None => &mut stdout,
        };
        translator.translate_document(&text, |event| -> Result<()> {
            match event {
                Event::Verbatim(s) if !json => out.write_all(s.as_bytes())?,
                Event::Verbatim(_) | Event::Translated => {}
                Event::Record(r) => {
                    for w in &r.warnings {
                        warnings += 1;
                        eprintln!("warning: sentence {} (line {}): {w}", r.index, r.line + 1);
                    }
                    let low = match (args.mark_uncertain, r.confidence) {
                        (Some(t), Some(c)) if c < t => {
                            uncertain.push(format!("{} (line {}, {c:.2})", r.index, r.line + 1));
                            true
                        }
                        _ => false,
                    };
                    if json {
                        serde_json::to_writer(&mut *out, r)?;
                        out.write_all(b"\n")?;
                    } else if low {
                        write!(out, "⟦{}⟧", r.translation)?;
                    } else {
                        out.write_all(r.translation.as_bytes())?;
                    }
                }
            }
            out.flush()?;
            Ok(())
        })?
    };
    if !json && !text.ends_with('\n') {
        match output.as_mut() {
            Some(o) => o.writer().write_all(b"\n")?,
            None => stdout.write_all(b"\n")?,
        }
    }
    if let Some(o) = output {
        o.commit()?;
    }
    if let Some(t) = args.mark_uncertain {
        match uncertain.is_empty() {
            true => eprintln!("no sentence has a confidence below {t}"),
            false => eprintln!(
                "{} of {} sentences have a confidence below {t}, check them first: {}",
                uncertain.len(),
                stats.sentences,
                uncertain.join(", ")
            ),
        }
    }
    let secs = |ms: u64| ms as f64 / 1000.0;
    eprintln!(
        "translated {} sentences in {:.1} s (prefill {:.1} tok/s, decode {:.1} tok/s){}",
        stats.sentences,
        secs(stats.total_ms),
        rate(stats.prefilled_tokens, stats.prefill_ms),
        rate(stats.output_tokens, stats.decode_ms),
        if warnings > 0 {
            format!(", {warnings} warnings")
        } else {
            String::new()
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// `--mark-uncertain`'s threshold when none is given.
const UNCERTAIN_DEFAULT: &str = "0.5";

fn rate(tokens: usize, ms: u64) -> f64 {
    if ms == 0 {
        0.0
    } else {
        tokens as f64 * 1000.0 / ms as f64
    }
}
