//! Tokenizers: a Hugging Face `tokenizer.json`, one built from the
//! `tokenizer.ggml.*` metadata that every GGUF file carries, or one converted
//! from a Marian repo's SentencePiece models (see [`spm`]).
//!
//! From GGUF we build two kinds, with the `tokenizers` crate's own models
//! rather than re-implementing them:
//!
//! - `tokenizer.ggml.model = gpt2`: byte-level BPE (Qwen, SmolLM2). The
//!   merges are in the file; the only model-specific part is the
//!   pre-tokenizer, chosen by `tokenizer.ggml.pre` as llama.cpp does
//!   (`llama-vocab.cpp`).
//! - `tokenizer.ggml.model = llama`: SentencePiece BPE (Gemma, Llama). The
//!   file has pieces, scores and token types but no merges; we derive the
//!   merges from the scores exactly as Hugging Face's converter does
//!   (`transformers.convert_slow_tokenizer.SentencePieceExtractor`), so the
//!   result equals the published `tokenizer.json` merge for merge.
//!
//! Both are assembled with the typed builder API, not by writing a
//! `tokenizer.json` document and parsing it back: serde's untagged-enum
//! parsing of a 500k-merge document is what makes loading slow.

pub mod spm;

use ahash::AHashMap;
use std::path::Path;

use candle_core::quantized::gguf_file::Value as GgufValue;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip as StripDecoder;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::{NormalizerWrapper, Prepend, Replace, Sequence, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::gguf::GgufFile;
use crate::{Error, Result};

/// Loads a `tokenizer.json` file.
pub fn from_file(path: &Path) -> Result<Tokenizer> {
    // tokenizers 0.23 panics on some malformed files instead of returning
    // an error (its decoder deserializer calls `expect("Helper")` when
    // "decoder" is neither null nor an object); found by the tokenizer_json
    // fuzz target. Such a file is an error naming it, like any other.
    let loaded = std::panic::catch_unwind(|| Tokenizer::from_file(path)).unwrap_or_else(|_| {
        Err("the tokenizers library could not parse it (it panicked); the file is malformed".into())
    });
    loaded.map_err(|source| Error::Tokenizer {
        path: path.to_path_buf(),
        source,
    })
}

/// GGUF token types (`tokenizer.ggml.token_type`), as in llama.cpp.
const TOKEN_TYPE_NORMAL: i32 = 1;
const TOKEN_TYPE_UNKNOWN: i32 = 2;
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// SentencePiece's whitespace symbol (U+2581).
const SPIECE_UNDERLINE: char = '\u{2581}';

/// Qwen2's pre-tokenizer split pattern (from its `tokenizer.json`; llama.cpp
/// `LLAMA_VOCAB_PRE_TYPE_QWEN2`).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Builds a tokenizer from the GGUF's own vocabulary.
pub fn from_gguf(gguf: &GgufFile) -> Result<Tokenizer> {
    let vocab = GgufVocab::read(gguf)?;
    let model = gguf.string("tokenizer.ggml.model")?;
    match model {
        "gpt2" => byte_level_bpe(gguf, &vocab),
        "llama" => sentencepiece_bpe(gguf, &vocab),
        other => Err(gguf_error(
            gguf,
            format!(
                "tokenizer model `{other}` is not supported (supported: gpt2 byte-level BPE, \
                 llama SentencePiece BPE); use the model's tokenizer.json"
            ),
        )),
    }
}

fn gguf_error(gguf: &GgufFile, reason: String) -> Error {
    Error::GgufTokenizer {
        path: gguf.path.clone(),
        reason,
    }
}

fn tokenizers_error(gguf: &GgufFile, source: tokenizers::Error) -> Error {
    Error::Tokenizer {
        path: gguf.path.clone(),
        source,
    }
}

/// The token list of a GGUF, with types and (for SentencePiece) scores.
struct GgufVocab<'a> {
    tokens: Vec<&'a str>,
    types: Vec<i32>,
    scores: Option<Vec<f32>>,
}

