//! Every model family against transformers, on the tiny random checkpoints
//! that `scripts/make_fixtures.py` builds (see tests/fixtures/README.md):
//! logits within 1e-4, greedy ids exactly equal, and the invariants
//! (cached decoding equals full recompute, each row of a batch equals the
//! single-input result, the same input twice gives the same output).
//! Plus corrupt checkpoints: errors naming the tensor, never a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde_json::Value;
use tarjoman_models::dense::DenseLm;
use tarjoman_models::lm::Lm;
use tarjoman_models::seq2seq::Seq2SeqLm;
use tarjoman_models::Error;

const TOL: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

struct Reference {
    tensors: HashMap<String, Tensor>,
    json: Value,
}

impl Reference {
    fn load(name: &str) -> Self {
        let dir = fixture(name);
        let tensors =
            candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu)
                .unwrap();
        let json =
            serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
                .unwrap();
        Self { tensors, json }
    }

    fn t(&self, name: &str) -> &Tensor {
        &self.tensors[name]
    }

    fn ids(&self, key: &str) -> Vec<u32> {
        ids_of(&self.json[key])
    }

    fn rows(&self, key: &str) -> Vec<Vec<u32>> {
        self.json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(ids_of)
            .collect()
    }
}

fn ids_of(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Largest absolute difference over entries finite in both (the reference
/// marks suppressed tokens with -inf); both must agree on which are not.
fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    let a: Vec<f32> = a
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let b: Vec<f32> = b
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(a.len(), b.len(), "shapes differ");
    a.iter()
        .zip(&b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn assert_close(what: &str, ours: &Tensor, reference: &Tensor) {
    assert_within(what, ours, reference, TOL);
}

fn assert_within(what: &str, ours: &Tensor, reference: &Tensor, tol: f32) {
    let d = max_diff(ours, reference);
    assert!(d < tol, "{what}: max |diff| {d:e} exceeds {tol:e}");
}

fn argmax(logits: &Tensor, suppressed: &[u32]) -> u32 {
    let v: Vec<f32> = logits.to_vec1().unwrap();
    let mut best = (0u32, f32::NEG_INFINITY);
    for (i, x) in v.iter().enumerate() {
        if !suppressed.contains(&(i as u32)) && *x > best.1 {
            best = (i as u32, *x);
        }
    }
    best.0
}

/// Greedy decoding through the `Lm` trait (cached, slot 0), no EOS stop.
fn greedy(model: &mut dyn Lm, input: &[u32], steps: usize) -> (Vec<u32>, Vec<Tensor>) {
    let suppressed = model.suppressed_ids().to_vec();
    let (mut logits, _) = model.prefill_in(0, input).unwrap();
    let (mut ids, mut all) = (Vec::new(), Vec::new());
    for _ in 0..steps {
        let next = argmax(&logits, &suppressed);
        all.push(logits.clone());
        ids.push(next);
        logits = model.step(0, next).unwrap();
    }
    (ids, all)
}

fn check_decoder_family(name: &str) {
    check_decoder(name, &fixture(name));
}

/// The checks of `name`'s reference against the checkpoint in `dir` (the
/// fixture itself, or its weights in another format).
fn check_decoder(name: &str, dir: &Path) {
    let r = Reference::load(name);
    let mut lm = DenseLm::load(dir).unwrap();
    assert_eq!(lm.family().name(), name);
    let prompt = r.ids("input_ids");
    let logits = r.t("logits");

    // Full recompute of every prefix, and cached decoding one token at a
    // time, both against transformers' logits at each position.
    let mut cached = lm.prefill_in(0, &prompt[..1]).unwrap().0;
    for t in 0..prompt.len() {
        let reference = logits.get(t).unwrap();
        let full = lm.forward(&prompt[..=t], 0).unwrap();
        assert_close(&format!("{name} position {t} (full)"), &full, &reference);
        assert_close(
            &format!("{name} position {t} (cached)"),
            &cached,
            &reference,
        );
        assert_close(
            &format!("{name} position {t} cached vs full"),
            &cached,
            &full,
        );
        if let Some(&next) = prompt.get(t + 1) {
            // `step` continues the cached sequence; `forward` above started
            // new ones, so restart the cached one up to here first.
            lm.prefill_in(0, &prompt[..=t]).unwrap();
            cached = lm.step(0, next).unwrap();
        }
    }

    // Greedy continuation, cached, against transformers' full recompute.
    let steps = r.json["greedy_steps"].as_u64().unwrap() as usize;
    let (ids, step_logits) = greedy(&mut lm, &prompt, steps);
    assert_eq!(ids, r.ids("greedy_ids"), "{name} greedy ids");
    for (k, l) in step_logits.iter().enumerate() {
        assert_close(
            &format!("{name} greedy step {k}"),
            l,
            &r.t("greedy_logits").get(k).unwrap(),
        );
    }

    // Each row of the (padded, in transformers) batch equals the reference
    // row at its last real token and our single-input result.
    let rows = r.rows("batch");
    assert!(
        rows.iter().any(|row| row.len() != rows[0].len()),
        "{name}: the batch fixture must have rows of different lengths"
    );
    let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
    let batch = lm.forward_batch(&refs).unwrap();
    for (i, row) in rows.iter().enumerate() {
        let reference = r
            .t("batch_logits")
            .get(i)
            .unwrap()
            .get(row.len() - 1)
            .unwrap();
        assert_close(&format!("{name} batch row {i}"), &batch[i], &reference);
        let single = lm.forward(row, 0).unwrap();
        assert_close(
            &format!("{name} batch row {i} vs single"),
            &batch[i],
            &single,
        );
    }

    // The same input twice gives the same output, bit for bit.
    let a = lm.forward(&prompt, 0).unwrap();
    let b = lm.forward(&prompt, 0).unwrap();
    assert_eq!(
        max_diff(&a, &b),
        0.0,
        "{name}: same input, different output"
    );
}

fn check_seq2seq_family(name: &str) {
    check_seq2seq(name, Seq2SeqLm::load(&fixture(name)).unwrap(), TOL);
}

/// The checks of `name`'s reference against `lm`: its logits within
/// `ref_tol` of transformers' (1e-4 for f32 weights; looser for quantized
/// ones), greedy ids equal; the invariants (cached == full, batch rows ==
/// single, determinism) always within 1e-4.
fn check_seq2seq(name: &str, mut lm: Seq2SeqLm, ref_tol: f32) {
    let r = Reference::load(name);
    assert_eq!(lm.family().name(), name);
    assert_eq!(
        lm.decoder_start as u64,
        r.json["decoder_start_token_id"].as_u64().unwrap()
    );
    let source = r.ids("source_ids");
    let dec = r.ids("decoder_input_ids");
    let logits = r.t("logits");

    // Teacher-forced, all positions in one pass.
    let full = lm.logits(&source, &dec).unwrap();
    assert_within(
        &format!("{name} teacher-forced logits"),
        &full,
        logits,
        ref_tol,
    );

    // Cached: start from the source, then one decoder token at a time.
    assert_eq!(dec[0], lm.decoder_start);
    let mut cached = lm.prefill_in(0, &source).unwrap().0;
    for t in 0..dec.len() {
        let reference = logits.get(t).unwrap();
        assert_within(
            &format!("{name} position {t} (cached)"),
            &cached,
            &reference,
            ref_tol,
        );
        assert_close(
            &format!("{name} position {t} cached vs full"),
            &cached,
            &full.get(t).unwrap(),
        );
        if let Some(&next) = dec.get(t + 1) {
            cached = lm.step(0, next).unwrap();
        }
    }

    // Greedy from the decoder start token.
    assert_eq!(lm.suppressed_ids(), r.ids("suppress_ids").as_slice());
    let steps = r.json["greedy_steps"].as_u64().unwrap() as usize;
    let (ids, step_logits) = greedy(&mut lm, &source, steps);
    assert_eq!(ids, r.ids("greedy_ids"), "{name} greedy ids");
    for (k, l) in step_logits.iter().enumerate() {
        assert_within(
            &format!("{name} greedy step {k}"),
            l,
            &r.t("greedy_logits").get(k).unwrap(),
            ref_tol,
        );
    }

    // Batch of sources of different lengths.
    let rows = r.rows("batch");
    let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
    let batch = lm.logits_batch(&refs, &dec).unwrap();
    for (i, row) in rows.iter().enumerate() {
        let reference = r.t("batch_logits").get(i).unwrap();
        assert_within(
            &format!("{name} batch row {i}"),
            &batch[i],
            &reference,
            ref_tol,
        );
        let single = lm.logits(row, &dec).unwrap();
        assert_close(
            &format!("{name} batch row {i} vs single"),
            &batch[i],
            &single,
        );
    }

    let a = lm.logits(&source, &dec).unwrap();
    let b = lm.logits(&source, &dec).unwrap();
    assert_eq!(
        max_diff(&a, &b),
        0.0,
        "{name}: same input, different output"
    );
}

#[test]
fn gemma3_matches_transformers() {
    check_decoder_family("gemma3");
}

#[test]
fn qwen2_matches_transformers() {
    check_decoder_family("qwen2");
}

#[test]
fn qwen3_matches_transformers() {
    check_decoder_family("qwen3");
}

#[test]
fn llama_matches_transformers() {
    check_decoder_family("llama");
}

#[test]
fn marian_matches_transformers() {
    check_seq2seq_family("marian");
}

#[test]
fn t5_matches_transformers() {
    check_seq2seq_family("t5");
}

/// M2M100 / NLLB through `Seq2SeqLm` and the `Lm` trait, on the
/// fixture of `scripts/make_fixture_m2m100.py` (its reference.json holds the
/// logits as lists and the greedy ids with the forced `eng_Latn` first).
#[test]
fn m2m100_matches_transformers_through_the_decoder_trait() {
    let dir = fixture("m2m100");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let as_tensor = |v: &Value| -> Tensor {
        let rows: Vec<Vec<f32>> = serde_json::from_value(v.clone()).unwrap();
        Tensor::new(rows, &Device::Cpu).unwrap()
    };
    let mut lm = Seq2SeqLm::load(&dir).unwrap();
    assert_eq!(lm.family().name(), "m2m100");
    let langs = lm.languages.unwrap();
    assert_eq!(langs.target as u64, r["tgt_lang_id"].as_u64().unwrap());
    let source = ids_of(&r["source_ids"]);
    assert_eq!(
        lm.encode_text(r["source_text"].as_str().unwrap()).unwrap(),
        source
    );
    assert_eq!(source[0], langs.source);
    let dec = ids_of(&r["decoder_input_ids"]);
    assert_eq!(lm.decoder_prefix().unwrap(), dec[..2]);

    // Teacher-forced logits, and cached decoding against them: `start`
    // returns the logits after the forced language code.
    let reference = as_tensor(&r["logits"]);
    let full = lm.logits(&source, &dec).unwrap();
    assert_close("m2m100 teacher-forced logits", &full, &reference);
    let mut cached = lm.prefill_in(0, &source).unwrap().0;
    for t in 1..dec.len() {
        assert_close(
            &format!("m2m100 position {t} (cached)"),
            &cached,
            &reference.get(t).unwrap(),
        );
        if let Some(&next) = dec.get(t + 1) {
            cached = lm.step(0, next).unwrap();
        }
    }

    // Greedy: the generated ids exclude the forced language code.
    let want = ids_of(&r["greedy"]);
    let (ids, _) = greedy(&mut lm, &source, want.len() - 1);
    assert_eq!(ids, want[1..], "m2m100 greedy ids");

    // A padded batch of sources of different lengths.
    let rows: Vec<Vec<u32>> = r["batch_ids"]
        .as_array()
        .unwrap()
        .iter()
        .zip(r["batch_mask"].as_array().unwrap())
        .map(|(ids, mask)| {
            ids_of(ids)
                .into_iter()
                .zip(ids_of(mask))
                .filter(|&(_, m)| m == 1)
                .map(|(id, _)| id)
                .collect()
        })
        .collect();
    assert_ne!(rows[0].len(), rows[1].len());
    let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
    let batch = lm.logits_batch(&refs, &dec).unwrap();
    for (i, row) in rows.iter().enumerate() {
        let reference = as_tensor(&r["batch_logits"][i]);
        assert_close(&format!("m2m100 batch row {i}"), &batch[i], &reference);
        let single = lm.logits(row, &dec).unwrap();
        assert_close(
            &format!("m2m100 batch row {i} vs single"),
            &batch[i],
            &single,
        );
    }

    let a = lm.logits(&source, &dec).unwrap();
    let b = lm.logits(&source, &dec).unwrap();
    assert_eq!(
        max_diff(&a, &b),
        0.0,
        "m2m100: same input, different output"
    );
}

/// The Marian variant's own greedy loop bans the pad token as transformers
/// does, and gives transformers' greedy ids.
#[test]
fn marian_greedy_on_the_bart_implementation() {
    let r = Reference::load("marian");
    let config = tarjoman_models::config::read(&fixture("marian").join("config.json")).unwrap();
    let tarjoman_models::config::Settings::Marian(c) = config.settings else {
        panic!("marian config read as {:?}", config.family);
    };
    assert_eq!(c.variant, tarjoman_models::m2m100::Variant::Marian);
    let model = tarjoman_models::m2m100::M2M100::load_files(
        c,
        &[fixture("marian").join("model.safetensors")],
    )
    .unwrap();
    let want = r.ids("greedy_ids");
    let ids = model
        .greedy(&r.ids("source_ids"), None, want.len())
        .unwrap();
    assert_eq!(ids, want);
}

/// A Marian repo without `tokenizer.json` (as `Helsinki-NLP/opus-mt-fa-en`):
/// `Seq2SeqLm::load` converts its `source.spm`/`target.spm`/`vocab.json`,
/// and text goes in and out as transformers' `MarianTokenizer` and
/// `MarianMTModel` take and give it (scripts/make_fixture_marian_spm.py).
#[test]
fn marian_directory_with_spm_files_translates_like_transformers() {
    let dir = tempfile::tempdir().unwrap();
    for (from, file) in [
        ("marian-spm", "config.json"),
        ("marian-spm", "model.safetensors"),
        ("spm", "source.spm"),
        ("spm", "target.spm"),
        ("spm", "vocab.json"),
    ] {
        std::fs::copy(fixture(from).join(file), dir.path().join(file)).unwrap();
    }
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("marian-spm").join("reference.json")).unwrap(),
    )
    .unwrap();
    let steps = reference["greedy_steps"].as_u64().unwrap() as usize;
    let mut lm = Seq2SeqLm::load(dir.path()).unwrap();
    assert!(lm.has_tokenizer());
    assert!(
        lm.tokenizer.is_none(),
        "no tokenizer.json: the spm files are used"
    );
    let records = reference["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    for record in records {
        let text = record["text"].as_str().unwrap();
        let source = lm.encode_text(text).unwrap();
        assert_eq!(
            source,
            ids_of(&record["source_ids"]),
            "source ids of {text}"
        );
        let (ids, _) = greedy(&mut lm, &source, steps);
        assert_eq!(ids, ids_of(&record["greedy_ids"]), "greedy ids for {text}");
        assert_eq!(
            lm.decode(&ids).unwrap(),
            record["decoded"].as_str().unwrap(),
            "decoded text for {text}"
        );
    }
}

/// Copies a fixture into a temp dir, rewriting its weights with `edit`.
fn corrupted(name: &str, edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture(name);
    std::fs::copy(src.join("config.json"), dir.path().join("config.json")).unwrap();
    let mut tensors =
        candle_core::safetensors::load(src.join("model.safetensors"), &Device::Cpu).unwrap();
    edit(&mut tensors);
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    dir
}

fn dense_error(dir: &Path) -> String {
    match DenseLm::load(dir) {
        Ok(_) => panic!("a corrupt checkpoint loaded"),
        Err(e) => e.to_string(),
    }
}

// llama is the family whose candle constructor `unwrap`s a missing tensor
// into a panic; qwen2 and t5 cover the other constructors.
#[test]
fn missing_tensor_is_an_error_naming_it() {
    for (family, tensor) in [
        ("llama", "model.layers.1.self_attn.k_proj.weight"),
        ("qwen2", "model.layers.0.mlp.up_proj.weight"),
    ] {
        let dir = corrupted(family, |t| {
            t.remove(tensor).unwrap();
        });
        let err = dense_error(dir.path());
        assert!(err.contains(tensor) && err.contains("missing"), "{err}");
        assert!(err.contains("model.safetensors"), "{err}");
    }
    let tensor = "decoder.block.1.layer.1.EncDecAttention.q.weight";
    let dir = corrupted("t5", |t| {
        t.remove(tensor).unwrap();
    });
    let err = Seq2SeqLm::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains(tensor), "{err}");
}

