//! `tarjoman translate` and `tarjoman eval run` with encoder-decoder model
//! directories: the tiny random M2M100 (NLLB-style tokenizer) and Marian
//! fixtures of `tarjoman-models` (see its tests/fixtures/README.md). Their
//! weights are random, so these check the plumbing (exit status, one output
//! line per input sentence, the --json records), never translation quality.
//! A Hugging Face repo id goes through a local stand-in for the hub
//! (`HF_ENDPOINT`), never the real one.

#[path = "../crates/registry/tests/common/mod.rs"]
mod common;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::fixture;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tarjoman"))
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

/// A word-level `tokenizer.json` over a fixture's 256 ids (`t0` .. `t255`;
/// every Persian word is `<unk>`, id 3) that appends `eos` as the real
/// tokenizers of Marian and T5 do.
fn word_level_tokenizer(dir: &Path, eos: u32) {
    let vocab: serde_json::Map<String, serde_json::Value> = (0..256)
        .map(|i| (format!("t{i}"), serde_json::json!(i)))
        .collect();
    let eos_token = format!("t{eos}");
    let doc = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": eos, "content": eos_token, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": eos_token, "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
            "special_tokens": {eos_token.clone(): {"id": eos_token, "ids": [eos], "tokens": [eos_token]}}},
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "t3"},
    });
    std::fs::write(dir.join("tokenizer.json"), doc.to_string()).unwrap();
}

/// The Marian fixture has no tokenizer: a copy of it with a word-level one
/// (EOS 0).
fn marian_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("marian");
    std::fs::create_dir(&dir).unwrap();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("marian").join(file), dir.join(file)).unwrap();
    }
    word_level_tokenizer(&dir, 0);
    dir
}

/// A MADLAD-400 style directory: the T5 fixture's config.json, its weights
/// as a GGUF (Q8_0 where rows split into 32-element blocks, as candle's
/// `tensor-tools quantize` writes MADLAD GGUFs), and a word-level
/// tokenizer (EOS 2).
fn t5_gguf_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("t5-gguf");
    std::fs::create_dir(&dir).unwrap();
    support::write_t5_gguf(&dir);
    word_level_tokenizer(&dir, 2);
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
fn prompt_only_options_are_refused_for_encoder_decoder_models() {
    let tmp = tempfile::tempdir().unwrap();
    let input = input(tmp.path());
    for extra in [
        &["--shots", "1"][..],
        &["--glossary", "glossary.tsv"],
        &["--context"],
        &["--unit", "paragraph"],
        &["--system-prompt", "Translate."],
    ] {
        let out = run(bin()
            .arg("translate")
            .arg(&input)
            .arg("-m")
            .arg(fixture("m2m100"))
            .args(extra));
        assert!(!out.status.success(), "{extra:?}");
        let err = stderr(&out);
        assert!(err.contains("encoder-decoder model"), "{extra:?}: {err}");
        assert!(err.contains(extra[0]), "{extra:?}: {err}");
        assert!(out.stdout.is_empty(), "{extra:?}");
    }
}

#[test]
fn translate_runs_a_t5_gguf_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let input = input(tmp.path());
    check_translate(&t5_gguf_dir(tmp.path()), &input);
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

    // A decoder-only checkpoint directory without its tokenizer names it.
    let out = run(bin()
        .arg("translate")
        .arg(&input)
        .arg("-m")
        .arg(fixture("llama")));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("decoder-only") && err.contains("tokenizer.json"),
        "{err}"
    );
}

#[test]
fn beam_search_runs_on_encoder_decoder_models() {
    let tmp = tempfile::tempdir().unwrap();
    let input = input(tmp.path());
    let out = run(bin()
        .arg("translate")
        .arg(&input)
        .args(["--json", "--beams", "2", "--batch", "2", "-m"])
        .arg(fixture("m2m100")));
    assert!(out.status.success(), "{}", stderr(&out));
    let records = String::from_utf8(out.stdout).unwrap().lines().count();
    assert_eq!(records, SENTENCES.len());
}

/// `translate -m org/name` with an OPUS-MT style repo (config.json,
/// safetensors, source.spm / target.spm / vocab.json, no tokenizer.json)
/// served by a local stand-in for the hub: downloaded into `HF_HOME`'s hub
/// cache on first use, then run from the cache with `HF_HUB_OFFLINE=1`;
/// offline without a cached copy is an error naming the repo.
#[test]
fn translate_takes_a_hub_repo_id() {
    const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";
    let server = common::Server::start();
    let read = |dir: &str, file: &str| std::fs::read(fixture(dir).join(file)).unwrap();
    let files = [
        ("config.json", read("marian-spm", "config.json"), false),
        (
            "model.safetensors",
            read("marian-spm", "model.safetensors"),
            true,
        ),
        ("source.spm", read("spm", "source.spm"), true),
        ("target.spm", read("spm", "target.spm"), true),
        ("vocab.json", read("spm", "vocab.json"), false),
    ];
    let published: Vec<(&str, &[u8], bool)> = files
        .iter()
        .map(|(name, bytes, lfs)| (*name, bytes.as_slice(), *lfs))
        .collect();
    server.publish_hf_repo("tiny-org/opus-mt-tiny-fa-en", COMMIT, &published, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let input = input(tmp.path());
    let home = tmp.path().join("hf-home");
    let translate = |repo: &str, offline: bool| {
        let mut cmd = bin();
        cmd.arg("translate")
            .arg(&input)
            .args(["-m", repo])
            .env("HF_ENDPOINT", format!("{}/hf", server.base))
            .env("HF_HOME", &home)
            .env_remove("HF_HUB_CACHE")
            .env_remove("HF_TOKEN");
        if offline {
            cmd.env("HF_HUB_OFFLINE", "1");
        } else {
            cmd.env_remove("HF_HUB_OFFLINE");
        }
        run(&mut cmd)
    };

    let out = translate("tiny-org/opus-mt-tiny-fa-en", false);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(first.lines().count(), SENTENCES.len(), "{first:?}");
    assert!(stderr(&out).contains("downloaded"), "{}", stderr(&out));
    let snapshot = home
        .join("hub/models--tiny-org--opus-mt-tiny-fa-en/snapshots")
        .join(COMMIT);
    for (name, bytes, _) in &files {
        assert_eq!(
            &std::fs::read(snapshot.join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }

    let hits = server.all_hits().len();
    let out = translate("tiny-org/opus-mt-tiny-fa-en", true);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), first);
    assert_eq!(
        server.all_hits().len(),
        hits,
        "offline mode contacted the hub"
    );

    let out = translate("tiny-org/not-cached", true);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("tiny-org/not-cached"),
        "{}",
        stderr(&out)
    );
}
