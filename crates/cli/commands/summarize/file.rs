//! `tarjoman summarize FILE`: one article, Persian (translated first) or
//! English, summarized in a few English sentences.

use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;
use tarjoman_engine::summarize::{Article, Summary};
use tarjoman_text::script::{detect, Lang};

use super::args::Args;
use super::models::{Models, Sources};
use crate::input::read_document;

pub fn run(args: Args) -> Result<ExitCode> {
    args.folder.refuse_for_file(&args.input)?;
    let text = read_document(&args.input)?;
    let lang = detect(&text);
    if !matches!(lang, Lang::Persian | Lang::English) {
        bail!(
            "{}: the article is neither Persian nor English (detected {lang:?})",
            args.input.display()
        );
    }
    let sources = Sources::resolve(
        args.model.model.as_deref(),
        args.summarizer.as_deref(),
        args.method,
        lang == Lang::Persian,
    )?;
    let opts = match lang {
        Lang::Persian => Some(
            args.translation
                .options(&args.model, sources.translation()?.is_prompted()?)?,
        ),
        _ => None,
    };
    let mut models = Models::new(&sources);
    let start = std::time::Instant::now();
    let (article, translation) = match &opts {
        Some(opts) => {
            eprintln!(
                "translating {} with {}",
                args.input.display(),
                sources.translation()?.name()
            );
            let translated = models.translate(&text, opts)?;
            (translated.article, Some(translated.full))
        }
        None => (Article::english(&text), None),
    };
    let translate_ms = start.elapsed().as_millis() as u64;
    let summary = models.summarize(&article, args.method, &args.model.generation())?;
    report_replacements(&summary);
    if args.json {
        let record = json!({
            "input": args.input,
            "language": format!("{lang:?}").to_lowercase(),
            "method": summary.method,
            "summarizer": sources.summarizer_name(),
            "summary": summary.texts(),
            "sentences": summary.sentences,
            "replacements": summary.replacements,
            "words": summary.words(),
            "article_sentences": article.len(),
            "translation": translation,
            "timings_ms": { "translate": translate_ms, "summarize": summary.ms },
            "stop_reason": summary.stop_reason,
        });
        println!("{record}");
    } else {
        for sentence in &summary.sentences {
            match args.cite {
                true => {
                    let cited: Vec<String> = sentence
                        .sources
                        .iter()
                        .map(|c| (c.index + 1).to_string())
                        .collect();
                    println!("{} [{}]", sentence.text, cited.join(","));
                }
                false => println!("{}", sentence.text),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Says on stderr which generated sentences the guard replaced, and why.
pub fn report_replacements(summary: &Summary) {
    for (i, s) in summary.sentences.iter().enumerate() {
        if let Some(rejected) = &s.replaced {
            eprintln!(
                "summary sentence {}: the model's sentence failed the faithfulness guard ({}) \
                 and was replaced by article sentence {}: rejected: {}",
                i + 1,
                rejected.problems.join("; "),
                s.sources
                    .iter()
                    .max_by(|a, b| a.support.total_cmp(&b.support))
                    .map_or(0, |c| c.index + 1),
                rejected.text
            );
        }
    }
}