#[test]
fn wrong_shape_is_an_error_naming_the_tensor_and_shapes() {
    let tensor = "model.layers.0.self_attn.q_proj.weight";
    let dir = corrupted("llama", |t| {
        let w = t[tensor].narrow(0, 0, 32).unwrap();
        t.insert(tensor.to_string(), w);
    });
    let err = dense_error(dir.path());
    assert!(
        err.contains(tensor) && err.contains("[32, 64]") && err.contains("[64, 64]"),
        "{err}"
    );
}

#[test]
fn wrong_dtype_is_an_error_naming_the_tensor() {
    let tensor = "model.norm.weight";
    let dir = corrupted("qwen3", |t| {
        let w = t[tensor].to_dtype(DType::I64).unwrap();
        t.insert(tensor.to_string(), w);
    });
    let err = dense_error(dir.path());
    assert!(err.contains(tensor) && err.contains("i64"), "{err}");
    let marian = "final_logits_bias";
    let dir = corrupted("marian", |t| {
        let w = t[marian].to_dtype(DType::U8).unwrap();
        t.insert(marian.to_string(), w);
    });
    let err = Seq2SeqLm::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains(marian) && err.contains("u8"), "{err}");
}

#[test]
fn truncated_weights_are_an_error_naming_the_file() {
    let dir = corrupted("gemma3", |_| {});
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = dense_error(dir.path());
    assert!(
        err.contains("model.safetensors") && err.contains("safetensors"),
        "{err}"
    );
    std::fs::write(&path, b"not safetensors").unwrap();
    let err = dense_error(dir.path());
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn unsupported_or_broken_configs_are_errors() {
    let dir = corrupted("qwen2", |_| {});
    let config = dir.path().join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"qwen2\"", "\"mamba\"")).unwrap();
    let err = dense_error(dir.path());
    assert!(
        err.contains("mamba") && err.contains("qwen3") && err.contains("marian"),
        "{err}"
    );
    std::fs::write(&config, "{ not json").unwrap();
    assert!(dense_error(dir.path()).contains("config.json"));
    std::fs::write(
        &config,
        text.replace("\"hidden_size\": 64", "\"hidden_size\": 32"),
    )
    .unwrap();
    let err = dense_error(dir.path());
    assert!(err.contains("shape"), "{err}");
}

