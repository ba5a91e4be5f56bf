//! `tarjoman eval --hyp H --ref R`: corpus scores of one system (BLEU,
//! chrF, chrF++, TER as sacreBLEU 2.6.0 computes them, ROUGE as Google's
//! rouge-score 0.1.2), as a table or JSON.

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::{json, Map, Value};
use tarjoman_eval::rouge::{Rouge, RougeType};
use tarjoman_eval::{
    check_aligned, corpus_bleu, corpus_chrf, corpus_chrf_pp, corpus_ter, read_lines, Score,
};

use super::args::{MetricArg, ScoreArgs};

pub(super) fn run_score(args: ScoreArgs) -> Result<ExitCode> {
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
pub(super) fn compute_scores(
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
pub(super) fn format_table(scores: &[(&'static str, Score)]) -> String {
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

#[cfg(test)]
mod tests {
    use tarjoman_eval::rouge::Rouge;

    use super::super::args::MetricArg;
    use super::{compute_scores, format_table};

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
}