impl<'a> GgufVocab<'a> {
    fn read(gguf: &'a GgufFile) -> Result<Self> {
        let tokens = gguf.string_array("tokenizer.ggml.tokens")?;
        let types: Vec<i32> = match gguf.get("tokenizer.ggml.token_type") {
            Some(GgufValue::Array(v)) => v
                .iter()
                .map(|t| t.to_i32().unwrap_or(TOKEN_TYPE_NORMAL))
                .collect(),
            _ => vec![TOKEN_TYPE_NORMAL; tokens.len()],
        };
        let scores = match gguf.get("tokenizer.ggml.scores") {
            Some(GgufValue::Array(v)) => Some(
                v.iter()
                    .map(|s| s.to_f32().unwrap_or(0.0))
                    .collect::<Vec<f32>>(),
            ),
            _ => None,
        };
        if types.len() != tokens.len() || scores.as_ref().is_some_and(|s| s.len() != tokens.len()) {
            return Err(gguf_error(
                gguf,
                format!(
                    "tokenizer.ggml.tokens has {} entries but token_type has {} and scores {}",
                    tokens.len(),
                    types.len(),
                    scores.as_ref().map_or(0, Vec::len)
                ),
            ));
        }
        Ok(GgufVocab {
            tokens,
            types,
            scores,
        })
    }

    fn token_type(&self, id: usize) -> i32 {
        self.types.get(id).copied().unwrap_or(TOKEN_TYPE_NORMAL)
    }

    /// The optional special-token id stored under `key`.
    fn special_id(gguf: &GgufFile, key: &str) -> Option<usize> {
        gguf.get(key)
            .and_then(|v| v.to_u32().ok())
            .map(|id| id as usize)
    }
}

fn bool_key(gguf: &GgufFile, key: &str) -> Option<bool> {
    match gguf.get(key) {
        Some(GgufValue::Bool(b)) => Some(*b),
        _ => None,
    }
}

fn ids_u32(id: usize) -> u32 {
    u32::try_from(id).unwrap_or(u32::MAX)
}

/// Byte-level BPE (`tokenizer.ggml.model = gpt2`).
fn byte_level_bpe(gguf: &GgufFile, vocab: &GgufVocab) -> Result<Tokenizer> {
    let pre = gguf.string("tokenizer.ggml.pre").unwrap_or("default");
    let merges = gguf
        .string_array("tokenizer.ggml.merges")?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| {
                    gguf_error(
                        gguf,
                        format!("merge `{m}` in tokenizer.ggml.merges is not two tokens"),
                    )
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let ids: Vocab = vocab
        .tokens
        .iter()
        .enumerate()
        .map(|(id, tok)| (tok.to_string(), ids_u32(id)))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(ids, merges)
        .build()
        .map_err(|source| tokenizers_error(gguf, source))?;

    let byte_level = |use_regex: bool| ByteLevel::new(false, false, use_regex);
    let split = |pattern: &str| {
        Split::new(
            SplitPattern::Regex(pattern.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|source| tokenizers_error(gguf, source))
    };
    let (normalizer, pre_tokenizer): (Option<NormalizerWrapper>, PreTokenizerWrapper) = match pre {
        // Qwen2's tokenizer.json normalizes to NFC before splitting.
        "qwen2" => (
            Some(NFC.into()),
            PreSequence::new(vec![split(QWEN2_SPLIT)?.into(), byte_level(false).into()]).into(),
        ),
        "smollm" | "starcoder" => (
            None,
            PreSequence::new(vec![Digits::new(true).into(), byte_level(true).into()]).into(),
        ),
        "default" | "gpt2" | "gpt-2" => (None, byte_level(true).into()),
        other => {
            return Err(gguf_error(
                gguf,
                format!(
                    "pre-tokenizer `{other}` is not supported (supported: qwen2, smollm, gpt2)"
                ),
            ))
        }
    };
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer
        .with_normalizer(normalizer)
        .map_err(|source| tokenizers_error(gguf, source))?;
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevelDecoder::new(false, false, false)));
    add_tokens(gguf, &mut tokenizer, vocab, |tok| tok.to_string())?;
    Ok(tokenizer)
}