#[test]
fn inputs_beyond_the_context_or_empty_are_errors() {
    let mut lm = DenseLm::load(&fixture("gemma3")).unwrap();
    // gemma3's context is capped at its sliding window (24 in the fixture).
    assert_eq!(lm.config.context_length, 24);
    let long = vec![5u32; 25];
    assert!(matches!(
        lm.forward(&long, 0),
        Err(Error::ContextOverflow { .. })
    ));
    assert!(matches!(lm.forward(&[], 0), Err(Error::EmptyInput)));
    let mut t5 = Seq2SeqLm::load(&fixture("t5")).unwrap();
    assert!(matches!(t5.prefill_in(0, &[]), Err(Error::EmptyInput)));
    // A decoder-only checkpoint is not an encoder-decoder one, and back.
    assert!(Seq2SeqLm::load(&fixture("llama")).is_err());
    assert!(DenseLm::load(&fixture("marian")).is_err());
}

// --- pytorch_model.bin checkpoints -------------------------------------
// `scripts/make_bin_fixtures.py` re-saves the qwen2, t5 and marian fixtures'
// weights with `torch.save` (t5 in two shards with an index), so their
// transformers references apply unchanged.

#[test]
fn qwen2_from_pytorch_bin_matches_transformers() {
    let dir = fixture("qwen2-bin");
    assert!(!dir.join("model.safetensors").exists());
    let files = tarjoman_models::weights::Checkpoint::files_in(&dir).unwrap();
    assert_eq!(files, vec![dir.join("pytorch_model.bin")]);
    check_decoder("qwen2", &dir);
    let bin = DenseLm::load(&dir).unwrap();
    let st = DenseLm::load(&fixture("qwen2")).unwrap();
    assert_eq!(bin.parameters, st.parameters);
}

