//! The options of `tarjoman summarize` (its `--help`), for one article and
//! for a folder of them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use tarjoman_batch::Shard;

use crate::args::{ModelArgs, TranslationArgs};

/// Summarize an article, or a folder of articles, in 3 to 5 English sentences.
///
/// A Persian article is translated first (sentence by sentence, as
/// `tarjoman translate` does, with `-m`: a GGUF model, or an
/// encoder-decoder one such as NLLB or OPUS-MT); an English one is
/// summarized directly. The summary is printed one sentence per line.
///
/// The default method (grounded) picks what to say from every part of the
/// article, lets the language model fuse each pick into one short
/// sentence, and checks each sentence against the article: a sentence with
/// a number, date or name the article lacks, one that restates another or
/// copies the article, is written again and, if it still fails, replaced by
/// the article's own sentence (said on stderr and in --json). --cite shows
/// which article sentences support each summary sentence.
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
///   tarjoman summarize article.fa.txt --cite
///
///   tarjoman summarize article.fa.txt --method extractive --json
///
///   tarjoman summarize article.fa.txt -m ~/models/nllb-200-distilled-600M
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
    #[arg(long, value_enum, default_value_t = Method::Grounded)]
    pub method: Method,

    /// Print one JSON object: the summary's sentences, each with the
    /// article sentences that support it (`sources`: index, byte span in
    /// the input, support 0-1) and what the guard replaced; the
    /// translation; timings.
    #[arg(long)]
    pub json: bool,

    /// End each summary sentence with the numbers of the article sentences
    /// that support it, counted from 1 (`[3,7]`).
    #[arg(long)]
    pub cite: bool,

    /// The instruction model that writes grounded and abstractive summaries
    /// (a manifest name, GGUF file or hub repo). Default: -m when it is a
    /// GGUF model, else the default model.
    #[arg(long, value_name = "MODEL")]
    pub summarizer: Option<String>,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Translation settings (Persian input only).
    #[command(flatten)]
    pub translation: TranslationArgs,

    #[command(flatten)]
    pub folder: FolderArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Select from every part of the article, fuse each selection into one
    /// sentence with the language model, check every sentence against the
    /// article and cite its sources.
    Grounded,
    /// The language model writes the summary in its own words from the
    /// whole article, in one pass, unchecked.
    Abstractive,
    /// Sentence embeddings (all-MiniLM-L6-v2) pick the article's most
    /// central, non-redundant sentences.
    Extractive,
    /// The article's first sentences.
    Lead,
}

impl From<Method> for tarjoman_engine::summarize::Method {
    fn from(m: Method) -> Self {
        use tarjoman_engine::summarize::Method as M;
        match m {
            Method::Grounded => M::Grounded,
            Method::Abstractive => M::Abstractive,
            Method::Extractive => M::Extractive,
            Method::Lead => M::Lead,
        }
    }
}

/// Options that only apply to a folder.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Folder options")]
pub struct FolderArgs {
    /// Output folder (created if missing). Default: DIR.summaries beside DIR.
    #[arg(short, long, value_name = "OUTDIR")]
    pub output: Option<PathBuf>,

    /// Also write the full English translation of each Persian article
    /// (`NAME.en.txt` beside its summary).
    #[arg(long)]
    pub translate: bool,

    /// Worker threads, each with its own model instances. The cores are
    /// shared out: each worker's candle kernels get cores / N threads
    /// (unless CANDLE_NUM_THREADS or RAYON_NUM_THREADS is set).
    #[arg(short, long, default_value_t = 1, value_name = "N")]
    pub jobs: usize,

    /// Take the files whose path relative to DIR matches PATTERN (`*`
    /// crosses folders: `*.txt` takes `a/b.txt`). Repeatable. Default:
    /// `*.txt` and `*.md`, any case.
    #[arg(long, value_name = "PATTERN")]
    pub glob: Vec<String>,

    /// Take only shard K of N (K counted from 0): a stable partition by a
    /// hash of each file's path, so N machines running K = 0..N-1 (a Slurm
    /// job array, a Kubernetes Indexed Job) share the folder without
    /// overlap. Each writes `manifest.shard-K-of-N.jsonl`; combine them
    /// with `tarjoman manifest merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,

    /// Refuse inputs larger than this many bytes (without reading them).
    #[arg(long, value_name = "BYTES", default_value_t = tarjoman_text::DEFAULT_MAX_BYTES)]
    pub max_bytes: usize,
}

impl FolderArgs {
    /// Folder options make no sense for one file: say so rather than ignore them.
    pub fn refuse_for_file(&self, input: &Path) -> Result<()> {
        let given = [
            (self.output.is_some(), "--output"),
            (self.translate, "--translate"),
            (self.jobs != 1, "--jobs"),
            (!self.glob.is_empty(), "--glob"),
            (self.shard.is_some(), "--shard"),
            (
                self.max_bytes != tarjoman_text::DEFAULT_MAX_BYTES,
                "--max-bytes",
            ),
        ];
        if let Some((_, flag)) = given.iter().find(|(given, _)| *given) {
            bail!(
                "{flag} applies to a folder, and {} is not one",
                input.display()
            );
        }
        Ok(())
    }
}
