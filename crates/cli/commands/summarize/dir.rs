//! `tarjoman summarize DIR`: every article under a folder, on `--jobs`
//! workers, resumable after a crash, shardable across machines.
//!
//! The walk, sharding, manifest, resume and atomic outputs are
//! `tarjoman-batch`'s; this module supplies the summarizer each worker runs
//! (its own model instances, loaded on first need) and the progress bar.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use tarjoman_batch::chunk::chunks;
use tarjoman_batch::lang::Language;
use tarjoman_batch::manifest::{Record, Status};
use tarjoman_batch::walk::WalkOptions;
use tarjoman_batch::{Article, Config, Observer, Shard, Summarized, Summarizer};
use tarjoman_engine::generate::GenerationConfig;
use tarjoman_engine::summarize::Article as EnglishArticle;
use tarjoman_engine::translate::TranslateOptions;

use super::args::{Args, Method};
use super::models::{Models, Sources};

/// English text summarized in one go by the language model: longer text is
/// cut into pieces of this size, each summarized, and the summaries
/// summarized in turn. About 1,500 tokens: room for the prompt and the
/// answer in every model's context.
const ABSTRACTIVE_CHUNK_BYTES: usize = 6_000;

/// The same for sentence embeddings: about 200 sentences a piece keeps the
/// embeddings (and the O(n k) selection) small.
const EXTRACTIVE_CHUNK_BYTES: usize = 20_000;

pub fn run(args: Args) -> Result<ExitCode> {
    let dir = &args.input;
    if args.json {
        bail!("--json applies to one file; a folder run writes OUTDIR/manifest.jsonl");
    }
    if args.folder.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let (cores, threads) = share_cores(args.folder.jobs);
    let outdir = match &args.folder.output {
        Some(o) => o.clone(),
        None => default_outdir(dir)?,
    };
    let sources = Sources::resolve(
        args.model.model.as_deref(),
        args.summarizer.as_deref(),
        args.method,
        true,
    )?;
    let translation = sources.translation()?;
    let translate_opts = args
        .translation
        .options(&args.model, translation.is_prompted()?)?;
    let generation = args.model.generation();
    // Grounded and lead summaries select over the whole article, however
    // long, with prompts of a few sentences: no pieces.
    let chunk_bytes = match args.method {
        Method::Abstractive => Some(ABSTRACTIVE_CHUNK_BYTES),
        Method::Extractive => Some(EXTRACTIVE_CHUNK_BYTES),
        Method::Grounded | Method::Lead => None,
    };
    let settings = json!({
        "method": tarjoman_engine::summarize::Method::from(args.method).name(),
        "model": translation.name(),
        "summarizer": sources.summarizer_name(),
        "translate": args.folder.translate,
        // `null`: the prompt format's default.
        "shots": translate_opts.shots,
        "normalize": translate_opts.normalize.is_some(),
        "temperature": generation.temperature,
        "top_p": generation.top_p,
        "seed": generation.seed,
        "repeat_penalty": generation.repeat_penalty,
        "no_repeat_ngram": generation.no_repeat_ngram,
        // What changes the translations a summary is made from.
        "retry": translate_opts.retry,
        "retry_attempts": translate_opts.retry_attempts,
        "glossary": args.translation.glossary.as_ref().map(|p| p.display().to_string()),
        "place_names": !args.translation.no_names,
        "mbr_candidates": translate_opts.candidates,
        "beams": translate_opts.beams,
        "length_penalty": translate_opts.length_penalty,
        "context": translate_opts.context,
        "context_sentences": translate_opts.context.then_some(translate_opts.context_sentences),
        "context_window": translate_opts.context.then(|| format!("{:?}", translate_opts.context_window).to_lowercase()),
        "document_chains": translate_opts.context.then_some(translate_opts.document_chains),
        "unit": format!("{:?}", translate_opts.unit).to_lowercase(),
        "system_prompt": translate_opts.system_prompt,
        "chunk_bytes": chunk_bytes,
    });
    let config = Config {
        input_dir: dir.clone(),
        output_dir: outdir.clone(),
        walk: WalkOptions {
            patterns: args.folder.glob.clone(),
            exclude: Vec::new(),
        },
        shard: args.folder.shard.unwrap_or(Shard::ALL),
        jobs: args.folder.jobs,
        model: translation.name().to_string(),
        settings,
        write_translation: args.folder.translate,
        max_bytes: args.folder.max_bytes,
    };
    let shared = Shared {
        sources,
        method: args.method,
        translate: translate_opts,
        generation,
        chunk_bytes,
    };
    eprintln!(
        "summarizing {} into {} ({}, {} worker{} x {threads} thread{} on {cores} cores{})",
        dir.display(),
        outdir.display(),
        config.settings["method"].as_str().unwrap_or_default(),
        config.jobs,
        if config.jobs == 1 { "" } else { "s" },
        if threads == 1 { "" } else { "s" },
        if config.shard.is_all() {
            String::new()
        } else {
            format!(", shard {}", config.shard)
        },
    );
    let started = Instant::now();
    let observer = Bar::new();
    let report = tarjoman_batch::run(&config, |_| shared.worker(), &observer)?;
    observer.bar.finish_and_clear();
    eprintln!(
        "{} ok, {} failed, {} skipped ({} already done, {} not read) of {} in {:.1} s; manifest {}",
        report.ok,
        report.failed,
        report.already_done + report.skipped,
        report.already_done,
        report.skipped,
        report.total,
        started.elapsed().as_secs_f64(),
        report.manifest.display(),
    );
    Ok(if report.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `DIR.summaries` beside DIR.
fn default_outdir(dir: &Path) -> Result<PathBuf> {
    let real = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    match (real.parent(), real.file_name()) {
        (Some(parent), Some(name)) => {
            let mut name = name.to_os_string();
            name.push(".summaries");
            Ok(parent.join(name))
        }
        _ => bail!("{}: give an output folder with -o OUTDIR", dir.display()),
    }
}

/// Gives each of `jobs` workers `cores / jobs` threads for candle's CPU
/// kernels, so `jobs` workers never run more threads than there are cores.
/// candle sizes its matmul thread pools from CANDLE_NUM_THREADS, else
/// RAYON_NUM_THREADS, else the physical cores (`candle_core::utils`), once,
/// on first use; so this runs before any model is loaded, while the process
/// has one thread. A user's own setting wins. Returns (cores, threads).
fn share_cores(jobs: usize) -> (usize, usize) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / jobs).max(1);
    if crate::threads::user_set() {
        return (cores, candle_core_threads());
    }
    if jobs > cores {
        eprintln!("warning: {jobs} workers on {cores} cores: they will compete for the cores");
    }
    for var in crate::threads::VARS {
        std::env::set_var(var, threads.to_string());
    }
    (cores, threads)
}