#[test]
fn t5_from_sharded_pytorch_bin_matches_transformers() {
    let dir = fixture("t5-bin-sharded");
    let files = tarjoman_models::weights::Checkpoint::files_in(&dir).unwrap();
    assert_eq!(
        files,
        vec![
            dir.join("pytorch_model-00001-of-00002.bin"),
            dir.join("pytorch_model-00002-of-00002.bin")
        ]
    );
    check_seq2seq("t5", Seq2SeqLm::load(&dir).unwrap(), TOL);
}

#[test]
fn marian_from_pytorch_bin_matches_transformers() {
    let dir = fixture("marian-bin");
    assert!(!dir.join("model.safetensors").exists());
    // (The state dict also holds the fixed sinusoidal position tables,
    // which safetensors checkpoints leave out; they are not read.)
    check_seq2seq("marian", Seq2SeqLm::load(&dir).unwrap(), TOL);
}

/// Copies a fixture directory's files into a temp dir.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn corrupt_pytorch_bin_is_an_error_naming_the_file() {
    let dir = copy_fixture("qwen2-bin");
    let path = dir.path().join("pytorch_model.bin");
    let bytes = std::fs::read(&path).unwrap();

    // Cut short (a partial download): the zip's directory is gone.
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = dense_error(dir.path());
    assert!(
        err.contains("pytorch_model.bin") && err.contains("PyTorch"),
        "{err}"
    );
    // Not a zip at all.
    std::fs::write(&path, b"not a pickle").unwrap();
    let err = dense_error(dir.path());
    assert!(err.contains("pytorch_model.bin"), "{err}");

    // A scrambled pickle inside an intact zip (torch stores entries
    // uncompressed, so its bytes follow the entry's name).
    let name = b"pytorch_model/data.pkl";
    let at = bytes
        .windows(name.len())
        .position(|w| w == name)
        .expect("data.pkl entry");
    // The pickle starts with PROTO (0x80) shortly after the local header.
    let start = at
        + name.len()
        + bytes[at + name.len()..]
            .iter()
            .position(|&b| b == 0x80)
            .unwrap();
    for pattern in [0xffu8, b'(', b't', b'R'] {
        let mut bad = bytes.clone();
        for b in bad.iter_mut().skip(start + 2).take(64) {
            *b = pattern;
        }
        std::fs::write(&path, &bad).unwrap();
        let err = dense_error(dir.path());
        assert!(err.contains("pytorch_model.bin"), "{err}");
    }
}

