//! Running a batch: walk, shard, skip what is done, summarize the rest on
//! `jobs` worker threads, and record every input in the manifest.
//!
//! Each worker has its own [`Summarizer`] (its own model instances). Workers
//! write their outputs atomically and hand a record to the calling thread,
//! which alone appends to the manifest, so a record always follows its
//! outputs onto disk. One bad input (unreadable, wrong encoding, another
//! language, a model failure, even a panic) becomes a `failed` record and the
//! batch goes on.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::lang::{self, Language};
use crate::layout::{self, Layout};
use crate::manifest::{self, Outputs, Record, Status, Timings};
use crate::walk::{self, Found, FoundKind, WalkOptions};
use crate::{Error, Result, Shard};

/// What a batch run needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The folder to summarize.
    pub input_dir: PathBuf,
    /// Where outputs and the manifest go (created if missing).
    pub output_dir: PathBuf,
    /// Which files to take.
    pub walk: WalkOptions,
    /// Which share of them this run takes.
    pub shard: Shard,
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// The language model's name, for the manifest.
    pub model: String,
    /// Every setting that changes the outputs; inputs done with other
    /// settings are redone.
    pub settings: serde_json::Value,
    /// Write the full translation of Persian inputs too.
    pub write_translation: bool,
    /// Inputs over this many bytes are refused without being read.
    pub max_bytes: usize,
}

/// An article handed to a [`Summarizer`]: decoded, in Persian or English.
#[derive(Debug)]
pub struct Article<'a> {
    /// The input, relative to the input folder.
    pub rel: &'a str,
    /// Its text.
    pub text: &'a str,
    /// [`Language::Persian`] or [`Language::English`].
    pub language: &'a Language,
}

/// What a [`Summarizer`] made of an article.
#[derive(Debug, Clone, Default)]
pub struct Summarized {
    /// The summary's sentences.
    pub summary: Vec<String>,
    /// The full English translation (Persian input).
    pub translation: Option<String>,
    /// Milliseconds spent translating.
    pub translate_ms: u64,
    /// Milliseconds spent summarizing.
    pub summarize_ms: u64,
    /// Into how many chunks the article was cut.
    pub chunks: usize,
    /// Generated summary sentences the faithfulness guard replaced by
    /// article sentences.
    pub replacements: usize,
}

