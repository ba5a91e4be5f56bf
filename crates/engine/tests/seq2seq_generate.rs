//! The one generation loop driving encoder-decoder and safetensors
//! decoder-only models: on the tiny transformers fixtures of
//! `tarjoman-models` (see its tests/fixtures/README.md), greedy `generate`
//! reproduces transformers' greedy ids, and `translate_seq2seq` runs a
//! source sentence through it with no prompt.

use std::path::{Path, PathBuf};

use tarjoman_engine::generate::{generate, GenerationConfig, StopReason};
use tarjoman_engine::translate::{translate_seq2seq, TranslateOptions};
use tarjoman_models::dense::DenseLm;
use tarjoman_models::seq2seq::Seq2SeqLm;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/fixtures")
        .join(name)
}

fn reference(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name).join("reference.json")).unwrap())
        .unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// A word-level tokenizer over the fixtures' 256 ids (`t0` .. `t255`),
/// written as tokenizer.json, so generated ids can be detokenized.
fn word_tokenizer(dir: &Path, eos: u32) -> PathBuf {
    let vocab: serde_json::Map<String, serde_json::Value> = (0..256)
        .map(|i| (format!("t{i}"), serde_json::json!(i)))
        .collect();
    let doc = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": format!("t{eos}"), "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
            "special_tokens": {format!("t{eos}"): {"id": format!("t{eos}"), "ids": [eos], "tokens": [format!("t{eos}")]}}},
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "t3"},
    });
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn greedy(max_new_tokens: usize) -> GenerationConfig {
    GenerationConfig {
        max_new_tokens,
        ..GenerationConfig::default()
    }
}

#[test]
fn generate_reproduces_greedy_ids_for_every_family() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["marian", "t5"] {
        let r = reference(name);
        let dir = fixture(name);
        let mut lm = Seq2SeqLm::load_files(
            &dir.join("config.json"),
            &[dir.join("model.safetensors")],
            Some(&word_tokenizer(tmp.path(), 0)),
        )
        .unwrap();
        let want = ids(&r["greedy_ids"]);
        let g = generate(
            &mut lm,
            &ids(&r["source_ids"]),
            &greedy(want.len()),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(g.tokens, want, "{name}");
        assert_eq!(g.stop, StopReason::MaxTokens);
        // Generating again from the same source gives the same tokens.
        let again = generate(
            &mut lm,
            &ids(&r["source_ids"]),
            &greedy(want.len()),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(again.tokens, want, "{name} twice");
    }
    for name in ["gemma3", "qwen2", "qwen3", "llama"] {
        let r = reference(name);
        let dir = fixture(name);
        let mut lm = DenseLm::load_files(
            &dir.join("config.json"),
            &[dir.join("model.safetensors")],
            Some(&word_tokenizer(tmp.path(), 0)),
        )
        .unwrap();
        // The reference decodes without stopping at EOS (llama's 12th
        // greedy id is its EOS), so neither does this run.
        lm.config.eos_ids.clear();
        let want = ids(&r["greedy_ids"]);
        let g = generate(
            &mut lm,
            &ids(&r["input_ids"]),
            &greedy(want.len()),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(g.tokens, want, "{name}");
    }
}

#[test]
fn translate_seq2seq_runs_a_sentence_without_a_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    let r = reference("t5");
    let dir = fixture("t5");
    let mut lm = Seq2SeqLm::load_files(
        &dir.join("config.json"),
        &[dir.join("model.safetensors")],
        Some(&word_tokenizer(tmp.path(), 2)),
    )
    .unwrap();
    // The fixture's source ids, as words; the tokenizer appends EOS (2).
    let source = ids(&r["source_ids"]);
    let words: Vec<String> = source[..source.len() - 1]
        .iter()
        .map(|i| format!("t{i}"))
        .collect();
    let opts = TranslateOptions {
        normalize: None,
        length_slack: 12,
        length_ratio: 0.0,
        ..TranslateOptions::default()
    };
    let (text, stats) = translate_seq2seq(&mut lm, &words.join(" "), &opts, None).unwrap();
    let want: Vec<String> = ids(&r["greedy_ids"])
        .iter()
        .map(|i| format!("t{i}"))
        .collect();
    assert_eq!(text, want.join(" "));
    assert_eq!(stats.source_tokens, source.len());
    assert_eq!(stats.stop, StopReason::LengthCap);
}

/// M2M100 / NLLB through the same loop: the source is `[pes_Arab] tokens
/// </s>`, `eng_Latn` is forced after the decoder start token and is not
/// among the generated ids, which are transformers' greedy ids after it.
#[test]
fn generate_reproduces_m2m100_greedy_ids_after_the_forced_language() {
    let r = reference("m2m100");
    let mut lm = Seq2SeqLm::load(&fixture("m2m100")).unwrap();
    let source = ids(&r["source_ids"]);
    let want = ids(&r["greedy"]);
    assert_eq!(want[0] as u64, r["tgt_lang_id"].as_u64().unwrap());
    let g = generate(&mut lm, &source, &greedy(want.len() - 1), None, &[]).unwrap();
    assert_eq!(g.tokens, want[1..]);
    assert_eq!(g.stop, StopReason::MaxTokens);

    // translate_seq2seq builds the same source from the text.
    let opts = TranslateOptions {
        normalize: None,
        length_slack: want.len() - 1,
        length_ratio: 0.0,
        ..TranslateOptions::default()
    };
    let text = r["source_text"].as_str().unwrap();
    let (_, stats) = translate_seq2seq(&mut lm, text, &opts, None).unwrap();
    assert_eq!(stats.source_tokens, source.len());
    assert_eq!(stats.output_tokens, want.len() - 1);
}

#[test]
fn m2m100_without_language_codes_in_its_tokenizer_is_an_error_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture("m2m100");
    let err = Seq2SeqLm::load_files(
        &dir.join("config.json"),
        &[dir.join("model.safetensors")],
        Some(&word_tokenizer(tmp.path(), 2)),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("pes_Arab") && err.contains("__fa__"), "{err}");
}
