//! The `.spm` + `vocab.json` conversion gives transformers' slow
//! `MarianTokenizer` ids on the fixture made by
//! `scripts/make_spm_fixture.py` (50 held-out TICO-19 lines per side plus
//! edge cases: extra spaces, unknown characters, a literal `</s>`, digits,
//! NFKC-folded forms).

use std::path::{Path, PathBuf};

use serde_json::Value;
use tarjoman_models::tokenizer::spm::{self, MarianFiles};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/spm")
        .join(name)
}

fn files() -> MarianFiles {
    MarianFiles {
        source_spm: fixture("source.spm"),
        target_spm: fixture("target.spm"),
        vocab: fixture("vocab.json"),
    }
}

#[test]
fn marian_ids_equal_transformers_slow_tokenizer() {
    let tokenizers = spm::marian(&files()).expect("convert .spm files");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("expected.json")).expect("read expected.json"),
    )
    .expect("expected.json");
    for (side, tokenizer) in [
        ("source", &tokenizers.source),
        ("target", &tokenizers.target),
    ] {
        let cases = expected[side].as_array().expect("cases");
        assert!(cases.len() >= 50, "{side}: {} cases", cases.len());
        let mut mismatches = Vec::new();
        for case in cases {
            let text = case["text"].as_str().expect("text");
            let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).expect("ids");
            let got = tokenizer.encode(text, true).expect("encode");
            if got != want {
                mismatches.push(format!("{text:?}\n  ours: {got:?}\n  hf:   {want:?}"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{side}: {} of {} differ:\n{}",
            mismatches.len(),
            cases.len(),
            mismatches.join("\n")
        );
    }
}

#[test]
fn decodes_target_ids_to_text() {
    let tokenizers = spm::marian(&files()).expect("convert .spm files");
    let text = "The patients were treated at home.";
    let ids = tokenizers.target.encode(text, true).expect("encode");
    assert_eq!(ids.last(), Some(&0), "</s> is appended");
    assert_eq!(tokenizers.target.decode(&ids, true).expect("decode"), text);
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("source.spm");
    std::fs::write(&bad, b"\x0a\xff\xff\xff").expect("write");
    let err = spm::marian(&MarianFiles {
        source_spm: bad.clone(),
        ..files()
    })
    .err()
    .expect("corrupt .spm is an error");
    assert!(err.to_string().contains("source.spm"), "{err}");

    let vocab = dir.path().join("vocab.json");
    std::fs::write(&vocab, br#"{"a": 0}"#).expect("write");
    let err = spm::marian(&MarianFiles {
        vocab: vocab.clone(),
        ..files()
    })
    .err()
    .expect("vocab without <unk> is an error");
    assert!(
        err.to_string().contains("vocab.json") && err.to_string().contains("<unk>"),
        "{err}"
    );
}
