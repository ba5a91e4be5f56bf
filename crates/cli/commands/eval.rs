//! `tarjoman eval`: score outputs against references (BLEU, chrF, chrF++, TER
//! as sacreBLEU 2.6.0 computes them, ROUGE as Google's rouge-score 0.1.2),
//! and `tarjoman eval report`: compare systems with confidence intervals and
//! significance tests, as Markdown and a self-contained HTML page.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::builder::TypedValueParser as _;
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Map, Value};
use tarjoman_engine::translate::Event;
use tarjoman_eval::bootstrap::BootstrapConfig;
use tarjoman_eval::report::{Report, ReportOptions, SystemOutput};
use tarjoman_eval::rouge::{Rouge, RougeType};
use tarjoman_eval::{
    check_aligned, corpus_bleu, corpus_chrf, corpus_chrf_pp, corpus_ter, read_lines, Score,
};

use crate::commands::translate::{ModelArgs, TranslationArgs};
use crate::input::AtomicOutput;

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

    /// Translate and score only the first N lines.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

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

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Some(EvalCommand::Report(report)) => run_report(report),
        Some(EvalCommand::Run(run)) => run_translate_and_score(*run),
        None => run_score(args.score),
    }
}

fn run_score(args: ScoreArgs) -> Result<ExitCode> {
    let Some(hyp_path) = args.hyp.as_deref() else {
        bail!("--hyp is required (or use `tarjoman eval report`)");
    };
    let hyps = read_lines(hyp_path)?;
    let mut refs = Vec::with_capacity(args.refs.len());
    for ref_path in &args.refs {
        let lines = read_lines(ref_path)?;
        check_aligned(hyp_path, hyps.len(), ref_path, lines.len())?;
        refs.push(lines);
    }
    let scores = compute_scores(&hyps, &refs, &args.metrics, args.rouge_stem)?;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let object: Map<String, Value> = scores
            .iter()
            .map(|(key, score)| {
                (
                    key.to_string(),
                    json!({ "score": score.score, "signature": score.signature }),
                )
            })
            .collect();
        serde_json::to_writer(&mut out, &Value::Object(object))?;
        writeln!(out)?;
    } else {
        write!(out, "{}", format_table(&scores))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The requested scores, each with its JSON key, in a fixed order (duplicate
/// requests collapse).
fn compute_scores(
    hyps: &[String],
    refs: &[Vec<String>],
    metrics: &[MetricArg],
    rouge_stem: bool,
) -> Result<Vec<(&'static str, Score)>> {
    let wanted: HashSet<MetricArg> = metrics.iter().copied().collect();
    let wants = |m: MetricArg| wanted.contains(&m);
    let mut scores = Vec::new();
    if wants(MetricArg::Bleu) {
        scores.push(("bleu", corpus_bleu(hyps, refs)?));
    }
    if wants(MetricArg::Chrf) {
        scores.push(("chrf", corpus_chrf(hyps, refs)?));
    }
    if wants(MetricArg::ChrfPp) {
        scores.push(("chrf_pp", corpus_chrf_pp(hyps, refs)?));
    }
    if wants(MetricArg::Ter) {
        scores.push(("ter", corpus_ter(hyps, refs)?));
    }
    let rouge_types: Vec<RougeType> = RougeType::ALL
        .into_iter()
        .filter(|&t| {
            wants(MetricArg::Rouge)
                || wants(match t {
                    RougeType::Rouge1 => MetricArg::Rouge1,
                    RougeType::Rouge2 => MetricArg::Rouge2,
                    RougeType::RougeL => MetricArg::RougeL,
                    RougeType::RougeLsum => MetricArg::RougeLsum,
                })
        })
        .collect();
    if !rouge_types.is_empty() {
        let corpus = Rouge::new(rouge_stem).corpus(hyps, refs)?;
        for t in rouge_types {
            scores.push((t.name(), corpus.score(t)));
        }
    }
    Ok(scores)
}

/// `metric  score  signature`, aligned.
fn format_table(scores: &[(&'static str, Score)]) -> String {
    let width = scores
        .iter()
        .map(|(_, s)| s.name.chars().count())
        .chain(["metric".len()])
        .max()
        .unwrap_or(6);
    let mut out = format!("{:<width$}  {:>6}  signature\n", "metric", "score");
    for (_, score) in scores {
        out.push_str(&format!(
            "{:<width$}  {:>6.2}  {}\n",
            score.name, score.score, score.signature
        ));
    }
    out
}

fn run_translate_and_score(args: RunArgs) -> Result<ExitCode> {
    let mut sources = read_lines(&args.src)?;
    let mut refs = Vec::with_capacity(args.refs.len());
    for ref_path in &args.refs {
        let lines = read_lines(ref_path)?;
        check_aligned(&args.src, sources.len(), ref_path, lines.len())?;
        refs.push(lines);
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
    let per_sec = |tokens: usize, ms: u64| (ms > 0).then(|| tokens as f64 * 1000.0 / ms as f64);
    let record = json!({
        "tarjoman": env!("CARGO_PKG_VERSION"),
        "model": loaded.name(),
        "src": args.src.display().to_string(),
        "refs": args.refs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
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
    });
    if let Some(dir) = &args.output {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut hyp_file = AtomicOutput::create(&dir.join("hyp.txt"))?;
        for line in &hyps {
            writeln!(hyp_file.writer(), "{line}")?;
        }
        hyp_file.commit()?;
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
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
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

fn run_report(args: ReportArgs) -> Result<ExitCode> {
    let refs = read_lines(&args.reference)?;
    let mut names = HashSet::new();
    let mut systems = Vec::with_capacity(args.systems.len());
    for NamedFile { name, path } in &args.systems {
        if !names.insert(name.as_str()) {
            bail!("two systems are named {name:?}; name them with --sys NAME=FILE");
        }
        let hyps = read_lines(path)?;
        check_aligned(path, hyps.len(), &args.reference, refs.len())?;
        systems.push(SystemOutput {
            name: name.clone(),
            hyps,
        });
    }
    let source = match &args.src {
        Some(path) => {
            let lines = read_lines(path)?;
            if lines.len() != refs.len() {
                bail!(
                    "{} has {} lines but {} has {}: the source and the reference must be \
                     aligned line by line",
                    path.display(),
                    lines.len(),
                    args.reference.display(),
                    refs.len()
                );
            }
            Some(lines)
        }
        None => None,
    };
    let options = ReportOptions {
        title: args.title.clone(),
        reference_label: file_label(&args.reference),
        source_label: args.src.as_deref().map(file_label),
        bootstrap: BootstrapConfig {
            samples: args.samples,
            seed: args.seed,
        },
        worst_lines: args.worst,
    };
    eprintln!(
        "scoring {} systems on {} lines ({} bootstrap resamples)...",
        systems.len(),
        refs.len(),
        args.samples
    );
    let report = Report::build(&systems, &[refs], source.as_deref(), &options)?;

    let mut html = AtomicOutput::create(&args.output)?;
    html.writer()
        .write_all(report.html().as_bytes())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    html.commit()?;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(report.markdown().as_bytes())?;
    out.flush()?;
    eprintln!("wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
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
fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> std::result::Result<Args, clap::Error> {
        let matches = Cli::command()
            .try_get_matches_from(std::iter::once("eval").chain(argv.iter().copied()))?;
        Ok(Cli::from_arg_matches(&matches)?.args)
    }

    #[test]
    fn plain_eval_and_subcommands_parse() {
        let args = parse(&[
            "--hyp",
            "h.txt",
            "--ref",
            "r1",
            "--ref",
            "r2",
            "--metrics",
            "bleu,chrf++,rougeL",
        ])
        .unwrap();
        assert!(args.command.is_none());
        assert_eq!(args.score.refs.len(), 2);
        assert_eq!(
            args.score.metrics,
            [MetricArg::Bleu, MetricArg::ChrfPp, MetricArg::RougeL]
        );

        let args = parse(&["report", "--ref", "r", "--sys", "a=x.txt", "--sys", "y.txt"]).unwrap();
        let Some(EvalCommand::Report(report)) = args.command else {
            panic!("expected report");
        };
        assert_eq!(report.systems[0].name, "a");
        assert_eq!(report.systems[1].name, "y.txt");
        assert_eq!(report.output, PathBuf::from("report.html"));
        assert_eq!(report.samples, 1000);

        let args = parse(&["run", "--src", "s", "--ref", "r", "--limit", "5"]).unwrap();
        let Some(EvalCommand::Run(run_args)) = args.command else {
            panic!("not parsed as `eval run`");
        };
        assert_eq!(run_args.limit, Some(5));
        assert_eq!(run_args.refs, [PathBuf::from("r")]);
    }

    #[test]
    fn eval_run_checks_alignment_before_loading_a_model() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.fa");
        let reference = dir.path().join("ref.en");
        std::fs::write(&src, "یک\nدو\nسه\n").unwrap();
        std::fs::write(&reference, "one\ntwo\n").unwrap();
        let (s, r) = (src.to_str().unwrap(), reference.to_str().unwrap());
        // A model name that does not exist: alignment must fail first.
        let args = parse(&["run", "--src", s, "--ref", r, "-m", "no-such-model"]).unwrap();
        let err = format!("{:#}", run(args).unwrap_err());
        assert!(err.contains("src.fa") && err.contains("ref.en"), "{err}");
        assert!(err.contains('3') && err.contains('2'), "{err}");
    }

    #[test]
    fn missing_required_options_are_usage_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--hyp", "h"]).is_err());
        assert!(parse(&["report", "--ref", "r"]).is_err());
        assert!(parse(&["--metrics", "bleu,nope", "--hyp", "h", "--ref", "r"]).is_err());
        assert!(parse(&["report", "--ref", "r", "--sys", "=x"]).is_err());
        assert!(parse(&["report", "--ref", "r", "--sys", "a", "--samples", "0"]).is_err());
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn scores_have_json_keys_in_order() {
        let hyps = vec![
            "the cat sat on the mat".to_string(),
            "hello world".to_string(),
        ];
        let refs = vec![vec![
            "the cat sat on a mat".to_string(),
            "hello there world".to_string(),
        ]];
        let all = [
            MetricArg::Bleu,
            MetricArg::Chrf,
            MetricArg::ChrfPp,
            MetricArg::Ter,
            MetricArg::Rouge,
        ];
        let scores = compute_scores(&hyps, &refs, &all, false).unwrap();
        let keys: Vec<&str> = scores.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "bleu",
                "chrf",
                "chrf_pp",
                "ter",
                "rouge1",
                "rouge2",
                "rougeL",
                "rougeLsum"
            ]
        );
        let rouge1 = &scores[4].1;
        let expected = Rouge::new(false)
            .corpus(&hyps, &refs)
            .unwrap()
            .mean
            .rouge1
            .fmeasure
            * 100.0;
        assert!((rouge1.score - expected).abs() < 1e-9);
        assert!(rouge1.signature.contains("rouge:1|stem:no"));
        let table = format_table(&scores);
        assert_eq!(table.lines().count(), 9);
        assert!(table.contains("chrF2++"));

        let only =
            compute_scores(&hyps, &refs, &[MetricArg::Rouge2, MetricArg::Rouge2], true).unwrap();
        assert_eq!(only.len(), 1);
        assert!(only[0].1.signature.contains("stem:yes"));
    }

    #[test]
    fn misaligned_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let hyp = write(dir.path(), "hyp.txt", "a\nb\nc\n");
        let reference = write(dir.path(), "ref.txt", "a\nb\n");
        let args = parse(&[
            "--hyp",
            hyp.to_str().unwrap(),
            "--ref",
            reference.to_str().unwrap(),
        ])
        .unwrap();
        let err = format!("{:#}", run(args).unwrap_err());
        assert!(
            err.contains("hyp.txt has 3 lines") && err.contains("ref.txt has 2"),
            "{err}"
        );

        let missing = dir.path().join("nope.txt");
        let args = parse(&[
            "--hyp",
            missing.to_str().unwrap(),
            "--ref",
            reference.to_str().unwrap(),
        ])
        .unwrap();
        let err = format!("{:#}", run(args).unwrap_err());
        assert!(err.contains("nope.txt"), "{err}");
    }

    #[test]
    fn report_writes_html_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let reference = write(
            dir.path(),
            "ref.txt",
            "the cat sat\nit rains today\na b c\n",
        );
        let a = write(dir.path(), "a.txt", "the cat sat\nit rains\nx y z\n");
        let b = write(dir.path(), "b.txt", "a cat sits\nit rains today\na b c\n");
        let src = write(
            dir.path(),
            "src.fa",
            "گربه نشست\nامروز باران می‌بارد\nالف ب پ\n",
        );
        let html = dir.path().join("out.html");
        let args = parse(&[
            "report",
            "--ref",
            reference.to_str().unwrap(),
            "--src",
            src.to_str().unwrap(),
            "--sys",
            &format!("base={}", a.display()),
            "--sys",
            &format!("new={}", b.display()),
            "-o",
            html.to_str().unwrap(),
            "--samples",
            "50",
        ])
        .unwrap();
        assert_eq!(run(args).unwrap(), ExitCode::SUCCESS);
        let page = std::fs::read_to_string(&html).unwrap();
        assert!(page.contains("dir=\"rtl\""));
        assert!(page.contains("امروز باران می‌بارد"));
        // Only the report is left: the temporary file was renamed over it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
