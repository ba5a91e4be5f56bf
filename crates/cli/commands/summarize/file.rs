//! `tarjoman summarize FILE`: one article, Persian (translated first) or
//! English, summarized in a few English sentences.

use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;
use tarjoman_engine::summarize;
use tarjoman_engine::translate::{Event, RecordKind, Translator};
use tarjoman_text::script::{detect, Lang};

use super::args::{Args, Method};
use crate::input::read_document;

pub fn run(args: Args) -> Result<ExitCode> {
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
            let mut translator = Translator::prompted(&mut loaded.lm, &loaded.format, opts)?;
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
