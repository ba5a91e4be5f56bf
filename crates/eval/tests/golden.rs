//! Parity with sacreBLEU: every expected number here comes from
//! `tests/fixtures/golden.json`, which `scripts/eval_golden.py` computed with
//! sacreBLEU 2.6.0 (Python 3.11; see the file's header) on the TICO-19 test
//! references (`/work/shared/data/tico19/test.en`, read through a path
//! relative to this crate) and the hypothesis sets in `tests/fixtures/hyps/`.
//!
//! Scores must agree within 1e-9 (sacreBLEU prints two decimals), integer
//! statistics exactly, and signatures and BLEU's printed line character for
//! character.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use tarjoman_eval::{
    lines_from_bytes, pystr, read_lines, BleuConfig, ChrfConfig, CorpusMetric, Score, Smoothing,
    TerConfig, Tokenizer, SACREBLEU_VERSION,
};

const TOLERANCE: f64 = 1e-9;

/// The hypothesis set made by a real model: Qwen2.5-Coder-1.5B-Instruct,
/// plain prompt, on the first 300 TICO-19 lines (`tarjoman eval run --shots 0
/// --limit 300`).
const REAL_SET: &str = "qwen25coder-plain-first300";

#[derive(Deserialize)]
struct Golden {
    header: Header,
    python_whitespace: Vec<u32>,
    corpus: Vec<CorpusEntry>,
    sentence: Vec<SentenceEntry>,
    edge: Vec<EdgeEntry>,
    io: Vec<IoEntry>,
}

#[derive(Deserialize)]
struct Header {
    tool: String,
    version: String,
    command: String,
}

#[derive(Deserialize)]
struct CorpusEntry {
    set: String,
    hyp: String,
    refs: Vec<String>,
    /// Lines scored: the first `lines` of each reference.
    lines: usize,
    metric: String,
    config: Value,
    result: Value,
}

#[derive(Deserialize)]
struct SentenceEntry {
    set: String,
    hyp: String,
    refs: Vec<String>,
    metric: String,
    config: Value,
    n: usize,
    result: SentenceResult,
}

#[derive(Deserialize)]
struct SentenceResult {
    signature: String,
    scores: Vec<f64>,
    stats: Vec<Value>,
}

#[derive(Deserialize)]
struct EdgeEntry {
    name: String,
    #[serde(default)]
    hyps: Vec<String>,
    #[serde(default)]
    refs: Vec<Vec<String>>,
    long: Option<LongRecipe>,
    results: Vec<EdgeResult>,
}

/// A very long line: the first `chars` characters of a file's lines joined
/// with spaces (see `long_case` in the script).
#[derive(Deserialize)]
struct LongRecipe {
    hyp: String,
    #[serde(rename = "ref")]
    reference: String,
    chars: usize,
}

#[derive(Deserialize)]
struct EdgeResult {
    metric: String,
    config: Value,
    corpus: Value,
    sentence: Option<SentenceResult>,
}

#[derive(Deserialize)]
struct IoEntry {
    file: String,
    lines: Vec<String>,
}

