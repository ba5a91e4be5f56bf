//! `tarjoman translate` and `tarjoman eval run` with encoder-decoder model
//! directories: the tiny random M2M100 (NLLB-style tokenizer) and Marian
//! fixtures of `tarjoman-models` (see its tests/fixtures/README.md). Their
//! weights are random, so these check the plumbing (exit status, one output
//! line per input sentence, the --json records), never translation quality.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tarjoman"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/models/tests/fixtures")
        .join(name)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run tarjoman");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "tarjoman panicked: {stderr}");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const SENTENCES: [&str; 3] = [
    "گفت‌وگوهای صلح در استانبول ادامه دارد.",
    "آتش‌بس میان دو کشور همسایه ادامه دارد.",
    "صلح در استانبول.",
];

fn input(dir: &Path) -> PathBuf {
    let path = dir.join("input.fa.txt");
    std::fs::write(&path, SENTENCES.join("\n") + "\n").unwrap();
    path
}

/// The Marian fixture has no tokenizer: a copy of it with a word-level
/// `tokenizer.json` over its 256 ids (`t0` .. `t255`; every Persian word is
/// `<unk>`, id 3), appending its EOS (0) as Marian's tokenizer does.
fn marian_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("marian");
    std::fs::create_dir(&dir).unwrap();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("marian").join(file), dir.join(file)).unwrap();
    }
    let vocab: serde_json::Map<String, serde_json::Value> = (0..256)
        .map(|i| (format!("t{i}"), serde_json::json!(i)))
        .collect();
    let doc = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 0, "content": "t0", "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "t0", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
            "special_tokens": {"t0": {"id": "t0", "ids": [0], "tokens": ["t0"]}}},
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "t3"},
    });
    std::fs::write(dir.join("tokenizer.json"), doc.to_string()).unwrap();
    dir
}

fn check_translate(model: &Path, input: &Path) {
    let out = run(bin().arg("translate").arg(input).arg("-m").arg(model));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), SENTENCES.len(), "{text:?}");

    let out = run(bin()
        .args(["translate", "--json"])
        .arg(input)
        .arg("--model")
        .arg(model));
    assert!(out.status.success(), "{}", stderr(&out));
    let records: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), SENTENCES.len());
    for (i, (r, source)) in records.iter().zip(SENTENCES).enumerate() {
        assert_eq!(r["index"], i);
        assert_eq!(r["line"], i);
        assert_eq!(r["kind"], "sentence");
        assert_eq!(r["source"], source);
        assert!(r["translation"].is_string());
        assert!(r["span"].as_array().is_some_and(|s| s.len() == 2));
        assert!(r["source_tokens"].as_u64().unwrap() > 0);
        assert!(r["output_tokens"].as_u64().is_some());
        assert!(r["ms"].as_u64().is_some());
        assert!(r["stop_reason"].is_string());
        assert!(r["warnings"].is_array());
    }
}

#[test]
fn translate_runs_m2m100_and_marian_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let input = input(tmp.path());
    check_translate(&fixture("m2m100"), &input);
    check_translate(&marian_dir(tmp.path()), &input);
}

#[test]
fn eval_run_scores_an_m2m100_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = input(tmp.path());
    let refs = tmp.path().join("ref.en.txt");
    std::fs::write(&refs, "Peace talks continue.\nThe truce holds.\nPeace.\n").unwrap();
    let out = run(bin()
        .args(["eval", "run", "--json"])
        .arg("--src")
        .arg(&src)
        .arg("--ref")
        .arg(&refs)
        .arg("-m")
        .arg(fixture("m2m100")));
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(record["lines"], SENTENCES.len());
    assert!(record["settings"]["prompt_format"].is_null());
    assert!(record["scores"].as_object().is_some_and(|s| !s.is_empty()));
}

#[test]
fn bad_model_directories_are_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let input = input(tmp.path());
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(bin().arg("translate").arg(&input).arg("-m").arg(&empty));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("error:") && err.contains("config.json"),
        "{err}"
    );

    let unknown = tmp.path().join("unknown");
    std::fs::create_dir(&unknown).unwrap();
    std::fs::write(
        unknown.join("config.json"),
        r#"{"model_type": "mamba", "vocab_size": 10}"#,
    )
    .unwrap();
    let out = run(bin().arg("translate").arg(&input).arg("-m").arg(&unknown));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("config.json") && err.contains("mamba") && err.contains("m2m_100"),
        "{err}"
    );

    // A decoder-only checkpoint directory says how to run such models.
    let out = run(bin()
        .arg("translate")
        .arg(&input)
        .arg("-m")
        .arg(fixture("llama")));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("decoder-only") && err.contains("GGUF"),
        "{err}"
    );
}
