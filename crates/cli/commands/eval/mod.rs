//! `tarjoman eval`: score outputs against references (BLEU, chrF, chrF++, TER
//! as sacreBLEU 2.6.0 computes them, ROUGE as Google's rouge-score 0.1.2),
//! and `tarjoman eval report`: compare systems with confidence intervals and
//! significance tests, as Markdown and a self-contained HTML page.
//!
//! The options are in `args`; each way of running is a file of its own:
//! `score` (plain `eval`), `report` and `run`.

mod args;
mod report;
mod run;
mod score;

use std::process::ExitCode;

use anyhow::Result;

pub use args::Args;
use args::EvalCommand;

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Some(EvalCommand::Report(args)) => report::run_report(args),
        Some(EvalCommand::Run(args)) => run::run_translate_and_score(*args),
        None => score::run_score(args.score),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    use clap::{CommandFactory, FromArgMatches, Parser};

    use super::args::{Args, EvalCommand, MetricArg};
    use super::run;

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