/// A `torch.save`-style zip whose `data.pkl` is `pickle`.
fn write_pth(path: &Path, pickle: &[u8]) {
    use std::io::Write as _;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("pytorch_model/data.pkl", stored).unwrap();
    zip.write_all(pickle).unwrap();
    zip.finish().unwrap();
}

#[test]
fn malformed_pickles_are_errors_not_panics() {
    let dir = copy_fixture("qwen2-bin");
    let path = dir.path().join("pytorch_model.bin");
    // {"w": torch._utils._rebuild_tensor_v2()}: a tensor rebuilt from an
    // empty argument tuple, which candle's reader indexes into (a panic
    // there is caught and reported).
    let mut pickle = vec![0x80, 2, b'}', b'X', 1, 0, 0, 0, b'w', b'c'];
    pickle.extend_from_slice(b"torch._utils\n_rebuild_tensor_v2\n");
    pickle.extend_from_slice(b")Rs.");
    write_pth(&path, &pickle);
    let err = dense_error(dir.path());
    assert!(
        err.contains("pytorch_model.bin") && err.contains("PyTorch"),
        "{err}"
    );
    // An empty dict: no tensors at all.
    write_pth(&path, &[0x80, 2, b'}', b'.']);
    let err = dense_error(dir.path());
    assert!(err.contains("pytorch_model.bin"), "{err}");
    // A pickle cut short.
    write_pth(&path, &[0x80, 2, b'}', b'X', 200, 0, 0, 0, b'w']);
    let err = dense_error(dir.path());
    assert!(err.contains("pytorch_model.bin"), "{err}");
}

#[test]
fn pytorch_bin_with_short_tensor_data_names_the_tensor() {
    use std::io::{Read as _, Write as _};
    let dir = copy_fixture("qwen2-bin");
    let path = dir.path().join("pytorch_model.bin");
    // Rewrite the zip with every storage entry but one intact: the pickle
    // (names, shapes) still checks out, but one tensor's bytes are short.
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(fixture("qwen2-bin/pytorch_model.bin")).unwrap())
            .unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == "pytorch_model/data/3" {
            data.truncate(data.len() / 2);
        }
        out.start_file(name, stored).unwrap();
        out.write_all(&data).unwrap();
    }
    out.finish().unwrap();
    let err = dense_error(dir.path());
    assert!(
        err.contains("pytorch_model.bin") && err.contains("cannot read the data of tensor `model."),
        "{err}"
    );
}

#[test]
fn pytorch_bin_missing_shard_tensor_or_wrong_shape_names_it() {
    // A shard named by the index is missing.
    let dir = copy_fixture("t5-bin-sharded");
    let shard = "pytorch_model-00002-of-00002.bin";
    std::fs::remove_file(dir.path().join(shard)).unwrap();
    let err = Seq2SeqLm::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains(shard), "{err}");

    // The config asks for a layer the checkpoint does not have.
    let dir = copy_fixture("qwen2-bin");
    let config = dir.path().join("config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"),
    )
    .unwrap();
    let err = dense_error(dir.path());
    assert!(
        err.contains("model.layers.2.")
            && err.contains("missing")
            && err.contains("pytorch_model.bin"),
        "{err}"
    );
    // ... or other shapes.
    std::fs::write(
        &config,
        text.replace("\"intermediate_size\": 128", "\"intermediate_size\": 96"),
    )
    .unwrap();
    let err = dense_error(dir.path());
    assert!(
        err.contains("mlp.") && err.contains("[96, 64]") && err.contains("pytorch_model.bin"),
        "{err}"
    );
}

// --- T5 / MADLAD-400 from GGUF -----------------------------------------
// MADLAD-400 GGUF repos hold config.json, the tokenizer and a GGUF written
// by candle's tensor-tools from the safetensors (same tensor names; rank-2
// tensors whose rows split into whole blocks quantized, the rest f32). The
// tests write such a file from the t5 fixture's safetensors.

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};

/// A directory with the t5 fixture's config.json and `model.gguf` holding
/// its tensors, each stored as `dtype_of(name, tensor)`; `edit` may change
/// the tensors first.
fn t5_gguf(
    dtype_of: impl Fn(&str, &Tensor) -> GgmlDType,
    edit: impl FnOnce(&mut HashMap<String, Tensor>),
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("t5");
    std::fs::copy(src.join("config.json"), dir.path().join("config.json")).unwrap();
    let mut tensors =
        candle_core::safetensors::load(src.join("model.safetensors"), &Device::Cpu).unwrap();
    edit(&mut tensors);
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    let qtensors: Vec<(&str, QTensor)> = names
        .iter()
        .map(|n| {
            let t = &tensors[*n];
            (n.as_str(), QTensor::quantize(t, dtype_of(n, t)).unwrap())
        })
        .collect();
    let refs: Vec<(&str, &QTensor)> = qtensors.iter().map(|(n, q)| (*n, q)).collect();
    let mut file = std::fs::File::create(dir.path().join("model.gguf")).unwrap();
    gguf_file::write(&mut file, &[], &refs).unwrap();
    dir
}

