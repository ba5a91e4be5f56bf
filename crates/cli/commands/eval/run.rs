//! `tarjoman eval run`: translate a test set with a model, score it, and
//! keep the run record (settings, scores, timings) with the translations.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use tarjoman_engine::confidence::{Calibration, Signals, FEATURES};
use tarjoman_engine::translate::Event;
use tarjoman_eval::correlation::{lowest_fraction_gap, pearson, spearman};
use tarjoman_eval::{check_aligned, read_lines};

use super::args::RunArgs;
use super::score::{compute_scores, format_table};
use crate::input::AtomicOutput;

pub(super) fn run_translate_and_score(args: RunArgs) -> Result<ExitCode> {
    let mut sources = read_lines(&args.src)?;
    let mut refs = Vec::with_capacity(args.refs.len());
    for ref_path in &args.refs {
        let lines = read_lines(ref_path)?;
        check_aligned(&args.src, sources.len(), ref_path, lines.len())?;
        refs.push(lines);
    }
    if args.skip > 0 {
        sources.drain(..args.skip.min(sources.len()));
        for lines in &mut refs {
            lines.drain(..args.skip.min(lines.len()));
        }
    }
    if let Some(limit) = args.limit {
        sources.truncate(limit);
        for lines in &mut refs {
            lines.truncate(limit);
        }
    }
    if sources.is_empty() {
        bail!("{}: no lines to translate", args.src.display());
    }
    let mut loaded = crate::model::load_translation_model(args.model.model.as_deref())?;
    let mut opts = args
        .translation
        .options(&args.model, loaded.prompt_format().is_some())?;
    // The lines of a test set follow each other (TICO-19 keeps its
    // documents' order), so with --context a line's first sentence is
    // given the previous line's last, within each of --chains parts.
    opts.context_across_documents = opts.context;
    opts.context_chains = args.chains.map_or(opts.batch, |n| n as usize);
    let settings = json!({
        "prompt_format": loaded.prompt_format(),
        "shots": loaded.prompt_format().map(|f| opts.shots_for(f)).transpose()?,
        "normalize": opts.normalize.is_some(),
        "decoding": if opts.generation.temperature.is_some() { "sampling" } else { "greedy" },
        "temperature": opts.generation.temperature,
        "top_p": opts.generation.top_p,
        "seed": opts.generation.seed,
        "repeat_penalty": opts.generation.repeat_penalty,
        "no_repeat_ngram": opts.generation.no_repeat_ngram,
        "max_new_tokens": opts.generation.max_new_tokens,
        "length_cap": format!("{} x source chars + {}", opts.length_ratio, opts.length_slack),
        "retry": opts.retry,
        "retry_attempts": opts.retry_attempts,
        "batch": opts.batch,
        "mbr_candidates": opts.candidates,
        "beams": opts.beams,
        "length_penalty": (opts.beams > 1).then_some(opts.length_penalty),
        "context": opts.context,
        "context_sentences": opts.context.then_some(opts.context_sentences),
        "context_window": opts.context.then(|| format!("{:?}", opts.context_window).to_lowercase()),
        "document_chains": opts.context.then_some(opts.document_chains),
        "context_chains": opts.context.then_some(opts.context_chains),
        "unit": format!("{:?}", opts.unit).to_lowercase(),
        "system_prompt": opts.system_prompt,
        "glossary": args.translation.glossary.as_ref().map(|p| p.display().to_string()),
        "place_names": !args.translation.no_names,
    });
    eprintln!(
        "translating {} lines of {} with {}",
        sources.len(),
        args.src.display(),
        loaded.name()
    );
    let mut translator = loaded.translator(opts)?;
    let bar = line_bar(sources.len() as u64);
    let started = Instant::now();
    let mut pieces: Vec<Vec<String>> = vec![Vec::new(); sources.len()];
    let mut signals: Vec<Vec<Signals>> = vec![Vec::new(); sources.len()];
    let mut warnings = 0usize;
    let mut retried = 0usize;
    let docs: Vec<&str> = sources.iter().map(String::as_str).collect();
    // Lines are documents of their own, translated in one run so that
    // sentences of neighbouring lines decode together (--batch).
    let totals = translator.translate_documents(&docs, |doc, event| -> Result<()> {
        match event {
            Event::Record(r) => {
                warnings += r.warnings.len();
                retried += usize::from(r.retried);
                pieces[doc].push(r.translation.clone());
                signals[doc].extend(r.signals.clone());
            }
            // Lines finish out of order when --chains parts translate side
            // by side: count them as they finish.
            Event::Translated => {
                bar.inc(1);
                let done = bar.position();
                // Logs of non-interactive runs get a line now and then instead.
                if bar.is_hidden() && done.is_multiple_of(25) {
                    eprintln!(
                        "{done}/{} lines, {:.0} s",
                        sources.len(),
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            Event::Verbatim(_) => {}
        }
        Ok(())
    })?;
    let hyps: Vec<String> = pieces.iter().map(|p| p.join(" ")).collect();
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    let scores = compute_scores(&hyps, &refs, &args.metrics, false)?;
    let lines = line_confidence(&hyps, &refs, &signals)?;
    let agreement = confidence_agreement(&lines);
    let per_sec = |tokens: usize, ms: u64| (ms > 0).then(|| tokens as f64 * 1000.0 / ms as f64);
    let record = json!({
        "tarjoman": env!("CARGO_PKG_VERSION"),
        "model": loaded.name(),
        "src": args.src.display().to_string(),
        "refs": args.refs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "skip": args.skip,
        "lines": sources.len(),
        "sentences": totals.sentences,
        "settings": settings,
        "scores": scores
            .iter()
            .map(|(key, s)| (key.to_string(), json!({ "score": s.score, "signature": s.signature })))
            .collect::<Map<String, Value>>(),
        "wall_s": wall,
        "seconds_per_line": wall / sources.len() as f64,
        "prompt_tokens": totals.prompt_tokens,
        "output_tokens": totals.output_tokens,
        "prefilled_tokens": totals.prefilled_tokens,
        "prefill_tok_s": per_sec(totals.prefilled_tokens, totals.prefill_ms),
        "decode_tok_s": per_sec(totals.output_tokens, totals.decode_ms),
        "warnings": warnings,
        "retried_sentences": retried,
        "confidence": agreement,
    });
    if let Some(dir) = &args.output {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut hyp_file = AtomicOutput::create(&dir.join("hyp.txt"))?;
        for line in &hyps {
            writeln!(hyp_file.writer(), "{line}")?;
        }
        hyp_file.commit()?;
        let mut lines_file = AtomicOutput::create(&dir.join("lines.jsonl"))?;
        for line in &lines {
            serde_json::to_writer(lines_file.writer(), line)?;
            writeln!(lines_file.writer())?;
        }
        lines_file.commit()?;
        let mut run_file = AtomicOutput::create(&dir.join("run.json"))?;
        serde_json::to_writer_pretty(run_file.writer(), &record)?;
        writeln!(run_file.writer())?;
        run_file.commit()?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer(&mut out, &record)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", format_table(&scores))?;
        writeln!(
            out,
            "{} lines in {wall:.1} s ({:.2} s/line), prefill {:.1} tok/s, decode {:.1} tok/s, \
             {warnings} warnings, model {}",
            sources.len(),
            wall / sources.len() as f64,
            per_sec(totals.prefilled_tokens, totals.prefill_ms).unwrap_or(0.0),
            per_sec(totals.output_tokens, totals.decode_ms).unwrap_or(0.0),
            loaded.name(),
        )?;
        if let Some(a) = agreement.as_object() {
            writeln!(
                out,
                "confidence against sentence chrF++ ({} lines): Spearman {:.3}, Pearson {:.3}; \
                 least confident fifth {:.2}, the rest {:.2}",
                a["lines"],
                a["spearman"].as_f64().unwrap_or(f64::NAN),
                a["pearson"].as_f64().unwrap_or(f64::NAN),
                a["lowest_fifth_chrf_pp"].as_f64().unwrap_or(f64::NAN),
                a["rest_chrf_pp"].as_f64().unwrap_or(f64::NAN),
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Per line of the test set: its sentences' signals pooled, the
/// confidence and features computed from them, and the line's sentence
/// chrF++ against the references.
fn line_confidence(
    hyps: &[String],
    refs: &[Vec<String>],
    signals: &[Vec<Signals>],
) -> Result<Vec<Value>> {
    let calibration = Calibration::builtin();
    let mut lines = Vec::with_capacity(hyps.len());
    for (i, hyp) in hyps.iter().enumerate() {
        let line_refs: Vec<&str> = refs.iter().map(|r| r[i].as_str()).collect();
        let chrf = tarjoman_eval::sentence_chrf_pp(hyp, &line_refs)?.score;
        let pooled = Signals::pool(&signals[i]);
        let features = pooled.as_ref().map(|p| {
            FEATURES
                .iter()
                .zip(p.features())
                .map(|(name, x)| (name.to_string(), json!(x)))
                .collect::<Map<String, Value>>()
        });
        let confidence = pooled
            .as_ref()
            .zip(calibration)
            .map(|(p, c)| c.confidence(p));
        lines.push(json!({
            "line": i + 1,
            "chrf_pp": chrf,
            "confidence": confidence,
            "features": features,
            "signals": pooled,
        }));
    }
    Ok(lines)
}

/// How well the lines' confidence ranks their sentence chrF++, over the
/// lines that have one: Spearman, Pearson, and the mean chrF++ of the
/// least confident fifth against the other four fifths.
fn confidence_agreement(lines: &[Value]) -> Value {
    let (conf, chrf): (Vec<f64>, Vec<f64>) = lines
        .iter()
        .filter_map(|l| Some((l["confidence"].as_f64()?, l["chrf_pp"].as_f64()?)))
        .unzip();
    let gap = lowest_fraction_gap(&conf, &chrf, 0.2);
    match (spearman(&conf, &chrf), pearson(&conf, &chrf), gap) {
        (Some(s), Some(p), Some((low, rest))) => json!({
            "lines": conf.len(),
            "spearman": s,
            "pearson": p,
            "lowest_fifth_chrf_pp": low,
            "rest_chrf_pp": rest,
        }),
        _ => Value::Null,
    }
}

/// A line-count progress bar on stderr (drawn only on a terminal).
fn line_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "translating [{bar:30.cyan/blue}] {pos}/{len} lines, {per_sec}, ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
