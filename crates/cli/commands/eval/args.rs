//! The options of `tarjoman eval` and its subcommands `report` and `run`
//! (their `--help`).

use std::path::{Path, PathBuf};

use clap::builder::TypedValueParser as _;
use clap::{Subcommand, ValueEnum};
use tarjoman_eval::bootstrap::BootstrapConfig;

use crate::args::{ModelArgs, TranslationArgs};

/// Score translations or summaries against references.
///
/// Reads a hypothesis file and one or more reference files, aligned line by
/// line, and prints corpus scores on sacreBLEU's 0-100 scale with their
/// signatures. BLEU, chrF, chrF++ and TER match sacreBLEU 2.6.0 exactly;
/// ROUGE matches Google's rouge-score 0.1.2 (score = mean line F1 x 100).
///
/// Examples:
///
///   tarjoman eval --hyp out.en --ref ref.en
///
///   tarjoman eval --hyp out.en --ref ref1.en --ref ref2.en --metrics bleu,chrf
///
///   tarjoman eval --hyp summaries.txt --ref gold.txt --metrics rouge --rouge-stem --json
///
///   tarjoman eval report --ref ref.en --src test.fa --sys base=a.en --sys new=b.en -o report.html
#[derive(Debug, clap::Args)]
#[command(
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<EvalCommand>,

    #[command(flatten)]
    pub score: ScoreArgs,
}

/// `tarjoman eval --hyp H --ref R`: corpus scores of one system.
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// The system's output, one segment per line.
    #[arg(long, value_name = "FILE", required = true)]
    pub hyp: Option<PathBuf>,

    /// A reference file with as many lines as --hyp. Repeat the option for
    /// several references per line.
    #[arg(long = "ref", value_name = "FILE", required = true)]
    pub refs: Vec<PathBuf>,

    /// Metrics to compute, comma-separated. `rouge` means rouge1, rouge2,
    /// rougeL and rougeLsum.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "bleu,chrf,chrf++,ter,rouge"
    )]
    pub metrics: Vec<MetricArg>,

    /// Stem words with the Porter stemmer before computing ROUGE (as
    /// rouge-score's `use_stemmer=True`).
    #[arg(long)]
    pub rouge_stem: bool,

    /// Print one JSON object, e.g. {"bleu": {"score": 34.1, "signature":
    /// "nrefs:1|..."}, ...}, with keys bleu, chrf, chrf_pp, ter, rouge1,
    /// rouge2, rougeL, rougeLsum (those requested).
    #[arg(long)]
    pub json: bool,
}

/// A metric name for --metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum MetricArg {
    /// BLEU (13a tokens, exp smoothing).
    Bleu,
    /// chrF2: character 6-grams.
    Chrf,
    /// chrF2++: character 6-grams and word bigrams.
    #[value(name = "chrf++", alias = "chrfpp")]
    ChrfPp,
    /// Translation edit rate; lower is better.
    Ter,
    /// rouge1, rouge2, rougeL and rougeLsum.
    Rouge,
    /// ROUGE-1: word overlap.
    #[value(name = "rouge1")]
    Rouge1,
    /// ROUGE-2: word-bigram overlap.
    #[value(name = "rouge2")]
    Rouge2,
    /// ROUGE-L: longest common word subsequence.
    #[value(name = "rougeL", alias = "rougel")]
    RougeL,
    /// ROUGE-L over sentences; on one-line segments it equals rougeL.
    #[value(name = "rougeLsum", alias = "rougelsum")]
    RougeLsum,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    Report(ReportArgs),
    Run(Box<RunArgs>),
}