fn crate_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn golden() -> Golden {
    let path = crate_path("tests/fixtures/golden.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads a fixture (plain or `.gz`) the way `read_lines` does.
fn load(rel: &str) -> Vec<String> {
    let path = crate_path(rel);
    if rel.ends_with(".gz") {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        lines_from_bytes(&bytes, &path).unwrap_or_else(|e| panic!("{e}"))
    } else {
        read_lines(&path).unwrap_or_else(|e| {
            panic!("{e} (the TICO-19 references are expected at /work/shared/data/tico19)")
        })
    }
}

#[derive(Default)]
struct Files(HashMap<String, Vec<String>>);

impl Files {
    fn get(&mut self, rel: &str) -> &[String] {
        self.0.entry(rel.to_string()).or_insert_with(|| load(rel))
    }
}

/// A metric configured from the sacreBLEU keyword arguments in golden.json.
enum Configured {
    Bleu(BleuConfig),
    Chrf(ChrfConfig),
    Ter(TerConfig),
}

fn flag(config: &Value, key: &str) -> bool {
    config[key]
        .as_bool()
        .unwrap_or_else(|| panic!("config {key} not a bool: {config}"))
}

fn number(config: &Value, key: &str) -> u64 {
    config[key]
        .as_u64()
        .unwrap_or_else(|| panic!("config {key} not a count: {config}"))
}

impl Configured {
    fn new(metric: &str, config: &Value) -> Self {
        match metric {
            "bleu" => {
                let value = config["smooth_value"].as_f64();
                let smoothing = match config["smooth_method"].as_str() {
                    Some("exp") => Smoothing::Exp,
                    Some("none") => Smoothing::None,
                    Some("floor") => value.map_or(Smoothing::FLOOR_DEFAULT, Smoothing::Floor),
                    Some("add-k") => value.map_or(Smoothing::ADD_K_DEFAULT, Smoothing::AddK),
                    other => panic!("smooth_method {other:?}"),
                };
                let tokenizer: Tokenizer = config["tokenize"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_else(|| panic!("tokenize in {config}"));
                Configured::Bleu(BleuConfig {
                    lowercase: flag(config, "lowercase"),
                    tokenizer,
                    smoothing,
                    effective_order: flag(config, "effective_order"),
                })
            }
            "chrf" => Configured::Chrf(ChrfConfig {
                char_order: number(config, "char_order") as usize,
                word_order: number(config, "word_order") as usize,
                beta: number(config, "beta") as u32,
                lowercase: flag(config, "lowercase"),
                whitespace: flag(config, "whitespace"),
                eps_smoothing: flag(config, "eps_smoothing"),
            }),
            "ter" => {
                assert!(
                    !flag(config, "asian_support"),
                    "asian_support is not implemented"
                );
                Configured::Ter(TerConfig {
                    case_sensitive: flag(config, "case_sensitive"),
                    normalized: flag(config, "normalized"),
                    no_punct: flag(config, "no_punct"),
                })
            }
            other => panic!("unknown metric {other}"),
        }
    }

    fn corpus(&self, hyps: &[String], refs: &[Vec<String>]) -> Score {
        let score = match self {
            Configured::Bleu(c) => c.corpus_score(hyps, refs),
            Configured::Chrf(c) => c.corpus_score(hyps, refs),
            Configured::Ter(c) => c.corpus_score(hyps, refs),
        };
        score.unwrap_or_else(|e| panic!("scoring failed: {e}"))
    }

    fn sentence(&self, hyp: &str, refs: &[&str]) -> Score {
        let score = match self {
            Configured::Bleu(c) => c.sentence_score(hyp, refs),
            Configured::Chrf(c) => c.sentence_score(hyp, refs),
            Configured::Ter(c) => c.sentence_score(hyp, refs),
        };
        score.unwrap_or_else(|e| panic!("scoring failed: {e}"))
    }
}

/// Mismatches, collected so that one run shows all of them.
#[derive(Default)]
struct Report {
    failures: Vec<String>,
    checked: usize,
}

impl Report {
    fn close(&mut self, what: &str, actual: f64, expected: f64) {
        self.checked += 1;
        if (actual - expected).abs() > TOLERANCE {
            self.failures
                .push(format!("{what}: got {actual:?}, sacreBLEU {expected:?}"));
        }
    }

    fn equal<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, actual: T, expected: T) {
        self.checked += 1;
        if actual != expected {
            self.failures
                .push(format!("{what}: got {actual:?}, sacreBLEU {expected:?}"));
        }
    }

    /// Compares a score with sacreBLEU's: the score, and the BLEU or TER
    /// statistics present in `expected`.
    fn score(&mut self, what: &str, actual: &Score, expected: &Value) {
        let f = |key: &str| {
            expected[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{what}: no {key}"))
        };
        let u = |key: &str| {
            expected[key]
                .as_u64()
                .unwrap_or_else(|| panic!("{what}: no {key}"))
        };
        let us = |key: &str| -> Vec<u64> {
            expected[key]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: no {key}"))
                .iter()
                .map(|v| {
                    v.as_u64()
                        .unwrap_or_else(|| panic!("{what}: {key} not ints"))
                })
                .collect()
        };
        self.close(&format!("{what} score"), actual.score, f("score"));
        if let Some(name) = expected["name"].as_str() {
            self.equal(&format!("{what} name"), actual.name.as_str(), name);
        }
        if let Some(signature) = expected["signature"].as_str() {
            self.equal(
                &format!("{what} signature"),
                actual.signature.as_str(),
                signature,
            );
        }
        if expected.get("counts").is_some() {
            let Some(d) = actual.bleu() else {
                self.failures.push(format!("{what}: not a BLEU score"));
                return;
            };
            self.equal(&format!("{what} counts"), d.counts.to_vec(), us("counts"));
            self.equal(&format!("{what} totals"), d.totals.to_vec(), us("totals"));
            self.equal(&format!("{what} sys_len"), d.sys_len, u("sys_len"));
            self.equal(&format!("{what} ref_len"), d.ref_len, u("ref_len"));
            self.close(&format!("{what} bp"), d.bp, f("bp"));
            if let Some(precisions) = expected["precisions"].as_array() {
                for (n, p) in precisions.iter().enumerate() {
                    let p = p.as_f64().unwrap_or_else(|| panic!("{what}: precision"));
                    self.close(&format!("{what} precision {}", n + 1), d.precisions[n], p);
                }
            }
            if let Some(formatted) = expected["formatted"].as_str() {
                self.equal(
                    &format!("{what} printed"),
                    actual.to_string().as_str(),
                    formatted,
                );
            }
        }
        if expected.get("num_edits").is_some() {
            let Some(d) = actual.ter() else {
                self.failures.push(format!("{what}: not a TER score"));
                return;
            };
            self.equal(&format!("{what} num_edits"), d.num_edits, u("num_edits"));
            self.close(&format!("{what} ref_length"), d.ref_length, f("ref_length"));
        }
    }

    fn sentences(
        &mut self,
        what: &str,
        metric: &Configured,
        hyps: &[String],
        refs: &[Vec<String>],
        expected: &SentenceResult,
    ) {
        assert_eq!(expected.scores.len(), hyps.len(), "{what}");
        for (i, hyp) in hyps.iter().enumerate() {
            let seg_refs: Vec<&str> = refs.iter().map(|r| r[i].as_str()).collect();
            let score = metric.sentence(hyp, &seg_refs);
            let mut want = expected.stats[i].clone();
            want["score"] = Value::from(expected.scores[i]);
            want["signature"] = Value::from(expected.signature.as_str());
            self.score(&format!("{what} line {}", i + 1), &score, &want);
        }
    }

    fn finish(self, min_checks: usize) {
        assert!(
            self.checked >= min_checks,
            "only {} comparisons ran, expected at least {min_checks}",
            self.checked
        );
        assert!(
            self.failures.is_empty(),
            "{} of {} comparisons differ from sacreBLEU:\n{}",
            self.failures.len(),
            self.checked,
            self.failures
                .iter()
                .take(30)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn header_names_tool_version_and_command() {
    let g = golden();
    assert_eq!(g.header.tool, "sacrebleu");
    assert_eq!(g.header.version, SACREBLEU_VERSION);
    assert!(
        g.header.command.contains("scripts/eval_golden.py"),
        "{}",
        g.header.command
    );
}

#[test]
fn corpus_scores_match_sacrebleu() {
    let g = golden();
    let mut files = Files::default();
    let mut report = Report::default();
    let mut sets = std::collections::BTreeSet::new();
    for entry in &g.corpus {
        let hyps = files.get(&entry.hyp).to_vec();
        let refs: Vec<Vec<String>> = entry
            .refs
            .iter()
            .map(|r| files.get(r)[..entry.lines].to_vec())
            .collect();
        assert_eq!(hyps.len(), entry.lines, "{}", entry.hyp);
        let metric = Configured::new(&entry.metric, &entry.config);
        let what = format!(
            "{} x{} {} {}",
            entry.set,
            refs.len(),
            entry.metric,
            entry.config
        );
        report.score(&what, &metric.corpus(&hyps, &refs), &entry.result);
        sets.insert(entry.set.as_str());
    }
    // The reference itself, shuffled, word-dropped, MT-like and a real
    // model's output at least.
    for set in ["reference", "shuffled", "dropped", "mtlike", REAL_SET] {
        assert!(sets.contains(set), "no golden values for {set}");
    }
    assert!(
        g.corpus.iter().any(|e| e.refs.len() == 2),
        "no 2-reference case"
    );
    report.finish(g.corpus.len());
}

#[test]
fn sentence_scores_match_sacrebleu() {
    let g = golden();
    let mut files = Files::default();
    let mut report = Report::default();
    let mut lines = 0;
    for entry in &g.sentence {
        let hyps = files.get(&entry.hyp)[..entry.n].to_vec();
        let refs: Vec<Vec<String>> = entry
            .refs
            .iter()
            .map(|r| files.get(r)[..entry.n].to_vec())
            .collect();
        let metric = Configured::new(&entry.metric, &entry.config);
        let what = format!(
            "{} x{} {} {}",
            entry.set,
            refs.len(),
            entry.metric,
            entry.config
        );
        report.sentences(&what, &metric, &hyps, &refs, &entry.result);
        lines += entry.n;
    }
    report.finish(lines);
}

#[test]
fn edge_cases_match_sacrebleu() {
    let g = golden();
    let mut files = Files::default();
    let mut report = Report::default();
    let mut names = Vec::new();
    for entry in &g.edge {
        let (hyps, refs) = match &entry.long {
            Some(long) => {
                let join =
                    |lines: &[String]| lines.join(" ").chars().take(long.chars).collect::<String>();
                let hyp = join(files.get(&long.hyp));
                let reference = join(files.get(&long.reference));
                assert_eq!(hyp.chars().count(), long.chars);
                (vec![hyp], vec![vec![reference]])
            }
            None => (entry.hyps.clone(), entry.refs.clone()),
        };
        for result in &entry.results {
            let metric = Configured::new(&result.metric, &result.config);
            let what = format!("{} {} {}", entry.name, result.metric, result.config);
            report.score(&what, &metric.corpus(&hyps, &refs), &result.corpus);
            if let Some(sentence) = &result.sentence {
                report.sentences(&what, &metric, &hyps, &refs, sentence);
            }
        }
        names.push(entry.name.as_str());
    }
    for name in [
        "empty_hypothesis_lines",
        "persian",
        "emoji",
        "long_100000_chars",
    ] {
        assert!(names.contains(&name), "no golden values for {name}");
    }
    report.finish(g.edge.len() * 4);
}

#[test]
fn files_are_read_like_sacrebleu() {
    let g = golden();
    assert!(g.io.len() >= 5);
    for entry in &g.io {
        let mut expected = entry.lines.clone();
        if entry.file.ends_with("bom.txt") {
            // The one intended difference: sacreBLEU keeps the BOM as U+FEFF.
            let first = expected.first_mut().expect("bom.txt has lines");
            assert!(first.starts_with('\u{feff}'), "{first:?}");
            first.remove(0);
        }
        let actual = read_lines(crate_path(&entry.file)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(actual, expected, "{}", entry.file);
    }
}

#[test]
fn python_whitespace_set() {
    let g = golden();
    let python: std::collections::HashSet<u32> = g.python_whitespace.iter().copied().collect();
    let ours: std::collections::HashSet<u32> = (0..=0x10FFFFu32)
        .filter_map(char::from_u32)
        .filter(|&c| pystr::is_whitespace(c))
        .map(u32::from)
        .collect();
    assert_eq!(ours, python);
}
