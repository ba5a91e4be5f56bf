//! `tarjoman summarize`: a short English summary of a Persian or English
//! article, or of every article in a folder (see [`super::summarize_dir`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;
use tarjoman_engine::summarize;
use tarjoman_engine::translate::{Event, RecordKind, Translator};
use tarjoman_text::script::{detect, Lang};

use crate::commands::translate::{ModelArgs, TranslationArgs};
use crate::input::read_document;

/// Summarize an article, or a folder of articles, in 3 to 5 English sentences.
///
/// A Persian article is translated first (sentence by sentence, as
/// `tarjoman translate` does); an English one is summarized directly.
/// The summary is printed one sentence per line.
///
/// Given a folder, every `*.txt` and `*.md` file under it is summarized
/// into OUTDIR, mirroring the tree (`a/b.txt` -> `OUTDIR/a/b.txt.summary.txt`),
/// with `OUTDIR/manifest.jsonl` recording each input (path, SHA-256, model,
/// settings, status ok|failed|skipped, error, timings, outputs). Outputs
/// appear atomically; a killed run is resumed by running the same command
/// again: inputs done with the same content and settings are skipped,
/// changed ones redone. Files in another language, empty, binary or in a
/// legacy encoding are recorded as failed and the batch goes on; the exit
/// status is 1 if any input failed.
///
/// Examples:
///
///   tarjoman summarize article.fa.txt
///
///   tarjoman summarize article.fa.txt --method extractive --json
///
///   tarjoman summarize news/ -o summaries/ --method extractive --jobs 2
///
///   tarjoman summarize news/ -o /shared/out --shard 3/8   # one of 8 machines
///   tarjoman manifest merge /shared/out/manifest.shard-*.jsonl -o /shared/out/manifest.jsonl
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The article to summarize (Persian or English), `-` for standard
    /// input, or a folder of articles.
    pub input: PathBuf,

    /// How to summarize.
    #[arg(long, value_enum, default_value_t = Method::Abstractive)]
    pub method: Method,

    /// Print one JSON object with the summary, the translation and timings.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Translation settings (Persian input only).
    #[command(flatten)]
    pub translation: TranslationArgs,

    #[command(flatten)]
    pub folder: super::summarize_dir::FolderArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The language model writes the summary in its own words.
    Abstractive,
    /// Sentence embeddings (all-MiniLM-L6-v2) pick the article's most
    /// central, non-redundant sentences.
    Extractive,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.input.is_dir() {
        return super::summarize_dir::run(args);
    }
    args.folder.refuse_for_file(&args.input)?;
    let text = read_document(&args.input)?;
    let start = std::time::Instant::now();
    let lang = detect(&text);
    let needs_lm = lang == Lang::Persian || args.method == Method::Abstractive;
    let mut loaded = match needs_lm {
        true => Some(crate::model::load_lm(args.model.model.as_deref())?),
        false => None,
    };
    let english = match lang {
        Lang::English => text.clone(),
        Lang::Persian => {
            let loaded = loaded.as_mut().expect("loaded for Persian input");
            eprintln!("translating {} with {}", args.input.display(), loaded.name);
            let opts = args.translation.options(&args.model, true)?;
            let mut translator = Translator::new(&mut loaded.lm, &loaded.format, opts)?;
            let mut english = String::new();
            translator.translate_document(&text, |event| -> Result<()> {
                match event {
                    Event::Verbatim(s) => english.push_str(s),
                    // Metadata (`date 2025-11-08`) is not prose to summarize.
                    Event::Record(r) if r.kind == RecordKind::Metadata => {}
                    Event::Record(r) => english.push_str(&r.translation),
                    Event::Translated => {}
                }
                Ok(())
            })?;
            english
        }
        other => bail!(
            "{}: the article is neither Persian nor English (detected {other:?})",
            args.input.display()
        ),
    };
    let translate_ms = start.elapsed().as_millis() as u64;
    let summary = match args.method {
        Method::Abstractive => {
            let loaded = loaded.as_mut().expect("loaded for abstractive summaries");
            summarize::abstractive(
                &mut loaded.lm,
                &loaded.format,
                &english,
                &args.model.generation(),
            )?
        }
        Method::Extractive => {
            let embedder = crate::model::load_embedder()?;
            summarize::extractive(&embedder, &english)?
        }
    };
    if args.json {
        let record = json!({
            "input": args.input,
            "language": format!("{lang:?}").to_lowercase(),
            "method": summary.method,
            "summary": summary.sentences,
            "translation": (lang == Lang::Persian).then_some(&english),
            "timings_ms": { "translate": translate_ms, "summarize": summary.ms },
            "stop_reason": summary.stop_reason,
        });
        println!("{record}");
    } else {
        for sentence in &summary.sentences {
            println!("{sentence}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