fn all_f32(_: &str, _: &Tensor) -> GgmlDType {
    GgmlDType::F32
}

/// tensor-tools' rule: quantize rank-2 tensors whose rows are whole
/// blocks; keep the rest (norms, the 32x4 position-bias table) f32.
fn q8_0_where_possible(_: &str, t: &Tensor) -> GgmlDType {
    let block = GgmlDType::Q8_0.block_size();
    match t.dims() {
        [_, cols] if cols % block == 0 => GgmlDType::Q8_0,
        _ => GgmlDType::F32,
    }
}

#[test]
fn t5_from_f32_gguf_matches_transformers() {
    let dir = t5_gguf(all_f32, |_| {});
    let files = tarjoman_models::weights::Checkpoint::files_in(dir.path()).unwrap();
    assert_eq!(files, vec![dir.path().join("model.gguf")]);
    let lm = Seq2SeqLm::load(dir.path()).unwrap();
    let st = Seq2SeqLm::load(&fixture("t5")).unwrap();
    assert_eq!(lm.parameters, st.parameters);
    check_seq2seq("t5", lm, TOL);
}

/// Q8_0 weights (and, in candle's quantized matmul, Q8_0-quantized
/// activations) move this fixture's logits (|logit| <= 2.3, std 0.55) by at
/// most 0.0615 from transformers' f32 ones (measured over every comparison
/// in `check_seq2seq`: teacher-forced 0.059, cached 0.032-0.059, greedy
/// steps 0.021-0.034, batch rows 0.043-0.061); the bound leaves headroom
/// for other CPUs' kernels. The greedy ids still equal transformers'
/// exactly, and the invariants hold within 1e-4.
const Q8_0_TOL: f32 = 0.1;

#[test]
fn t5_from_q8_0_gguf_is_close_to_transformers() {
    let dir = t5_gguf(q8_0_where_possible, |_| {});
    let ckpt =
        tarjoman_models::weights::Checkpoint::open(&[dir.path().join("model.gguf")]).unwrap();
    let counts = ckpt.dtype_counts();
    assert!(counts.iter().any(|(d, _)| d == "Q8_0"), "{counts:?}");
    check_seq2seq("t5", Seq2SeqLm::load(dir.path()).unwrap(), Q8_0_TOL);
}

#[test]
fn gguf_missing_tensor_wrong_shape_or_truncation_names_it() {
    let tensor = "decoder.block.1.layer.1.EncDecAttention.q.weight";
    let dir = t5_gguf(all_f32, |t| {
        t.remove(tensor).unwrap();
    });
    let err = Seq2SeqLm::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains(tensor) && err.contains("missing") && err.contains("model.gguf"),
        "{err}"
    );

    let tensor = "encoder.block.0.layer.1.DenseReluDense.wi_0.weight";
    let dir = t5_gguf(q8_0_where_possible, |t| {
        let w = t[tensor].narrow(0, 0, 32).unwrap();
        t.insert(tensor.to_string(), w);
    });
    let err = Seq2SeqLm::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains(tensor) && err.contains("[32, 32]") && err.contains("[64, 32]"),
        "{err}"
    );

    let dir = t5_gguf(q8_0_where_possible, |_| {});
    let path = dir.path().join("model.gguf");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let err = Seq2SeqLm::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("model.gguf") && err.contains("truncated"),
        "{err}"
    );

    // Decoder-only families take GGUF files alone, not beside config.json.
    let qwen2 = copy_fixture("qwen2");
    std::fs::remove_file(qwen2.path().join("model.safetensors")).unwrap();
    std::fs::copy(&path, qwen2.path().join("model.gguf")).unwrap();
    let t5 = t5_gguf(all_f32, |_| {});
    std::fs::copy(
        t5.path().join("model.gguf"),
        qwen2.path().join("model.gguf"),
    )
    .unwrap();
    let err = dense_error(qwen2.path());
    assert!(err.contains("model.gguf") && err.contains("t5"), "{err}");
}

#[test]
fn single_tensors_read_alike_from_safetensors_and_pickles() {
    use tarjoman_models::weights::Checkpoint;
    let name = "model.layers.1.mlp.down_proj.weight";
    let open = |dir: &str| Checkpoint::open(&Checkpoint::files_in(&fixture(dir)).unwrap()).unwrap();
    let (st, bin) = (open("qwen2"), open("qwen2-bin"));
    let a = st.tensor(name, &[64, 128], &Device::Cpu).unwrap();
    let b = bin.tensor(name, &[64, 128], &Device::Cpu).unwrap();
    assert_eq!(max_diff(&a, &b), 0.0);
    assert!(
        a.abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            > 0.0
    );
    let err = bin
        .tensor(name, &[128, 64], &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(name) && err.contains("pytorch_model.bin"),
        "{err}"
    );
    let err = st
        .tensor("nope.weight", &[1], &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("nope.weight") && err.contains("missing"),
        "{err}"
    );
}

// --- GGUF: the decoder-only fixtures as llama.cpp converts them ---------
// The production path for GGUF files (`CausalLm`, our quantized decoder in
// `decoder/`) checked against transformers on the same fixtures: each is
// written as an f32 GGUF with llama.cpp's tensor names and metadata, so the
// logits must match to 1e-4 and greedy ids exactly.

