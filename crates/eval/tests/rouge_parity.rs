//! ROUGE parity with Google's `rouge-score` on TICO-19 sentences.
//!
//! Goldens: `tests/fixtures/rouge/golden.tsv`, made by
//! `scripts/rouge_golden.py` with rouge-score 0.1.2 and nltk 3.10.4 (the
//! file's header names the exact versions). Tolerance 1e-4.

use std::path::{Path, PathBuf};

use tarjoman_eval::rouge::{Rouge, RougeScores, RougeType};

const TOLERANCE: f64 = 1e-4;

/// A real model's output on the same 300 lines (Qwen2.5-Coder-1.5B-Instruct,
/// plain prompt), kept with the sacreBLEU goldens.
const REAL_SET: &str = "qwen25coder-plain-first300";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rouge")
        .join(name)
}

fn lines(name: &str) -> Vec<String> {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines().map(str::to_string).collect()
}

/// One golden row: case, stem flag, line (index or mean_p/mean_r/mean_f) and
/// the values for rouge1, rouge2, rougeL, rougeLsum.
struct Row {
    case: String,
    stem: bool,
    line: String,
    values: [f64; 4],
}

fn golden() -> Vec<Row> {
    lines("golden.tsv")
        .iter()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 7, "bad golden row {l:?}");
            let v = |i: usize| f[i].parse::<f64>().expect("golden value");
            Row {
                case: f[0].to_string(),
                stem: f[1] == "stem",
                line: f[2].to_string(),
                values: [v(3), v(4), v(5), v(6)],
            }
        })
        .collect()
}

/// Compares scores of one case (per line F1 and the means of P, R and F1)
/// with its golden rows; returns how many values were checked.
fn check_case(case: &str, stem: bool, scores: &[RougeScores]) -> usize {
    let rows: Vec<Row> = golden()
        .into_iter()
        .filter(|r| r.case == case && r.stem == stem)
        .collect();
    assert_eq!(
        rows.len(),
        scores.len() + 3,
        "golden rows for {case}/{stem}"
    );
    let n = scores.len() as f64;
    let mut checked = 0;
    for row in &rows {
        for (k, rouge_type) in RougeType::ALL.into_iter().enumerate() {
            let ours = match row.line.as_str() {
                "mean_p" => {
                    scores
                        .iter()
                        .map(|s| s.get(rouge_type).precision)
                        .sum::<f64>()
                        / n
                }
                "mean_r" => scores.iter().map(|s| s.get(rouge_type).recall).sum::<f64>() / n,
                "mean_f" => {
                    scores
                        .iter()
                        .map(|s| s.get(rouge_type).fmeasure)
                        .sum::<f64>()
                        / n
                }
                index => {
                    let i: usize = index.parse().expect("line index");
                    scores[i].get(rouge_type).fmeasure
                }
            };
            let want = row.values[k];
            assert!(
                (ours - want).abs() <= TOLERANCE,
                "{case} stem={stem} line {} {rouge_type}: ours {ours} rouge-score {want}",
                row.line
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn single_reference_files_match_rouge_score() {
    let refs = lines("ref.en");
    for stem in [false, true] {
        let rouge = Rouge::new(stem);
        for case in ["shuffled", "dropped", "noisy", REAL_SET] {
            let hyps = if case == REAL_SET {
                lines(&format!("../hyps/{REAL_SET}.txt"))
            } else {
                lines(&format!("hyp.{case}"))
            };
            let corpus = rouge
                .corpus(&hyps, std::slice::from_ref(&refs))
                .expect("corpus");
            let checked = check_case(case, stem, &corpus.sentences);
            assert_eq!(checked, (refs.len() + 3) * 4);
            // The corpus mean is what `Score` reports, times 100.
            let mean_f1 =
                corpus.sentence_f1(RougeType::RougeL).iter().sum::<f64>() / refs.len() as f64;
            let score = corpus.score(RougeType::RougeL);
            assert!((score.score - 100.0 * mean_f1).abs() < 1e-9);
        }
    }
}

#[test]
fn two_references_match_score_multi() {
    let refs = lines("ref.en");
    let alt = lines("hyp.shuffled");
    let hyps = lines("hyp.dropped");
    for stem in [false, true] {
        let corpus = Rouge::new(stem)
            .corpus(&hyps, &[refs.clone(), alt.clone()])
            .expect("corpus");
        check_case("multi", stem, &corpus.sentences);
        assert!(corpus
            .score(RougeType::Rouge1)
            .signature
            .starts_with("nrefs:2|"));
    }
}

#[test]
fn multi_sentence_documents_match_rouge_lsum() {
    let refs = lines("ref.en");
    let hyps = lines("hyp.dropped");
    const DOC_LINES: usize = 3;
    for stem in [false, true] {
        let rouge = Rouge::new(stem);
        let scores: Vec<RougeScores> = refs
            .chunks(DOC_LINES)
            .zip(hyps.chunks(DOC_LINES))
            .map(|(target, prediction)| {
                let prediction: Vec<&str> = prediction.iter().rev().map(String::as_str).collect();
                rouge.score(&target.join("\n"), &prediction.join("\n"))
            })
            .collect();
        check_case("docs", stem, &scores);
        // Union-LCS over sentences differs from one LCS over the whole text.
        assert!(scores.iter().any(|s| s.rouge_lsum != s.rouge_l));
    }
}
