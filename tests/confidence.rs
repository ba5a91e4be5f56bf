//! Per-sentence confidence as users see it: `tarjoman check` ranks a
//! faithful translation above a fluent invented one with the default model
//! (tests/fixtures/confidence), and `translate` reports a confidence for
//! every sentence and marks the low ones with --mark-uncertain (on the small
//! test model, for the plumbing).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const SMALL_MODEL: &str = "smollm2-135m-instruct";

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

/// The confidence `tarjoman check` gives each line of `translation`.
fn check(translation: &str) -> Vec<f64> {
    let out = run(bin()
        .args(["check", "--json"])
        .arg(fixture("source.fa.txt"))
        .arg(fixture(translation)));
    json_lines(&out)
        .iter()
        .map(|r| {
            let c = r["confidence"].as_f64().expect("a confidence");
            assert!((0.0..=1.0).contains(&c), "{r}");
            assert!(r["signals"]["tokens"].as_u64().unwrap() > 0, "{r}");
            c
        })
        .collect()
}

#[test]
fn an_invented_translation_gets_a_lower_confidence_than_a_faithful_one() {
    let faithful = check("faithful.en.txt");
    let invented = check("invented.en.txt");
    assert_eq!(faithful.len(), 10);
    assert_eq!(invented.len(), 10);
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
fn check_refuses_translations_that_are_not_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.en.txt");
    std::fs::write(&short, "Only one line.\n").unwrap();
    let out = bin()
        .args(["check", "--model", SMALL_MODEL])
        .arg(fixture("source.fa.txt"))
        .arg(&short)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has 10 lines but") && stderr.contains("short.en.txt has 1"),
        "{stderr}"
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