/// Control and user-defined tokens are matched in the raw text before the
/// model sees it (as llama.cpp and `tokenizer.json`'s `added_tokens` do);
/// control tokens are special (skipped when decoding).
fn add_tokens(
    gguf: &GgufFile,
    tokenizer: &mut Tokenizer,
    vocab: &GgufVocab,
    content: impl Fn(&str) -> String,
) -> Result<()> {
    let added: Vec<AddedToken> = vocab
        .tokens
        .iter()
        .enumerate()
        .filter_map(|(id, tok)| match vocab.token_type(id) {
            TOKEN_TYPE_CONTROL => Some(AddedToken::from(content(tok), true)),
            TOKEN_TYPE_USER_DEFINED => Some(AddedToken::from(content(tok), false)),
            _ => None,
        })
        .map(|t| t.normalized(false))
        .collect();
    tokenizer
        .add_tokens(added)
        .map_err(|source| tokenizers_error(gguf, source))?;
    Ok(())
}

/// SentencePiece BPE (`tokenizer.ggml.model = llama`): Gemma, Llama.
fn sentencepiece_bpe(gguf: &GgufFile, vocab: &GgufVocab) -> Result<Tokenizer> {
    let Some(scores) = vocab.scores.as_ref() else {
        return Err(gguf_error(
            gguf,
            "a SentencePiece vocabulary needs tokenizer.ggml.scores".into(),
        ));
    };
    // llama.cpp's converter writes user-defined pieces with spaces where
    // SentencePiece (and tokenizer.json) has U+2581, and gives control and
    // user-defined pieces the score -1000 where the SentencePiece model has
    // 0. Undo both so that the derived merges equal Hugging Face's.
    let pieces: Vec<String> = vocab
        .tokens
        .iter()
        .enumerate()
        .map(|(id, tok)| match vocab.token_type(id) {
            TOKEN_TYPE_USER_DEFINED => tok.replace(' ', "\u{2581}"),
            _ => tok.to_string(),
        })
        .collect();
    let scores: Vec<f32> = scores
        .iter()
        .enumerate()
        .map(|(id, &s)| match vocab.token_type(id) {
            TOKEN_TYPE_UNKNOWN | TOKEN_TYPE_CONTROL | TOKEN_TYPE_USER_DEFINED => 0.0,
            _ => s,
        })
        .collect();
    let merges = sentencepiece_merges(&pieces, &scores);
    let unk = GgufVocab::special_id(gguf, "tokenizer.ggml.unknown_token_id")
        .and_then(|id| pieces.get(id).cloned())
        .unwrap_or_else(|| "<unk>".to_string());
    let ids: Vocab = pieces
        .into_iter()
        .enumerate()
        .map(|(id, tok)| (tok, ids_u32(id)))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(ids, merges)
        .unk_token(unk)
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(|source| tokenizers_error(gguf, source))?;

    // SentencePiece's `add_dummy_prefix`; llama.cpp defaults it to true for
    // this tokenizer model. Gemma 3 sets it false.
    let add_space_prefix = bool_key(gguf, "tokenizer.ggml.add_space_prefix").unwrap_or(true);
    let replace = Replace::new(" ", SPIECE_UNDERLINE.to_string())
        .map_err(|source| tokenizers_error(gguf, source))?;
    let normalizer: NormalizerWrapper = if add_space_prefix {
        Sequence::new(vec![
            Prepend::new(SPIECE_UNDERLINE.to_string()).into(),
            replace.into(),
        ])
        .into()
    } else {
        replace.into()
    };
    let decode_replace = Replace::new(SPIECE_UNDERLINE.to_string(), " ")
        .map_err(|source| tokenizers_error(gguf, source))?;
    let mut decoders: Vec<DecoderWrapper> = vec![
        decode_replace.into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ];
    if add_space_prefix {
        decoders.push(StripDecoder::new(' ', 1, 0).into());
    }
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer
        .with_normalizer(Some(normalizer))
        .map_err(|source| tokenizers_error(gguf, source))?;
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    let user_defined_content = |tok: &str| tok.replace(' ', "\u{2581}");
    add_tokens(gguf, &mut tokenizer, vocab, user_defined_content)?;
    Ok(tokenizer)
}

