//! The one generation loop driving encoder-decoder and safetensors
//! decoder-only models: on the tiny transformers fixtures of
//! `tarjoman-models` (see its tests/fixtures/README.md), greedy `generate`
//! reproduces transformers' greedy ids, and the translation API
//! ([`TranslationModel`]) runs source sentences through it with no prompt,
//! several side by side.

use std::path::{Path, PathBuf};

use tarjoman_engine::generate::{generate, GenerationConfig, StopReason};
use tarjoman_engine::translate::{Event, SentenceRecord, TranslateOptions};
use tarjoman_engine::TranslationModel;
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

/// Translates `text` with an encoder-decoder model through the engine's
/// translation API; one record per sentence.
/// The fixtures' word tokenizer knows no `<2en>`, so T5 gets no target
/// prefix.
fn translate(lm: Seq2SeqLm, text: &str, opts: TranslateOptions) -> Vec<SentenceRecord> {
    let mut model = TranslationModel::seq2seq(lm, "fixture").with_target_prefix(None);
    let mut translator = model.translator(opts).unwrap();
    let mut records = Vec::new();
    translator
        .translate_document(text, |event| {
            if let Event::Record(r) = event {
                records.push(r.clone());
            }
            Ok::<_, tarjoman_engine::Error>(())
        })
        .unwrap();
    records
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
    let lm = Seq2SeqLm::load_files(
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
    let records = translate(lm, &words.join(" "), opts);
    let want: Vec<String> = ids(&r["greedy_ids"])
        .iter()
        .map(|i| format!("t{i}"))
        .collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].translation, want.join(" "));
    assert_eq!(records[0].source_tokens, source.len());
    assert_eq!(records[0].stop_reason, Some(StopReason::LengthCap));
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

    // The translation API builds the same source from the text.
    let opts = TranslateOptions {
        normalize: None,
        length_slack: want.len() - 1,
        length_ratio: 0.0,
        ..TranslateOptions::default()
    };
    let text = r["source_text"].as_str().unwrap();
    let records = translate(lm, text, opts);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].source_tokens, source.len());
    assert_eq!(records[0].output_tokens, want.len() - 1);
}

/// Sentences of an encoder-decoder model decode side by side (each in its
/// own slot) and give what they give one at a time; beam search runs on
/// the same slots; what only prompted models do is refused by name.
#[test]
fn encoder_decoder_sentences_batch_and_reject_prompt_options() {
    let r = reference("m2m100");
    let line = r["source_text"].as_str().unwrap();
    let doc = format!("{line}\n{line} {line}\n\n{line}\n");
    let opts = |batch| TranslateOptions {
        batch,
        ..TranslateOptions::default()
    };
    let alone = translate(Seq2SeqLm::load(&fixture("m2m100")).unwrap(), &doc, opts(1));
    let together = translate(Seq2SeqLm::load(&fixture("m2m100")).unwrap(), &doc, opts(4));
    assert!(alone.len() >= 3, "{} records", alone.len());
    let texts =
        |rs: &[SentenceRecord]| rs.iter().map(|r| r.translation.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&alone), texts(&together));

    let beams = TranslateOptions {
        beams: 2,
        ..TranslateOptions::default()
    };
    let beamed = translate(Seq2SeqLm::load(&fixture("m2m100")).unwrap(), &doc, beams);
    assert_eq!(beamed.len(), alone.len());

    let mut model = TranslationModel::seq2seq(Seq2SeqLm::load(&fixture("m2m100")).unwrap(), "m");
    let asked = TranslateOptions {
        shots: Some(1),
        system_prompt: Some("Translate.".into()),
        ..TranslateOptions::default()
    };
    let err = model.translator(asked).err().unwrap().to_string();
    assert!(err.contains("shots, system_prompt"), "{err}");
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

/// A safetensors decoder-only checkpoint directory (with a tokenizer) is a
/// prompted model: the same translation API prompts it in its family's
/// chat format, one sentence in, one line out.
#[test]
fn a_decoder_only_checkpoint_directory_translates_through_a_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("qwen2").join(file), dir.join(file)).unwrap();
    }
    word_tokenizer(dir, 1);
    let mut model = TranslationModel::load(dir).unwrap();
    assert_eq!(model.kind(), tarjoman_engine::ModelKind::Prompted);
    assert_eq!(model.prompt_format(), Some("chatml"));
    let opts = TranslateOptions {
        system_prompt: Some("Translate.".into()),
        retry: false,
        ..TranslateOptions::default()
    };
    let mut translator = model.translator(opts).unwrap();
    let english = translator.translate_text("t5 t6 t7.\n").unwrap();
    assert_eq!(english.lines().count(), 1, "{english:?}");
}