/// llama.cpp's GGUF name for a Hugging Face tensor name.
fn gguf_tensor_name(hf: &str, gemma: bool) -> String {
    match hf {
        "model.embed_tokens.weight" => return "token_embd.weight".into(),
        "model.norm.weight" => return "output_norm.weight".into(),
        "lm_head.weight" => return "output.weight".into(),
        _ => {}
    }
    let rest = hf.strip_prefix("model.layers.").expect(hf);
    let (layer, rest) = rest.split_once('.').expect(hf);
    let (stem, kind) = rest.rsplit_once('.').expect(hf);
    let stem = match stem {
        "input_layernorm" => "attn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "self_attn.q_norm" => "attn_q_norm",
        "self_attn.k_norm" => "attn_k_norm",
        "post_attention_layernorm" if gemma => "post_attention_norm",
        "post_attention_layernorm" | "pre_feedforward_layernorm" => "ffn_norm",
        "post_feedforward_layernorm" => "post_ffw_norm",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        other => panic!("no GGUF name for {other}"),
    };
    format!("blk.{layer}.{stem}.{kind}")
}

/// Writes fixture `name` into `dir` as `model.gguf` (f32 tensors) plus a
/// word-level `tokenizer.json` over its 256 ids, converted as
/// convert_hf_to_gguf.py does: Llama's q/k rows permuted for interleaved
/// RoPE, Gemma's norm weights stored as `1 + w`.
fn fixture_as_gguf(name: &str, dir: &Path) -> (PathBuf, PathBuf) {
    use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
    use gguf_file::Value as V;
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(name).join("config.json")).unwrap())
            .unwrap();
    let u = |k: &str| cfg[k].as_u64().unwrap() as u32;
    let arch = match cfg["model_type"].as_str().unwrap() {
        "gemma3_text" => "gemma3",
        other => other,
    };
    let gemma = arch == "gemma3";
    let (heads, kv_heads, hidden) = (
        u("num_attention_heads"),
        u("num_key_value_heads"),
        u("hidden_size"),
    );
    let head_dim = cfg["head_dim"]
        .as_u64()
        .map_or(hidden / heads, |v| v as u32);
    let rope = &cfg["rope_parameters"];
    let theta = |r: &Value| V::F32(r["rope_theta"].as_f64().unwrap() as f32);
    let mut md: Vec<(String, V)> = vec![
        ("general.architecture".into(), V::String(arch.into())),
        (
            format!("{arch}.block_count"),
            V::U32(u("num_hidden_layers")),
        ),
        (format!("{arch}.embedding_length"), V::U32(hidden)),
        (format!("{arch}.attention.head_count"), V::U32(heads)),
        (format!("{arch}.attention.head_count_kv"), V::U32(kv_heads)),
        (format!("{arch}.attention.key_length"), V::U32(head_dim)),
        (format!("{arch}.rope.dimension_count"), V::U32(head_dim)),
        (
            format!("{arch}.attention.layer_norm_rms_epsilon"),
            V::F32(cfg["rms_norm_eps"].as_f64().unwrap() as f32),
        ),
        (
            format!("{arch}.context_length"),
            V::U32(u("max_position_embeddings")),
        ),
        ("tokenizer.ggml.eos_token_id".into(), V::U32(1)),
    ];
    if gemma {
        md.push((
            format!("{arch}.rope.freq_base"),
            theta(&rope["full_attention"]),
        ));
        md.push((
            format!("{arch}.rope.local_freq_base"),
            theta(&rope["sliding_attention"]),
        ));
        md.push((
            format!("{arch}.attention.sliding_window"),
            V::U32(u("sliding_window")),
        ));
        // The fixture's layers alternate local, global.
        assert_eq!(cfg["layer_types"][1], "full_attention");
        md.push((format!("{arch}.attention.sliding_window_type"), V::U32(2)));
    } else {
        md.push((format!("{arch}.rope.freq_base"), theta(rope)));
    }

    let tensors =
        candle_core::safetensors::load(fixture(name).join("model.safetensors"), &Device::Cpu)
            .unwrap();
    let mut converted: Vec<(String, QTensor)> = Vec::new();
    for (hf, t) in &tensors {
        let mut t = t.clone();
        let rows_per_head = match hf.rsplit('.').nth(1) {
            Some("q_proj") => Some(heads),
            Some("k_proj") => Some(kv_heads),
            _ => None,
        };
        if let (true, Some(n)) = (arch == "llama", rows_per_head) {
            // convert_hf_to_gguf.py `LlamaModel.permute`.
            let (rows, cols) = t.dims2().unwrap();
            let n = n as usize;
            t = t
                .reshape((n, 2, rows / n / 2, cols))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
                .reshape((rows, cols))
                .unwrap();
        }
        if gemma && hf.ends_with("norm.weight") {
            t = (t + 1.0).unwrap();
        }
        converted.push((
            gguf_tensor_name(hf, gemma),
            QTensor::quantize(&t, GgmlDType::F32).unwrap(),
        ));
    }
    let gguf = dir.join("model.gguf");
    let md_refs: Vec<(&str, &V)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let t_refs: Vec<(&str, &QTensor)> = converted.iter().map(|(n, q)| (n.as_str(), q)).collect();
    let mut file = std::fs::File::create(&gguf).unwrap();
    gguf_file::write(&mut file, &md_refs, &t_refs).unwrap();

    let vocab: serde_json::Map<String, Value> = (0..256)
        .map(|i| (format!("t{i}"), serde_json::json!(i)))
        .collect();
    let tokenizer = dir.join("tokenizer.json");
    let doc = serde_json::json!({"version": "1.0",
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "t3"}});
    std::fs::write(&tokenizer, doc.to_string()).unwrap();
    (gguf, tokenizer)
}