/// BPE merges for a SentencePiece vocabulary: every split of a piece into
/// two pieces of the vocabulary, ranked by the piece's score (highest
/// first), ties by the lengths of the left and right parts (longest
/// first), then by vocabulary order. This is Hugging Face's
/// `SentencePieceExtractor.extract` (`generate_merges`), including its
/// stable-sort tie-breaking; on Gemma 3 it reproduces the 514,906 merges of
/// the published `tokenizer.json` in order.
pub(crate) fn sentencepiece_merges(pieces: &[String], scores: &[f32]) -> Vec<(String, String)> {
    // ahash (what `tokenizers` itself uses) instead of SipHash: about two
    // million lookups, a third of Gemma 3's tokenizer build with SipHash.
    let mut ids: AHashMap<&str, u32> = AHashMap::with_capacity(pieces.len());
    for (id, p) in pieces.iter().enumerate() {
        ids.entry(p.as_str()).or_insert(ids_u32(id));
    }
    let mut found: Vec<MergeSplit> = Vec::new();
    for (id, piece) in pieces.iter().enumerate() {
        let score = scores.get(id).copied().unwrap_or(0.0);
        let chars = piece.chars().count() as u32;
        for (k, (at, _)) in piece.char_indices().enumerate().skip(1) {
            let (left, right) = piece.split_at(at);
            if let (Some(&l), Some(&r)) = (ids.get(left), ids.get(right)) {
                found.push(MergeSplit {
                    score,
                    left_chars: k as u32,
                    right_chars: chars - k as u32,
                    piece: ids_u32(id),
                    left: l,
                    right: r,
                    at: at as u32,
                });
            }
        }
    }
    // Within a piece: by (left id, right id); across pieces: score, then
    // lengths, descending; then the piece's vocabulary order. (piece, left,
    // right) is unique, so the order is total and an unstable sort gives
    // the stable sort's result.
    found.sort_unstable_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.left_chars.cmp(&a.left_chars))
            .then(b.right_chars.cmp(&a.right_chars))
            .then(a.piece.cmp(&b.piece))
            .then(a.left.cmp(&b.left))
            .then(a.right.cmp(&b.right))
    });
    found
        .into_iter()
        .filter_map(|split| {
            let piece = pieces.get(split.piece as usize)?;
            let (left, right) = piece.split_at(split.at as usize);
            Some((left.to_string(), right.to_string()))
        })
        .collect()
}

/// A split of a vocabulary piece into two vocabulary pieces (a candidate
/// merge), with what [`sentencepiece_merges`] ranks it by.
struct MergeSplit {
    score: f32,
    left_chars: u32,
    right_chars: u32,
    piece: u32,
    left: u32,
    right: u32,
    /// The byte offset of the split in the piece.
    at: u32,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokenizer_json fuzz target's first crash: tokenizers panics on a
    /// string where the decoder object should be.
    #[test]
    fn a_malformed_tokenizer_json_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        for (i, text) in [
            "{\n  \"decoder\": \"1.0b,\n  \"truncation\":O{\"directio",
            r#"{"decoder": "ByteLevel", "model": {"type": "WordLevel", "vocab": {}, "unk_token": "x"}}"#,
        ]
        .iter()
        .enumerate()
        {
            let path = dir.path().join(format!("tokenizer-{i}.json"));
            std::fs::write(&path, text).unwrap();
            let err = from_file(&path).unwrap_err();
            assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        }
    }
}
