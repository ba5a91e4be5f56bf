//! Tokenizers: a Hugging Face `tokenizer.json`, or one built from the
//! `tokenizer.ggml.*` metadata that every GGUF file carries.
//!
//! Building from GGUF covers byte-level BPE vocabularies (`tokenizer.ggml.model
//! = gpt2`: Qwen, SmolLM2). We write the equivalent `tokenizer.json` document
//! and hand it to the `tokenizers` crate rather than re-implementing BPE: the
//! only model-specific part is the pre-tokenizer, chosen by
//! `tokenizer.ggml.pre` exactly as llama.cpp does (`llama-vocab.cpp`).

use std::path::Path;

use serde_json::{json, Value};
use tokenizers::Tokenizer;

use crate::gguf::GgufFile;
use crate::{Error, Result};

/// Loads a `tokenizer.json` file.
pub fn from_file(path: &Path) -> Result<Tokenizer> {
    Tokenizer::from_file(path).map_err(|source| Error::Tokenizer {
        path: path.to_path_buf(),
        source,
    })
}

/// GGUF token types (`tokenizer.ggml.token_type`), as in llama.cpp.
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// Qwen2's pre-tokenizer split pattern (from its `tokenizer.json`; llama.cpp
/// `LLAMA_VOCAB_PRE_TYPE_QWEN2`).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Builds a tokenizer from the GGUF's own vocabulary.
pub fn from_gguf(gguf: &GgufFile) -> Result<Tokenizer> {
    let fail = |reason: String| Error::GgufTokenizer {
        path: gguf.path.clone(),
        reason,
    };
    let model = gguf.string("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(fail(format!(
            "tokenizer model `{model}` is not supported yet (supported: gpt2 byte-level BPE); use the model's tokenizer.json"
        )));
    }
    let tokens = gguf.string_array("tokenizer.ggml.tokens")?;
    let merges = gguf.string_array("tokenizer.ggml.merges")?;
    let types: Vec<i32> = match gguf.get("tokenizer.ggml.token_type") {
        Some(candle_core::quantized::gguf_file::Value::Array(v)) => {
            v.iter().map(|t| t.to_i32().unwrap_or(1)).collect()
        }
        _ => vec![1; tokens.len()],
    };
    let pre = gguf.string("tokenizer.ggml.pre").unwrap_or("default");

    let vocab: serde_json::Map<String, Value> = tokens
        .iter()
        .enumerate()
        .map(|(id, tok)| (tok.to_string(), json!(id)))
        .collect();
    let added: Vec<Value> = tokens
        .iter()
        .enumerate()
        .filter(|(id, _)| {
            matches!(
                types.get(*id),
                Some(&TOKEN_TYPE_CONTROL) | Some(&TOKEN_TYPE_USER_DEFINED)
            )
        })
        .map(|(id, tok)| {
            json!({
                "id": id, "content": tok, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false,
                "special": types.get(id) == Some(&TOKEN_TYPE_CONTROL),
            })
        })
        .collect();

    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": use_regex});
    let pre_tokenizer = match pre {
        "qwen2" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated", "invert": false},
            byte_level(false),
        ]}),
        "smollm" | "starcoder" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true},
            byte_level(true),
        ]}),
        "default" | "gpt2" | "gpt-2" => byte_level(true),
        other => {
            return Err(fail(format!(
                "pre-tokenizer `{other}` is not supported yet (supported: qwen2, smollm, gpt2)"
            )))
        }
    };
    let doc = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": pre_normalizer(pre),
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null,
            "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges,
        },
    });
    let bytes = serde_json::to_vec(&doc).map_err(|e| fail(e.to_string()))?;
    Tokenizer::from_bytes(bytes).map_err(|source| Error::Tokenizer {
        path: gguf.path.clone(),
        source,
    })
}

fn pre_normalizer(pre: &str) -> Value {
    match pre {
        // Qwen2's tokenizer.json normalizes to NFC before splitting.
        "qwen2" => json!({"type": "NFC"}),
        _ => Value::Null,
    }
}

/// Encodes text without adding special tokens (prompt templates add their
/// own), mapping the error.
pub fn encode(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    tokenizer
        .encode(text, false)
        .map(|e| e.get_ids().to_vec())
        .map_err(Error::Tokenize)
}

/// Decodes ids to text, skipping special tokens.
pub fn decode(tokenizer: &Tokenizer, ids: &[u32]) -> Result<String> {
    tokenizer.decode(ids, true).map_err(Error::Tokenize)
}
