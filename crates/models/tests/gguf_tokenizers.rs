//! Tokenizers built from GGUF metadata give the same ids as the published
//! `tokenizer.json` files on every line of TICO-19 (Persian and English)
//! and the seed article.
//!
//! Uses the installed models (`tarjoman models pull gemma-3-270m
//! qwen2.5-coder-1.5b-instruct`): each holds a GGUF and the npm
//! `tokenizer.json` the manifest pairs with it.

use std::path::{Path, PathBuf};

use tarjoman_models::gguf::GgufFile;
use tarjoman_models::tokenizer;
use tokenizers::Tokenizer;

fn models_dir() -> PathBuf {
    match std::env::var_os("TARJOMAN_HOME") {
        Some(home) => PathBuf::from(home),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"),
    }
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn model_file(model: &str, file: &str) -> PathBuf {
    let path = models_dir().join(model).join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `tarjoman models pull {model}`",
        path.display()
    );
    path
}

/// Every line of TICO-19 test.fa and test.en and of the seed article.
fn lines() -> Vec<String> {
    let mut lines = Vec::new();
    for file in [
        shared().join("data/tico19/test.fa"),
        shared().join("data/tico19/test.en"),
        shared().join("seed/article.fa.txt"),
    ] {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        lines.extend(text.lines().map(str::to_owned));
    }
    assert!(lines.len() > 4200, "{} lines", lines.len());
    lines
}

/// A line whose ids differ: (line, built ids, reference ids).
type Mismatch = (String, Vec<u32>, Vec<u32>);

/// Encodes every line with both tokenizers (no special tokens); returns the
/// number of lines and the mismatches (line, built ids, reference ids).
fn compare(built: &Tokenizer, reference: &Tokenizer) -> (usize, Vec<Mismatch>) {
    let lines = lines();
    let mut mismatches = Vec::new();
    for line in &lines {
        let ours = tokenizer::encode(built, line).expect("encode with GGUF tokenizer");
        let theirs = tokenizer::encode(reference, line).expect("encode with tokenizer.json");
        if ours != theirs {
            mismatches.push((line.clone(), ours, theirs));
        }
    }
    (lines.len(), mismatches)
}

fn assert_same_ids(model: &str, gguf: &str) {
    let gguf = GgufFile::open(model_file(model, gguf)).expect("open GGUF");
    let built = tokenizer::from_gguf(&gguf).expect("tokenizer from GGUF");
    let reference =
        tokenizer::from_file(&model_file(model, "tokenizer.json")).expect("tokenizer.json");
    let (total, mismatches) = compare(&built, &reference);
    eprintln!(
        "{model}: {} of {total} lines give identical ids",
        total - mismatches.len()
    );
    let shown: Vec<String> = mismatches
        .iter()
        .take(3)
        .map(|(line, ours, theirs)| format!("{line:?}\n  gguf: {ours:?}\n  json: {theirs:?}"))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{model}: {} of {total} lines differ:\n{}",
        mismatches.len(),
        shown.join("\n")
    );
    // Decoding agrees too.
    for line in lines().iter().step_by(7) {
        let ids = tokenizer::encode(&built, line).expect("encode");
        assert_eq!(
            tokenizer::decode(&built, &ids).expect("decode"),
            tokenizer::decode(&reference, &ids).expect("decode"),
            "{model}: {line:?}"
        );
    }
}

#[test]
fn gemma3_sentencepiece_from_gguf_matches_tokenizer_json() {
    assert_same_ids("gemma-3-270m", "gemma-3-270m-q4_k_m.gguf");
}

#[test]
fn qwen2_byte_level_bpe_from_gguf_matches_tokenizer_json() {
    assert_same_ids(
        "qwen2.5-coder-1.5b-instruct",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    );
}
