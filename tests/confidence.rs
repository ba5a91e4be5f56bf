//! Per-sentence confidence: with the default model, a faithful translation
//! scores above a fluent invented one (tests/fixtures/confidence,
//! `Translator::score`), and `translate` reports a confidence for every
//! sentence and marks the low ones with --mark-uncertain (on the small test
//! model, for the plumbing).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tarjoman_engine::confidence::Calibration;
use tarjoman_engine::{TranslateOptions, TranslationModel};

const SMALL_MODEL: &str = "smollm2-135m-instruct";
const DEFAULT_MODEL: &str = "qwen2.5-coder-1.5b-instruct";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tarjoman"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/confidence")
        .join(name)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run tarjoman");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "tarjoman panicked: {stderr}");
    assert!(out.status.success(), "{stderr}");
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// The default model's GGUF file, where `tarjoman models path` puts it
/// (scripts/test.sh pulls it).
fn default_model() -> PathBuf {
    let out = run(bin().args(["models", "path", DEFAULT_MODEL]));
    let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "gguf"))
        .unwrap_or_else(|| panic!("no GGUF file in {}", dir.display()))
}

fn lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn an_invented_translation_gets_a_lower_confidence_than_a_faithful_one() {
    let mut model = TranslationModel::load(&default_model()).expect("the default model");
    let mut translator = model.translator(TranslateOptions::default()).unwrap();
    let calibration = Calibration::builtin().expect("the built-in calibration");
    let sources = lines("source.fa.txt");
    let mut confidence = |file: &str| -> Vec<f64> {
        sources
            .iter()
            .zip(lines(file))
            .map(|(source, english)| {
                let signals = translator.score(source, &english).expect("scored");
                assert!(signals.tokens > 0);
                calibration.confidence(&signals)
            })
            .collect()
    };
    let faithful = confidence("faithful.en.txt");
    let invented = confidence("invented.en.txt");
    assert_eq!((faithful.len(), invented.len()), (10, 10));
    let ranked = faithful
        .iter()
        .zip(&invented)
        .filter(|(f, i)| f > i)
        .count();
    assert!(
        ranked >= 9,
        "faithful above invented on {ranked} of 10 lines: {faithful:?} against {invented:?}"
    );
}

#[test]
fn translate_reports_confidence_and_marks_uncertain_sentences() {
    let input = fixture("source.fa.txt");
    let base = || {
        let mut cmd = bin();
        cmd.args([
            "translate",
            "--model",
            SMALL_MODEL,
            "--no-names",
            "--no-retry",
        ]);
        cmd.arg(&input);
        cmd
    };
    let records = json_lines(&run(base().arg("--json")));
    assert_eq!(records.len(), 10);
    for r in &records {
        let c = r["confidence"]
            .as_f64()
            .expect("every sentence has a confidence");
        assert!((0.0..=1.0).contains(&c), "{r}");
        assert!(r["signals"]["tokens"].as_u64().unwrap() > 0, "{r}");
        assert!(r["signals"]["logprob_sum"].as_f64().unwrap() <= 0.0, "{r}");
    }
    // Every confidence is below 1, so every sentence is marked and listed.
    let out = run(base().args(["--mark-uncertain", "1"]));
    let text = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(text.lines().count(), 10);
    for line in text.lines() {
        assert!(line.starts_with('⟦') && line.ends_with('⟧'), "{line}");
    }
    assert!(
        stderr.contains("10 of 10 sentences have a confidence below 1"),
        "{stderr}"
    );
    // Nothing is below 0: the text is the plain translation.
    let out = run(base().args(["--mark-uncertain", "0"]));
    assert!(!String::from_utf8(out.stdout).unwrap().contains('⟦'));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no sentence has a confidence below 0"));
    // A threshold outside 0-1 is refused by name.
    let out = base().args(["--mark-uncertain", "7"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a confidence threshold"));
}

#[test]
fn retry_below_retries_sentences_that_pass_but_are_unsure() {
    // Three sentences of the fixture, on the small model.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("three.fa.txt");
    let text: Vec<String> = std::fs::read_to_string(fixture("source.fa.txt"))
        .unwrap()
        .lines()
        .take(3)
        .map(str::to_string)
        .collect();
    std::fs::write(&input, text.join("\n") + "\n").unwrap();
    let records = |extra: &[&str]| {
        let mut cmd = bin();
        cmd.args(["translate", "--model", SMALL_MODEL, "--no-names", "--json"]);
        cmd.args(extra).arg(&input);
        json_lines(&run(&mut cmd))
    };
    let retried = |records: &[Value]| {
        records
            .iter()
            .filter(|r| r["retried"].as_bool() == Some(true))
            .count()
    };
    // Every confidence is below 1, so every sentence is retried, whether
    // or not it failed a check; each keeps a translation and a confidence.
    let all = records(&["--retry-below", "1"]);
    assert_eq!(all.len(), 3);
    assert_eq!(retried(&all), 3, "{all:?}");
    assert!(all.iter().all(|r| r["confidence"].as_f64().is_some()));
    // 0 is the default: failing sentences only, the earliest of equals.
    let text = |records: &[Value]| -> Vec<String> {
        records
            .iter()
            .map(|r| r["translation"].to_string())
            .collect()
    };
    assert_eq!(text(&records(&[])), text(&records(&["--retry-below", "0"])));
    // A threshold outside 0-1 is refused by name.
    let out = bin()
        .args(["translate", "--retry-below", "2"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a confidence threshold"));
}