fn check_gguf_family(name: &str, backend: tarjoman_models::causal::Backend) {
    use tarjoman_models::causal::CausalLm;
    let dir = tempfile::tempdir().unwrap();
    let (gguf, tokenizer) = fixture_as_gguf(name, dir.path());
    let r = Reference::load(name);
    let mut lm = CausalLm::load_with(&gguf, Some(&tokenizer), backend).unwrap();
    let prompt = r.ids("input_ids");
    let what = format!("{name} GGUF ({backend:?})");

    // The whole prompt in one pass, then every position fed one at a time
    // through the cache.
    let last = prompt.len() - 1;
    let whole = lm.forward(&prompt, 0).unwrap();
    assert_close(
        &format!("{what} prompt"),
        &whole,
        &r.t("logits").get(last).unwrap(),
    );
    for (pos, &id) in prompt.iter().enumerate() {
        let logits = lm.forward(&[id], pos).unwrap();
        assert_close(
            &format!("{what} position {pos}"),
            &logits,
            &r.t("logits").get(pos).unwrap(),
        );
    }

    let steps = r.json["greedy_steps"].as_u64().unwrap() as usize;
    let (ids, step_logits) = greedy(&mut lm, &prompt, steps);
    assert_eq!(ids, r.ids("greedy_ids"), "{what} greedy ids");
    for (k, l) in step_logits.iter().enumerate() {
        assert_close(
            &format!("{what} greedy step {k}"),
            l,
            &r.t("greedy_logits").get(k).unwrap(),
        );
    }
}

#[test]
fn gguf_decoders_match_transformers() {
    use tarjoman_models::causal::Backend;
    for name in ["qwen2", "qwen3", "llama", "gemma3"] {
        check_gguf_family(name, Backend::Fast);
    }
    // candle-transformers' quantized models as published. Not gemma3: its
    // feed-forward uses SiLU where Gemma 3 uses GELU. Not qwen3: candle's
    // `quantized_qwen3` is 2.5e-4 off transformers' logits here, above this
    // file's 1e-4 (measured; it is only the reference backend).
    for name in ["qwen2", "llama"] {
        check_gguf_family(name, Backend::Reference);
    }
}

/// Batched decoding (`CausalLm::step_many`): rows at different positions in
/// their own slots give each row's transformers logits, and two slots
/// decoding the same prompt side by side follow transformers' greedy ids.
fn check_gguf_batched(name: &str) {
    use tarjoman_models::causal::{Backend, CausalLm};
    let dir = tempfile::tempdir().unwrap();
    let (gguf, tokenizer) = fixture_as_gguf(name, dir.path());
    let r = Reference::load(name);
    let mut lm = CausalLm::load_with(&gguf, Some(&tokenizer), Backend::Fast).unwrap();
    let prompt = r.ids("input_ids");
    let what = format!("{name} GGUF batched");
    assert!(prompt.len() >= 4, "{what}: fixture prompt too short");

    // Slot s holds the first `cut[s]` prompt tokens; one step then feeds
    // each slot its next prompt token, at a different position per row.
    let cuts = [prompt.len() - 1, 2, prompt.len() / 2 + 1];
    for (slot, &cut) in cuts.iter().enumerate() {
        lm.prefill_in(slot, &prompt[..cut]).unwrap();
    }
    let rows: Vec<(usize, u32)> = cuts
        .iter()
        .enumerate()
        .map(|(slot, &cut)| (slot, prompt[cut]))
        .collect();
    let logits = lm.step_many(&rows).unwrap();
    for (slot, &cut) in cuts.iter().enumerate() {
        assert_close(
            &format!("{what} slot {slot} at position {cut}"),
            &logits[slot],
            &r.t("logits").get(cut).unwrap(),
        );
    }

    // Two slots decode the reference's greedy continuation together.
    let steps = r.json["greedy_steps"].as_u64().unwrap() as usize;
    let expected = r.ids("greedy_ids");
    let mut next = Vec::new();
    for slot in [1, 2] {
        let (l, _) = lm.prefill_in(slot, &prompt).unwrap();
        next.push(argmax(&l, &[]));
    }
    let mut ids: Vec<Vec<u32>> = vec![Vec::new(), Vec::new()];
    for k in 0..steps {
        for (row, id) in next.iter().enumerate() {
            ids[row].push(*id);
        }
        if k + 1 == steps {
            break;
        }
        let logits = lm.step_many(&[(1, next[0]), (2, next[1])]).unwrap();
        for (row, l) in logits.iter().enumerate() {
            assert_close(
                &format!("{what} row {row} greedy step {}", k + 1),
                l,
                &r.t("greedy_logits").get(k + 1).unwrap(),
            );
            next[row] = argmax(l, &[]);
        }
    }
    assert_eq!(ids[0], expected, "{what} greedy ids, row 0");
    assert_eq!(ids[1], expected, "{what} greedy ids, row 1");

    // A fresh slot borrows the prompt's keys and values from a slot that
    // holds it (here slot 1, which has decoded on past it) and computes
    // only the last token, with the same logits.
    let (l, computed) = lm.prefill_in(3, &prompt).unwrap();
    let expect = match prompt.len() > tarjoman_models::causal::MIN_BORROWED_PREFIX {
        true => 1,
        false => prompt.len(),
    };
    assert_eq!(computed, expect, "{what}: tokens computed in a fresh slot");
    assert_close(
        &format!("{what} borrowed prefix"),
        &l,
        &r.t("logits").get(prompt.len() - 1).unwrap(),
    );
    // ... and decodes on from it like the others.
    let l = lm.step_many(&[(3, expected[0])]).unwrap();
    assert_close(
        &format!("{what} step after a borrowed prefix"),
        &l[0],
        &r.t("greedy_logits").get(1).unwrap(),
    );

    // Misuse is an error, not a panic.
    assert!(
        lm.step_many(&[(1, 0), (1, 0)]).is_err(),
        "{what}: slot twice"
    );
    assert!(lm.step_many(&[(7, 0)]).is_err(), "{what}: empty slot");
}

#[test]
fn gguf_batched_decoding_matches_transformers() {
    for name in ["qwen2", "qwen3", "llama", "gemma3"] {
        check_gguf_batched(name);
    }
}