/// Turns one article into a summary. Errors are messages for the manifest.
pub trait Summarizer {
    /// Summarizes `article`.
    fn summarize(&mut self, article: &Article<'_>) -> std::result::Result<Summarized, String>;
}

/// Hears about a run's progress (on the thread that called [`run`]).
pub trait Observer {
    /// The number of inputs this run will go through.
    fn planned(&self, _total: usize) {}
    /// One input is finished; `already_done` when an earlier run did it.
    fn finished(&self, _record: &Record, _already_done: bool) {}
    /// Something worth a line on stderr.
    fn note(&self, _message: &str) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// Counts of a finished run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Inputs of this run (this shard).
    pub total: usize,
    /// Summarized now.
    pub ok: usize,
    /// Failed now.
    pub failed: usize,
    /// Deliberately not read (links leading outside the folder).
    pub skipped: usize,
    /// Done by an earlier run with the same input and settings.
    pub already_done: usize,
    /// The manifest written.
    pub manifest: PathBuf,
}

/// What a worker sends back for one input.
struct Finished {
    record: Record,
    /// An earlier record still holds: append nothing.
    unchanged: bool,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// SHA-256 of the settings' JSON (serde_json writes object keys sorted, so
/// equal settings give equal text).
pub fn settings_sha256(settings: &serde_json::Value) -> Result<String> {
    let bytes = serde_json::to_vec(settings).map_err(Error::Settings)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Runs the batch described by `cfg`; `make` builds worker `i`'s summarizer.
pub fn run<S, F>(cfg: &Config, make: F, observer: &dyn Observer) -> Result<Report>
where
    S: Summarizer,
    F: Fn(usize) -> S + Sync,
{
    let layout = Layout::create(&cfg.output_dir)?;
    let mut walk_opts = cfg.walk.clone();
    walk_opts.exclude.push(layout.root().to_path_buf());
    let root = cfg
        .input_dir
        .canonicalize()
        .map_err(|e| Error::io("resolve", &cfg.input_dir, e))?;
    let found: Vec<Found> = walk::discover(&root, &walk_opts)?
        .into_iter()
        .filter(|f| cfg.shard.contains(&f.rel))
        .collect();
    let manifest_path = layout
        .root()
        .join(manifest::shard_manifest_name(&cfg.shard));
    let previous = manifest::read(&manifest_path)?;
    if previous.bad_lines > 0 {
        observer.note(&format!(
            "{}: {} corrupt lines ignored; their inputs are redone",
            manifest_path.display(),
            previous.bad_lines
        ));
    }
    let mut writer = manifest::Writer::open(&manifest_path)?;
    let outputs: Vec<String> = found
        .iter()
        .flat_map(|f| [layout::summary_rel(&f.rel), layout::translation_rel(&f.rel)])
        .collect();
    let removed = layout.remove_stale_temps(outputs.iter().map(String::as_str));
    if removed > 0 {
        observer.note(&format!(
            "removed {removed} temporary files left by an interrupted run"
        ));
    }
    let settings_sha = settings_sha256(&cfg.settings)?;
    let ctx = Context {
        cfg,
        root: &root,
        layout: &layout,
        previous: &previous.records,
        settings_sha: &settings_sha,
    };

    observer.planned(found.len());
    let mut report = Report {
        total: found.len(),
        manifest: manifest_path.clone(),
        ..Report::default()
    };
    let mut latest: BTreeMap<String, Record> = BTreeMap::new();
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Finished>();
    let mut failure: Option<Error> = None;
    std::thread::scope(|scope| {
        for w in 0..cfg.jobs.max(1) {
            let tx = tx.clone();
            let (ctx, found, next, abort, make) = (&ctx, &found, &next, &abort, &make);
            scope.spawn(move || {
                let mut summarizer = make(w);
                while !abort.load(Ordering::Relaxed) {
                    let Some(item) = found.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let (finished, panicked) = ctx.process(item, &mut summarizer);
                    if panicked {
                        // Its state may be broken: start afresh.
                        summarizer = make(w);
                    }
                    if tx.send(finished).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for finished in rx {
            if failure.is_some() {
                continue;
            }
            if !finished.unchanged {
                if let Err(e) = writer.append(&finished.record) {
                    abort.store(true, Ordering::Relaxed);
                    failure = Some(e);
                    continue;
                }
            }
            match (finished.record.status, finished.unchanged) {
                (Status::Ok, true) => report.already_done += 1,
                (Status::Ok, false) => report.ok += 1,
                (Status::Failed, _) => report.failed += 1,
                (Status::Skipped, _) => report.skipped += 1,
            }
            observer.finished(&finished.record, finished.unchanged);
            latest.insert(finished.record.path.clone(), finished.record);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    drop(writer);
    // One record per input of this run, in path order.
    manifest::rewrite(&manifest_path, latest.values())?;
    Ok(report)
}

struct Context<'a> {
    cfg: &'a Config,
    root: &'a Path,
    layout: &'a Layout,
    previous: &'a BTreeMap<String, Record>,
    settings_sha: &'a str,
}

impl Context<'_> {
    fn record(&self, rel: &str, status: Status, error: Option<String>) -> Record {
        Record {
            path: rel.to_string(),
            sha256: None,
            bytes: None,
            status,
            error,
            language: None,
            model: self.cfg.model.clone(),
            settings: self.cfg.settings.clone(),
            settings_sha256: self.settings_sha.to_string(),
            outputs: Outputs::default(),
            chunks: None,
            replacements: None,
            timings_ms: Timings::default(),
            finished_unix: now_unix(),
        }
    }

    /// A record that says the same as the previous one needs no new line.
    fn same_as_before(&self, record: &Record) -> bool {
        self.previous.get(&record.path).is_some_and(|prev| {
            prev.status == record.status
                && prev.error == record.error
                && prev.sha256 == record.sha256
                && prev.settings_sha256 == record.settings_sha256
        })
    }

    /// Returns the input's record and whether the summarizer panicked.
    fn process<S: Summarizer>(&self, found: &Found, summarizer: &mut S) -> (Finished, bool) {
        let start = Instant::now();
        let rel = found.rel.as_str();
        let refused = |status, reason: &String| {
            let record = self.record(rel, status, Some(reason.clone()));
            match self.previous.get(rel) {
                Some(prev) if self.same_as_before(&record) => Finished {
                    record: prev.clone(),
                    unchanged: true,
                },
                _ => Finished {
                    record,
                    unchanged: false,
                },
            }
        };
        match &found.kind {
            FoundKind::Skipped(reason) => return (refused(Status::Skipped, reason), false),
            FoundKind::Failed(reason) => return (refused(Status::Failed, reason), false),
            FoundKind::Input => {}
        }
        let mut record = self.record(rel, Status::Failed, None);
        let bytes = match self.read(&found.path) {
            Ok(bytes) => bytes,
            Err(reason) => {
                record.error = Some(reason);
                self.remove_outputs(rel);
                return (self.finish(record, start), false);
            }
        };
        record.bytes = Some(bytes.len() as u64);
        record.sha256 = Some(hex::encode(Sha256::digest(&bytes)));
        if let Some(prev) = self.previous.get(rel) {
            let done = prev.status == Status::Ok
                && prev.sha256 == record.sha256
                && prev.settings_sha256 == self.settings_sha
                && prev.outputs.summary.is_some()
                && prev.outputs.iter().all(|o| self.layout.exists(o));
            if done {
                let finished = Finished {
                    record: prev.clone(),
                    unchanged: true,
                };
                return (finished, false);
            }
        }
        let text = match tarjoman_text::decode_with_limit(&bytes, self.cfg.max_bytes) {
            Ok(text) => text,
            Err(e) => {
                record.error = Some(error_chain(&e));
                self.remove_outputs(rel);
                return (self.finish(record, start), false);
            }
        };
        drop(bytes);
        let language = lang::detect(&text);
        record.language = Some(language.name());
        if let Language::Other(name) = &language {
            record.error = Some(match name {
                Some(name) => format!(
                    "the article is in {name}, not Persian or English; tarjoman summarizes only those"
                ),
                None => "cannot tell the article's language (too little text?); tarjoman summarizes Persian and English".to_string(),
            });
            self.remove_outputs(rel);
            return (self.finish(record, start), false);
        }
        record.timings_ms.read = start.elapsed().as_millis() as u64;
        let article = Article {
            rel,
            text: &text,
            language: &language,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| summarizer.summarize(&article)));
        let panicked = outcome.is_err();
        let result = match outcome {
            Ok(result) => result,
            Err(payload) => Err(format!("internal error: {}", panic_message(&payload))),
        };
        match result.and_then(|s| self.write_outputs(rel, s)) {
            Ok((outputs, s)) => {
                record.status = Status::Ok;
                record.outputs = outputs;
                record.chunks = Some(s.chunks);
                record.replacements = Some(s.replacements);
                record.timings_ms.translate = s.translate_ms;
                record.timings_ms.summarize = s.summarize_ms;
            }
            Err(reason) => {
                record.error = Some(reason);
                self.remove_outputs(rel);
            }
        }
        (self.finish(record, start), panicked)
    }

    fn finish(&self, mut record: Record, start: Instant) -> Finished {
        record.timings_ms.total = start.elapsed().as_millis() as u64;
        record.finished_unix = now_unix();
        // A failure that repeats (same input, settings and reason) keeps its
        // earlier record: re-running a finished batch appends nothing.
        if record.status == Status::Failed && self.same_as_before(&record) {
            if let Some(prev) = self.previous.get(&record.path) {
                return Finished {
                    record: prev.clone(),
                    unchanged: true,
                };
            }
        }
        Finished {
            record,
            unchanged: false,
        }
    }

    /// Reads an input, refusing one over the size limit without reading it
    /// and one that (through a link replaced since the walk) now leads
    /// outside the input folder.
    fn read(&self, path: &Path) -> std::result::Result<Vec<u8>, String> {
        use std::io::Read;
        let real = path
            .canonicalize()
            .map_err(|e| format!("cannot open: {e}"))?;
        if !real.starts_with(self.root) {
            return Err("the path now leads outside the input folder; not read".to_string());
        }
        let file = std::fs::File::open(&real).map_err(|e| format!("cannot open: {e}"))?;
        let limit = self.cfg.max_bytes as u64;
        let mut bytes = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read: {e}"))?;
        if bytes.len() as u64 > limit {
            return Err(format!(
                "the input is over the limit of {limit} bytes; split it into articles"
            ));
        }
        Ok(bytes)
    }

    fn write_outputs(
        &self,
        rel: &str,
        s: Summarized,
    ) -> std::result::Result<(Outputs, Summarized), String> {
        if s.summary.is_empty() {
            return Err("the summary came out empty".to_string());
        }
        let mut outputs = Outputs::default();
        if self.cfg.write_translation {
            if let Some(translation) = &s.translation {
                let out = layout::translation_rel(rel);
                let mut text = translation.clone();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                self.layout
                    .write(&out, text.as_bytes())
                    .map_err(|e| error_chain(&e))?;
                outputs.translation = Some(out);
            }
        }
        let out = layout::summary_rel(rel);
        let mut text = s.summary.join("\n");
        text.push('\n');
        self.layout
            .write(&out, text.as_bytes())
            .map_err(|e| error_chain(&e))?;
        outputs.summary = Some(out);
        Ok((outputs, s))
    }

    /// A failed input keeps no summary from an earlier run.
    fn remove_outputs(&self, rel: &str) {
        for out in [layout::summary_rel(rel), layout::translation_rel(rel)] {
            if let Ok(path) = self.layout.resolve(&out) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// An error and its causes, `: `-separated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic".to_string()
    }
}