/// The thread count candle will use, as it reads the environment.
fn candle_core_threads() -> usize {
    crate::threads::VARS
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
        .unwrap_or(1)
}

/// What every worker shares: where the models are and the settings.
struct Shared {
    sources: Sources,
    method: Method,
    translate: TranslateOptions,
    generation: GenerationConfig,
    chunk_bytes: Option<usize>,
}

impl Shared {
    fn worker(&self) -> Worker<'_> {
        Worker {
            shared: self,
            models: Models::new(&self.sources),
        }
    }
}

/// One worker's models, loaded when first needed (an English-only,
/// extractive batch never loads the language model).
struct Worker<'a> {
    shared: &'a Shared,
    models: Models<'a>,
}

impl Summarizer for Worker<'_> {
    fn summarize(&mut self, article: &Article<'_>) -> std::result::Result<Summarized, String> {
        self.summarize_article(article)
            .map_err(|e| format!("{e:#}"))
    }
}

impl Worker<'_> {
    fn summarize_article(&mut self, article: &Article<'_>) -> Result<Summarized> {
        let start = Instant::now();
        let (english, translation) = match article.language {
            Language::Persian => {
                let translated = self
                    .models
                    .translate(article.text, &self.shared.translate)?;
                (translated.article, Some(translated.full))
            }
            _ => (EnglishArticle::english(article.text), None),
        };
        let translate_ms = start.elapsed().as_millis() as u64;
        let start = Instant::now();
        let (summary, replacements, chunks) = match self.shared.chunk_bytes {
            Some(max) => {
                let (summary, chunks) = self.reduce(&english.text(), max)?;
                (summary, 0, chunks)
            }
            None => {
                let summary =
                    self.models
                        .summarize(&english, self.shared.method, &self.shared.generation)?;
                (summary.texts(), summary.replacements, 1)
            }
        };
        Ok(Summarized {
            summary,
            translation,
            translate_ms,
            summarize_ms: start.elapsed().as_millis() as u64,
            chunks,
            replacements,
        })
    }

    /// Summarizes `english`; text longer than `max` bytes is summarized
    /// piece by piece and the joined summaries again, until one piece
    /// remains. Returns the summary and the number of pieces of the first
    /// round.
    fn reduce(&mut self, english: &str, max: usize) -> Result<(Vec<String>, usize)> {
        let mut current = english.to_string();
        let mut first_round = None;
        loop {
            let pieces: Vec<String> = chunks(&current, max)
                .into_iter()
                .map(str::to_string)
                .collect();
            first_round.get_or_insert(pieces.len().max(1));
            if pieces.len() <= 1 {
                let summary = self.summarize_once(&current)?;
                return Ok((summary, first_round.unwrap_or(1)));
            }
            let mut next = String::new();
            for piece in &pieces {
                // A piece without a sentence (only metadata or spaces) adds nothing.
                if tarjoman_text::sentences(piece).next().is_none() {
                    continue;
                }
                for sentence in self.summarize_once(piece)? {
                    next.push_str(&sentence);
                    next.push('\n');
                }
            }
            if next.len() >= current.len() {
                bail!(
                    "cannot shorten the text by summarizing its {} pieces (no sentence breaks?)",
                    pieces.len()
                );
            }
            current = next;
        }
    }

    fn summarize_once(&mut self, english: &str) -> Result<Vec<String>> {
        let article = EnglishArticle::english(english);
        let summary =
            self.models
                .summarize(&article, self.shared.method, &self.shared.generation)?;
        Ok(summary.texts())
    }
}

/// The progress bar (count, rate, ETA) on stderr; failures are also
/// printed as lines, so logs of non-interactive runs list them.
struct Bar {
    bar: ProgressBar,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "[{elapsed_precise}] [{bar:30.cyan/blue}] {pos}/{len} {per_sec} ETA {eta} {wide_msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(500));
        Self { bar }
    }
}

impl Observer for Bar {
    fn planned(&self, total: usize) {
        self.bar.set_length(total as u64);
    }

    fn finished(&self, record: &Record, _already_done: bool) {
        if record.status != Status::Ok {
            let status = if record.status == Status::Failed {
                "failed"
            } else {
                "skipped"
            };
            self.bar.suspend(|| {
                eprintln!(
                    "{status}: {}: {}",
                    record.path,
                    record.error.as_deref().unwrap_or("")
                )
            });
        }
        self.bar.set_message(record.path.clone());
        self.bar.inc(1);
    }

    fn note(&self, message: &str) {
        self.bar.suspend(|| eprintln!("{message}"));
    }
}