/// Compare systems on one test set: scores with 95% confidence intervals,
/// paired significance tests, and an HTML page with charts and the worst
/// lines.
///
/// Every system is scored with BLEU, chrF2, chrF2++, TER and ROUGE-L. The
/// paired bootstrap (1,000 resamples, seed 12345) is sacreBLEU's
/// --paired-bs, with the same resamples: p-values compare each system with
/// the first. The Markdown table goes to stdout; the HTML page (inline CSS
/// and SVG, nothing fetched, safe to open offline) goes to --output.
///
/// Examples:
///
///   tarjoman eval report --ref test.en --sys baseline=base.en --sys tuned=tuned.en
///
///   tarjoman eval report --ref test.en --src test.fa \
///       --sys baseline=base.en --sys tuned=tuned.en -o compare.html > compare.md
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ReportArgs {
    /// The reference file, one segment per line.
    #[arg(long = "ref", value_name = "FILE")]
    pub reference: PathBuf,

    /// A system as NAME=FILE (or just FILE, named after it). Repeat for
    /// each system; the first is the baseline of the p-values.
    #[arg(long = "sys", value_name = "NAME=FILE", required = true, value_parser = parse_system)]
    pub systems: Vec<NamedFile>,

    /// The source file (Persian), shown right to left next to the worst
    /// lines.
    #[arg(long, value_name = "FILE")]
    pub src: Option<PathBuf>,

    /// Where to write the HTML page (atomically: it appears only when
    /// complete).
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,

    /// How many of the first system's worst lines (by sentence chrF) to list.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub worst: usize,

    /// Each line is a summary (a tab between its sentences): also score
    /// ROUGE-1, ROUGE-2 and ROUGE-Lsum, stemmed, with p-values.
    #[arg(long)]
    pub summaries: bool,

    /// Bootstrap resamples (sacreBLEU's default: 1000).
    #[arg(long, value_name = "N", default_value_t = BootstrapConfig::default().samples,
          value_parser = clap::value_parser!(u64).range(1..).map(|n| n as usize))]
    pub samples: usize,

    /// Seed of the resampling (sacreBLEU's default: 12345).
    #[arg(long, value_name = "N", default_value_t = BootstrapConfig::default().seed)]
    pub seed: u64,

    /// Title of the report.
    #[arg(long, default_value = "Evaluation report")]
    pub title: String,
}

/// A `--sys NAME=FILE` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFile {
    pub name: String,
    pub path: PathBuf,
}

/// Translate a test set with a model, then score it: one command per quality
/// experiment.
///
/// Each source line is translated on its own (lines holding several
/// sentences are split and the translations joined), then the corpus is
/// scored against the references. With context (the default), a line's
/// first sentence sees the previous line's last: the test set is read as
/// one text, cut into --chains contiguous parts that translate side by side. The run record (model, prompt and
/// decoding settings, scores with signatures, wall time, tokens/s) is printed
/// and, with --output, saved with the translations as DIR/run.json and
/// DIR/hyp.txt, so runs can be compared later with `tarjoman eval report`.
///
/// Each line also gets a confidence (its sentences' signals pooled and
/// calibrated); the run reports how well it ranks the lines' sentence chrF++
/// (Spearman, Pearson) and the mean chrF++ of the least confident fifth
/// against the rest. With --output, DIR/lines.jsonl holds each line's
/// confidence, signals, features and sentence chrF++.
///
/// Examples:
///
///   tarjoman eval run --src tico19/test.fa --ref tico19/test.en --limit 300
///
///   tarjoman eval run -m gemma-3-270m --src test.fa --ref test.en --shots 0 \
///       -o runs/gemma-0shot --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// The Persian source file, one segment per line.
    #[arg(long, value_name = "FILE")]
    pub src: PathBuf,

    /// A reference file aligned with --src. Repeat for several references.
    #[arg(long = "ref", value_name = "FILE", required = true)]
    pub refs: Vec<PathBuf>,

    /// Translate and score only the first N lines (after --skip).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Leave out the first N lines: for scoring on lines that something
    /// (such as the confidence calibration) was not fitted on.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub skip: usize,

    /// Metrics to compute, comma-separated (as for `tarjoman eval`).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "bleu,chrf,chrf++,ter"
    )]
    pub metrics: Vec<MetricArg>,

    /// Save the translations (DIR/hyp.txt) and the run record (DIR/run.json)
    /// in this directory, each written atomically.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Print the run record as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,

    /// With context, cut the test set into N contiguous parts, each a chain
    /// of context translated beside the others (the first line of each part
    /// after the first has no context). 1 makes every line wait for the one
    /// before it. Default: --batch, so that the slots stay full.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub chains: Option<u64>,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub translation: TranslationArgs,
}

/// `NAME=FILE`, or `FILE` named after its file name.
fn parse_system(value: &str) -> std::result::Result<NamedFile, String> {
    let (name, path) = match value.split_once('=') {
        Some((name, path)) => (name.trim().to_string(), path),
        None => (file_label(Path::new(value)), value),
    };
    if name.is_empty() {
        return Err(format!("{value:?}: the system name before `=` is empty"));
    }
    if path.is_empty() {
        return Err(format!("{value:?}: the file after `=` is empty"));
    }
    Ok(NamedFile {
        name,
        path: PathBuf::from(path),
    })
}

/// The file name, for labels.
pub(super) fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
