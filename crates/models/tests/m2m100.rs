//! M2M100 / NLLB-200 against Hugging Face transformers on a tiny random
//! checkpoint. The fixture (tests/fixtures/m2m100: config, weights,
//! tokenizer, reference.json with the reference logits and greedy ids) is made
//! by `scripts/make_fixture_m2m100.py`; its README gives the versions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};
use serde::Deserialize;
use tarjoman_models::m2m100::{self, M2M100};
use tarjoman_models::{tokenizer, Error};

#[derive(Deserialize)]
struct Reference {
    src_lang: String,
    tgt_lang: String,
    tgt_lang_id: u32,
    source_text: String,
    source_ids: Vec<u32>,
    decoder_input_ids: Vec<u32>,
    encoder_hidden: Vec<Vec<f32>>,
    logits: Vec<Vec<f32>>,
    max_new_tokens: usize,
    greedy: Vec<u32>,
    batch_texts: Vec<String>,
    batch_ids: Vec<Vec<u32>>,
    batch_mask: Vec<Vec<u32>>,
    batch_logits: Vec<Vec<Vec<f32>>>,
    batch_greedy: Vec<Vec<u32>>,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/m2m100")
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(fixture_dir().join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn model() -> M2M100 {
    M2M100::load(&fixture_dir()).unwrap()
}

/// The sources of the reference batch without their padding.
fn unpadded(r: &Reference) -> Vec<Vec<u32>> {
    r.batch_ids
        .iter()
        .zip(&r.batch_mask)
        .map(|(ids, mask)| {
            ids.iter()
                .zip(mask)
                .filter(|(_, &m)| m == 1)
                .map(|(&id, _)| id)
                .collect()
        })
        .collect()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

fn tensor2(rows: &[Vec<f32>]) -> Tensor {
    Tensor::new(rows.to_vec(), &Device::Cpu).unwrap()
}

/// Logits for `decoder` fed at once after encoding `sources`.
fn logits(model: &M2M100, sources: &[Vec<u32>], decoder: &[u32]) -> Tensor {
    let encoded = model.encode(sources).unwrap();
    let mut cache = model.start_decoding(&encoded).unwrap();
    let rows = vec![decoder.to_vec(); sources.len()];
    model.decode(&rows, &mut cache).unwrap()
}

#[test]
fn encoder_states_and_logits_match_transformers() {
    let r = reference();
    let model = model();
    let encoded = model.encode(std::slice::from_ref(&r.source_ids)).unwrap();
    let hidden = encoded.hidden().squeeze(0).unwrap();
    let diff = max_abs_diff(&hidden, &tensor2(&r.encoder_hidden));
    assert!(diff < 1e-4, "encoder states differ by {diff}");

    let logits = logits(
        &model,
        std::slice::from_ref(&r.source_ids),
        &r.decoder_input_ids,
    );
    let diff = max_abs_diff(&logits.squeeze(0).unwrap(), &tensor2(&r.logits));
    assert!(diff < 1e-4, "logits differ by {diff}");
}

#[test]
fn greedy_ids_match_transformers() {
    let r = reference();
    let ids = model()
        .greedy(&r.source_ids, Some(r.tgt_lang_id), r.max_new_tokens)
        .unwrap();
    assert_eq!(ids, r.greedy);
    assert_eq!(ids.first(), Some(&r.tgt_lang_id));
}

#[test]
fn padded_batch_matches_transformers() {
    let r = reference();
    let model = model();
    let sources = unpadded(&r);
    assert_ne!(sources[0].len(), sources[1].len());
    let encoded = model.encode(&sources).unwrap();
    let mask: Vec<Vec<u8>> = encoded.mask().to_vec2().unwrap();
    let expected: Vec<Vec<u8>> = r
        .batch_mask
        .iter()
        .map(|row| row.iter().map(|&m| m as u8).collect())
        .collect();
    assert_eq!(mask, expected);

    let logits = logits(&model, &sources, &r.decoder_input_ids);
    for (row, expected) in r.batch_logits.iter().enumerate() {
        let got = logits.get(row).unwrap();
        let diff = max_abs_diff(&got, &tensor2(expected));
        assert!(diff < 1e-4, "batch row {row} logits differ by {diff}");
    }
    let greedy = model
        .greedy_batch(&sources, Some(r.tgt_lang_id), r.max_new_tokens)
        .unwrap();
    assert_eq!(greedy, r.batch_greedy);
}

#[test]
fn each_row_of_a_padded_batch_equals_the_single_input() {
    let r = reference();
    let model = model();
    let sources = unpadded(&r);
    let batch_encoded = model.encode(&sources).unwrap();
    let batch_logits = logits(&model, &sources, &r.decoder_input_ids);
    let batch_greedy = model
        .greedy_batch(&sources, Some(r.tgt_lang_id), r.max_new_tokens)
        .unwrap();
    for (row, source) in sources.iter().enumerate() {
        let single = model.encode(std::slice::from_ref(source)).unwrap();
        let real = batch_encoded
            .hidden()
            .get(row)
            .unwrap()
            .narrow(0, 0, source.len())
            .unwrap();
        let diff = max_abs_diff(&real, &single.hidden().squeeze(0).unwrap());
        assert!(diff < 1e-5, "row {row} encoder states differ by {diff}");

        let single_logits = logits(&model, std::slice::from_ref(source), &r.decoder_input_ids);
        let diff = max_abs_diff(
            &batch_logits.get(row).unwrap(),
            &single_logits.squeeze(0).unwrap(),
        );
        assert!(diff < 1e-5, "row {row} logits differ by {diff}");

        let single_greedy = model
            .greedy(source, Some(r.tgt_lang_id), r.max_new_tokens)
            .unwrap();
        assert_eq!(batch_greedy[row], single_greedy, "row {row}");
    }
}

#[test]
fn cached_decoding_equals_full_recompute() {
    let r = reference();
    let model = model();
    let sources = unpadded(&r);
    let full = logits(&model, &sources, &r.decoder_input_ids);

    let encoded = model.encode(&sources).unwrap();
    let mut cache = model.start_decoding(&encoded).unwrap();
    let mut steps = Vec::new();
    for &id in &r.decoder_input_ids {
        steps.push(model.decode(&[[id], [id]], &mut cache).unwrap());
    }
    assert_eq!(cache.len(), r.decoder_input_ids.len());
    let cached = Tensor::cat(&steps, 1).unwrap();
    let diff = max_abs_diff(&full, &cached);
    assert!(
        diff < 1e-5,
        "cached logits differ from full recompute by {diff}"
    );

    // A prefix fed in two chunks, the second attending to the first through
    // the cache with its own causal mask.
    let mut cache = model.start_decoding(&encoded).unwrap();
    let (head, tail) = r.decoder_input_ids.split_at(2);
    let first = model.decode(&[head, head], &mut cache).unwrap();
    let second = model.decode(&[tail, tail], &mut cache).unwrap();
    let chunked = Tensor::cat(&[first, second], 1).unwrap();
    let diff = max_abs_diff(&full, &chunked);
    assert!(
        diff < 1e-5,
        "chunked logits differ from full recompute by {diff}"
    );
}

#[test]
fn selected_cache_rows_decode_as_those_rows() {
    let r = reference();
    let model = model();
    let sources = unpadded(&r);
    let (head, tail) = r.decoder_input_ids.split_at(3);
    let full = logits(&model, &sources, &r.decoder_input_ids);

    let encoded = model.encode(&sources).unwrap();
    let mut cache = model.start_decoding(&encoded).unwrap();
    model.decode(&[head, head], &mut cache).unwrap();
    // Swap the rows and repeat the second, as a beam search might.
    cache.select_rows(&[1, 0, 1]).unwrap();
    let rest = model.decode(&[tail, tail, tail], &mut cache).unwrap();
    let tail_len = tail.len();
    for (got, want) in [(0, 1), (1, 0), (2, 1)] {
        let expected = full.get(want).unwrap().narrow(0, 3, tail_len).unwrap();
        let diff = max_abs_diff(&rest.get(got).unwrap(), &expected);
        assert!(diff < 1e-5, "selected row {got} differs by {diff}");
    }
    assert!(matches!(cache.select_rows(&[3]), Err(Error::Input(_))));
}

#[test]
fn the_same_input_twice_gives_the_same_output() {
    let r = reference();
    let model = model();
    let first = logits(
        &model,
        std::slice::from_ref(&r.source_ids),
        &r.decoder_input_ids,
    );
    let second = logits(
        &model,
        std::slice::from_ref(&r.source_ids),
        &r.decoder_input_ids,
    );
    assert_eq!(max_abs_diff(&first, &second), 0.0);
    let a = model.greedy(&r.source_ids, Some(r.tgt_lang_id), r.max_new_tokens);
    let b = model.greedy(&r.source_ids, Some(r.tgt_lang_id), r.max_new_tokens);
    assert_eq!(a.unwrap(), b.unwrap());
}

#[test]
fn nllb_source_ids_and_language_codes_match_the_tokenizer() {
    let r = reference();
    let tok = tokenizer::from_file(&fixture_dir().join("tokenizer.json")).unwrap();
    let src = m2m100::lang_code_id(&tok, &r.src_lang).unwrap();
    let tgt = m2m100::lang_code_id(&tok, &r.tgt_lang).unwrap();
    assert_eq!(tgt, r.tgt_lang_id);
    let eos = model().config().eos_token_id;
    let ids = m2m100::source_ids(&tok, &r.source_text, src, eos).unwrap();
    assert_eq!(ids, r.source_ids);
    for (text, expected) in r.batch_texts.iter().zip(unpadded(&r)) {
        assert_eq!(m2m100::source_ids(&tok, text, src, eos).unwrap(), expected);
    }
    // Not a language code at all, and an ordinary (non-special) token.
    for code in ["xyz_Abcd", "▁"] {
        let err = m2m100::lang_code_id(&tok, code).unwrap_err();
        assert!(matches!(err, Error::LanguageCode { .. }), "{code}: {err}");
        assert!(err.to_string().contains(code), "{err}");
    }
}

/// A copy of the fixture in a temp dir with its weights changed by `edit`.
fn edited_fixture(edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> tempfile::TempDir {
    edited_fixture_and_config(edit, |_| {})
}

/// A copy of the fixture with its weights and `config.json` edited.
fn edited_fixture_and_config(
    edit: impl FnOnce(&mut HashMap<String, Tensor>),
    edit_config: impl FnOnce(&mut serde_json::Value),
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config_text = std::fs::read_to_string(fixture_dir().join("config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&config_text).unwrap();
    edit_config(&mut config);
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::copy(fixture_dir().join("model.safetensors"), &path).unwrap();
    let mut tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    edit(&mut tensors);
    candle_core::safetensors::save(&tensors, &path).unwrap();
    dir
}

fn load_error(dir: &Path) -> Error {
    match M2M100::load(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(err) => err,
    }
}

#[test]
fn a_missing_tensor_is_an_error_naming_it() {
    let name = "model.decoder.layers.1.fc2.weight";
    let dir = edited_fixture(|t| {
        t.remove(name);
    });
    let err = load_error(dir.path());
    assert!(
        matches!(&err, Error::MissingTensor { tensor, .. } if tensor == name),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains(name) && message.contains("model.safetensors"),
        "{message}"
    );
}

#[test]
fn a_wrongly_shaped_tensor_is_an_error_naming_it() {
    let name = "model.encoder.layers.0.self_attn.q_proj.weight";
    let dir = edited_fixture(|t| {
        t.insert(
            name.into(),
            Tensor::zeros((32, 16), DType::F32, &Device::Cpu).unwrap(),
        );
    });
    let err = load_error(dir.path());
    assert!(
        matches!(&err, Error::TensorShape { tensor, expected, found, .. }
            if tensor == name && expected == &[32, 32] && found == &[32, 16]),
        "{err}"
    );
    assert!(err.to_string().contains(name), "{err}");
}

#[test]
fn a_tensor_of_the_wrong_dtype_is_an_error_naming_it() {
    let name = "model.shared.weight";
    let dir = edited_fixture(|t| {
        t.insert(
            name.into(),
            Tensor::zeros((204, 32), DType::U32, &Device::Cpu).unwrap(),
        );
    });
    let err = load_error(dir.path());
    assert!(
        matches!(&err, Error::TensorDtype { tensor, .. } if tensor == name),
        "{err}"
    );
    assert!(err.to_string().contains(name), "{err}");
}

#[test]
fn a_truncated_weights_file_is_an_error_naming_it() {
    let dir = edited_fixture(|_| {});
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_error(dir.path());
    assert!(matches!(&err, Error::Safetensors { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn bf16_weights_load_and_stay_close() {
    let dir = edited_fixture(|t| {
        for tensor in t.values_mut() {
            *tensor = tensor.to_dtype(DType::BF16).unwrap();
        }
    });
    let r = reference();
    let model = M2M100::load(dir.path()).unwrap();
    let logits = logits(
        &model,
        std::slice::from_ref(&r.source_ids),
        &r.decoder_input_ids,
    );
    let diff = max_abs_diff(&logits.squeeze(0).unwrap(), &tensor2(&r.logits));
    // bf16 keeps 8 bits of mantissa: close, not equal.
    assert!(diff > 0.0 && diff < 0.5, "bf16 logits differ by {diff}");
}

fn untie(config: &mut serde_json::Value) {
    config["tie_word_embeddings"] = false.into();
}

#[test]
fn a_stored_lm_head_is_used_and_a_missing_one_tied() {
    let r = reference();
    let source = std::slice::from_ref(&r.source_ids);
    let tied = logits(&model(), source, &r.decoder_input_ids);
    let double_head = |t: &mut HashMap<String, Tensor>| {
        let doubled = (t["model.shared.weight"].clone() * 2.0).unwrap();
        t.insert("lm_head.weight".into(), doubled);
    };
    let dir = edited_fixture_and_config(double_head, untie);
    let untied = logits(
        &M2M100::load(dir.path()).unwrap(),
        source,
        &r.decoder_input_ids,
    );
    let diff = max_abs_diff(&untied, &(&tied * 2.0).unwrap());
    assert!(diff < 1e-4, "untied head logits differ by {diff}");

    // With tie_word_embeddings (the fixture's setting) transformers 5.23
    // still uses a stored head that differs from the shared matrix.
    let dir = edited_fixture(double_head);
    let stored = logits(
        &M2M100::load(dir.path()).unwrap(),
        source,
        &r.decoder_input_ids,
    );
    let diff = max_abs_diff(&stored, &(&tied * 2.0).unwrap());
    assert!(diff < 1e-4, "stored head logits differ by {diff}");

    // A stored copy of the shared matrix changes nothing.
    let dir = edited_fixture(|t| {
        let copy = t["model.shared.weight"].copy().unwrap();
        t.insert("lm_head.weight".into(), copy);
    });
    let copied = logits(
        &M2M100::load(dir.path()).unwrap(),
        source,
        &r.decoder_input_ids,
    );
    assert_eq!(max_abs_diff(&copied, &tied), 0.0);

    // An untied config without a head is a missing tensor.
    let dir = edited_fixture_and_config(|_| {}, untie);
    let err = load_error(dir.path());
    assert!(
        matches!(&err, Error::MissingTensor { tensor, .. } if tensor == "lm_head.weight"),
        "{err}"
    );
}

#[test]
fn shared_embeddings_stored_under_the_encoder_name_are_found() {
    let r = reference();
    let source = std::slice::from_ref(&r.source_ids);
    let expected = logits(&model(), source, &r.decoder_input_ids);
    let dir = edited_fixture(|t| {
        let shared = t.remove("model.shared.weight").unwrap();
        t.insert("model.encoder.embed_tokens.weight".into(), shared);
    });
    let renamed = logits(
        &M2M100::load(dir.path()).unwrap(),
        source,
        &r.decoder_input_ids,
    );
    assert_eq!(max_abs_diff(&renamed, &expected), 0.0);
}

/// A head that always prefers `</s>`: the final decoder layer norm outputs
/// its bias `e`, and only the `</s>` row of the head is `e`.
#[test]
fn greedy_stops_after_eos() {
    let r = reference();
    let eos = 2usize;
    let dir = edited_fixture_and_config(
        |t| {
            let e = Tensor::ones(32, DType::F32, &Device::Cpu).unwrap();
            let zeros = Tensor::zeros(32, DType::F32, &Device::Cpu).unwrap();
            t.insert("model.decoder.layer_norm.weight".into(), zeros);
            t.insert("model.decoder.layer_norm.bias".into(), e.clone());
            let rows: Vec<Tensor> = (0..204)
                .map(|i| {
                    if i == eos {
                        e.clone()
                    } else {
                        e.zeros_like().unwrap()
                    }
                })
                .collect();
            t.insert("lm_head.weight".into(), Tensor::stack(&rows, 0).unwrap());
        },
        untie,
    );
    let model = M2M100::load(dir.path()).unwrap();
    let logits = logits(
        &model,
        std::slice::from_ref(&r.source_ids),
        &r.decoder_input_ids,
    );
    let argmax: Vec<u32> = logits
        .squeeze(0)
        .unwrap()
        .argmax(D::Minus1)
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(argmax.iter().all(|&id| id as usize == eos));

    let ids = model
        .greedy(&r.source_ids, Some(r.tgt_lang_id), 10)
        .unwrap();
    assert_eq!(ids, vec![r.tgt_lang_id, eos as u32]);
    assert_eq!(
        model.greedy(&r.source_ids, None, 10).unwrap(),
        vec![eos as u32]
    );
    let batch = model
        .greedy_batch(&unpadded(&r), Some(r.tgt_lang_id), 10)
        .unwrap();
    assert_eq!(batch, vec![vec![r.tgt_lang_id, eos as u32]; 2]);
}

#[test]
fn bad_inputs_are_errors() {
    let model = model();
    let empty: [Vec<u32>; 0] = [];
    assert!(matches!(model.encode(&empty), Err(Error::Input(_))));
    assert!(matches!(model.encode(&[vec![]]), Err(Error::Input(_))));
    assert!(matches!(
        model.encode(&[vec![5, 100_000]]),
        Err(Error::Input(_))
    ));
    assert!(matches!(
        model.encode(&[vec![5; 65]]),
        Err(Error::ContextOverflow {
            tokens: 65,
            context: 64
        })
    ));
    let encoded = model.encode(&[vec![5, 6, 2]]).unwrap();
    let mut cache = model.start_decoding(&encoded).unwrap();
    assert!(matches!(
        model.decode(&[[2], [2]], &mut cache),
        Err(Error::Input(_))
    ));
    assert!(matches!(
        model.decode(&[[0u32; 0]], &mut cache),
        Err(Error::Input(_))
    ));
    assert!(cache.is_empty());
}
