//! SentencePiece `.spm` models converted to `tokenizers` tokenizers, for
//! Marian repos (e.g. `Helsinki-NLP/opus-mt-fa-en`) that ship `source.spm`,
//! `target.spm` and `vocab.json` but no `tokenizer.json`.
//!
//! transformers' `MarianTokenizer` (there is no fast one) segments text with
//! the SentencePiece model and then looks each piece up in `vocab.json`,
//! whose ids are not SentencePiece's; an id the vocabulary lacks becomes
//! `<unk>`, and `</s>` is appended. We build the equivalent `tokenizers`
//! pipeline: the SentencePiece normalizer (its precompiled character map,
//! then whitespace handling as Hugging Face's `SpmConverter` writes it), a
//! Metaspace pre-tokenizer, and a Unigram model whose ids are `vocab.json`'s.
//!
//! The `.spm` file is a protobuf (`sentencepiece_model.proto`). We read the
//! handful of fields we need with a small hand-written wire-format reader
//! ([`read_model`]) instead of depending on `prost`: that would bring a
//! proc-macro and generated code for three fields of one message.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tokenizers::decoders::metaspace::Metaspace as MetaspaceDecoder;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::precompiled::Precompiled;
use tokenizers::normalizers::{NormalizerWrapper, Replace, Sequence, Strip};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::{Error, Result};

/// SentencePiece piece types (`SentencePiece.Type` in the proto).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl PieceType {
    fn from_proto(value: u64) -> PieceType {
        match value {
            2 => PieceType::Unknown,
            3 => PieceType::Control,
            4 => PieceType::UserDefined,
            5 => PieceType::Unused,
            6 => PieceType::Byte,
            _ => PieceType::Normal,
        }
    }
}

/// One piece of a SentencePiece model.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub piece: String,
    pub score: f32,
    pub kind: PieceType,
}

/// The parts of a SentencePiece model a tokenizer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SentencePieceModel {
    pub pieces: Vec<Piece>,
    /// `TrainerSpec.model_type`: 1 unigram, 2 BPE, 3 word, 4 char.
    pub model_type: u64,
    pub byte_fallback: bool,
    /// `NormalizerSpec.name`, e.g. `nmt_nfkc`.
    pub normalizer_name: String,
    pub precompiled_charsmap: Vec<u8>,
    pub add_dummy_prefix: bool,
    pub remove_extra_whitespaces: bool,
}

const MODEL_TYPE_UNIGRAM: u64 = 1;

/// Reads a SentencePiece model file (`*.spm`, `*.model`).
pub fn read_model(path: &Path) -> Result<SentencePieceModel> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_model(&bytes).map_err(|reason| Error::SentencePiece {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses the `ModelProto` message.
fn parse_model(bytes: &[u8]) -> std::result::Result<SentencePieceModel, String> {
    let mut model = SentencePieceModel {
        pieces: Vec::new(),
        // proto2 defaults
        model_type: MODEL_TYPE_UNIGRAM,
        byte_fallback: false,
        normalizer_name: String::new(),
        precompiled_charsmap: Vec::new(),
        add_dummy_prefix: true,
        remove_extra_whitespaces: true,
    };
    let mut saw_trainer_or_normalizer = false;
    for field in Fields::new(bytes) {
        match field? {
            (1, Wire::Bytes(piece)) => model.pieces.push(parse_piece(piece)?),
            (2, Wire::Bytes(trainer)) => {
                saw_trainer_or_normalizer = true;
                for f in Fields::new(trainer) {
                    match f? {
                        (3, Wire::Varint(v)) => model.model_type = v,
                        (35, Wire::Varint(v)) => model.byte_fallback = v != 0,
                        _ => {}
                    }
                }
            }
            (3, Wire::Bytes(normalizer)) => {
                saw_trainer_or_normalizer = true;
                for f in Fields::new(normalizer) {
                    match f? {
                        (1, Wire::Bytes(name)) => {
                            model.normalizer_name = String::from_utf8(name.to_vec())
                                .map_err(|_| "normalizer name is not UTF-8".to_string())?;
                        }
                        (2, Wire::Bytes(map)) => model.precompiled_charsmap = map.to_vec(),
                        (3, Wire::Varint(v)) => model.add_dummy_prefix = v != 0,
                        (4, Wire::Varint(v)) => model.remove_extra_whitespaces = v != 0,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if model.pieces.is_empty() || !saw_trainer_or_normalizer {
        return Err("not a SentencePiece model (no pieces or no trainer/normalizer spec)".into());
    }
    Ok(model)
}

fn parse_piece(bytes: &[u8]) -> std::result::Result<Piece, String> {
    let mut piece = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceType::Normal,
    };
    for field in Fields::new(bytes) {
        match field? {
            (1, Wire::Bytes(text)) => {
                piece.piece = String::from_utf8(text.to_vec())
                    .map_err(|_| "a piece is not valid UTF-8".to_string())?;
            }
            (2, Wire::Fixed32(bits)) => piece.score = f32::from_bits(bits),
            (3, Wire::Varint(v)) => piece.kind = PieceType::from_proto(v),
            _ => {}
        }
    }
    Ok(piece)
}

/// A protobuf field's value by wire type.
enum Wire<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over the `(field number, value)` pairs of one message.
struct Fields<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields {
            rest: bytes,
            failed: false,
        }
    }

    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .rest
                .split_first()
                .ok_or_else(|| "truncated varint".to_string())?;
            self.rest = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if n > self.rest.len() {
            return Err(format!(
                "field of {n} bytes runs past the end ({} left): truncated file",
                self.rest.len()
            ));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn next_field(&mut self) -> std::result::Result<(u64, Wire<'a>), String> {
        let key = self.varint()?;
        let number = key >> 3;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed64
            }
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| "length does not fit in memory".to_string())?;
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                let b = self.take(4)?;
                let mut word = [0u8; 4];
                word.copy_from_slice(b);
                Wire::Fixed32(u32::from_le_bytes(word))
            }
            other => return Err(format!("unsupported protobuf wire type {other}")),
        };
        Ok((number, wire))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = std::result::Result<(u64, Wire<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let field = self.next_field();
        self.failed = field.is_err();
        Some(field)
    }
}

/// Reads a Marian `vocab.json` (piece → id).
pub fn read_vocab(path: &Path) -> Result<HashMap<String, u32>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::SentencePiece {
        path: path.to_path_buf(),
        reason: format!("not a JSON object of piece to id: {e}"),
    })
}

/// A Marian repo's two tokenizers over one `vocab.json`: `source` encodes
/// the input, `target` decodes the output (and encodes reference targets).
pub struct MarianTokenizers {
    pub source: SpmTokenizer,
    pub target: SpmTokenizer,
}

/// A converted SentencePiece tokenizer with `vocab.json`'s ids.
///
/// Use [`SpmTokenizer::encode`] rather than the inner tokenizer's: where
/// SentencePiece finds no piece for a run of characters it emits the run
/// itself as an unknown piece, and `MarianTokenizer` then looks that text
/// up in `vocab.json`, which in a shared vocabulary often has it (a `,` the
/// Persian model never saw is a piece of the English one). The Unigram
/// model can only say `<unk>` there; `encode` does the same lookup.
pub struct SpmTokenizer {
    pub tokenizer: Tokenizer,
    vocab: HashMap<String, u32>,
    unk: u32,
}

impl SpmTokenizer {
    /// `MarianTokenizer`'s ids for `text`, with `</s>` appended when
    /// `add_eos`.
    pub fn encode(&self, text: &str, add_eos: bool) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, add_eos)
            .map_err(Error::Tokenize)?;
        let mut ids = encoding.get_ids().to_vec();
        for (id, &(start, end)) in ids.iter_mut().zip(encoding.get_offsets()) {
            if *id != self.unk {
                continue;
            }
            let Some(span) = text.get(start..end) else {
                continue;
            };
            // SentencePiece's unknown piece is the normalized text.
            let mut normalized = tokenizers::NormalizedString::from(span);
            if let Some(normalizer) = self.tokenizer.get_normalizer() {
                tokenizers::Normalizer::normalize(normalizer, &mut normalized)
                    .map_err(Error::Tokenize)?;
            }
            if let Some(&known) = self.vocab.get(normalized.get()) {
                *id = known;
            }
        }
        Ok(ids)
    }

    /// Decodes ids to text.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.tokenizer
            .decode(ids, skip_special_tokens)
            .map_err(Error::Tokenize)
    }
}

/// Files of a Marian repo without `tokenizer.json`.
#[derive(Debug, Clone)]
pub struct MarianFiles {
    pub source_spm: PathBuf,
    pub target_spm: PathBuf,
    pub vocab: PathBuf,
}

impl MarianFiles {
    /// The files in a Marian repo directory, when all three are there.
    pub fn in_dir(dir: &Path) -> Option<Self> {
        let files = Self {
            source_spm: dir.join("source.spm"),
            target_spm: dir.join("target.spm"),
            vocab: dir.join("vocab.json"),
        };
        [&files.source_spm, &files.target_spm, &files.vocab]
            .iter()
            .all(|p| p.is_file())
            .then_some(files)
    }
}

/// Builds both Marian tokenizers.
pub fn marian(files: &MarianFiles) -> Result<MarianTokenizers> {
    let vocab = read_vocab(&files.vocab)?;
    Ok(MarianTokenizers {
        source: from_spm(&files.source_spm, &files.vocab, &vocab)?,
        target: from_spm(&files.target_spm, &files.vocab, &vocab)?,
    })
}

/// A tokenizer that segments with the SentencePiece model at `spm_path` and
/// gives `vocab`'s ids (`vocab_path` names it in errors), appending `</s>`
/// when asked to add special tokens, as `MarianTokenizer` does.
///
/// The Unigram model has one entry per `vocab.json` id. Entries that are not
/// normal or user-defined pieces of this SentencePiece model (the other
/// side's pieces in a shared vocabulary, control symbols) must never be
/// produced while encoding, since SentencePiece would not produce them, so
/// they are stored as `" " + piece`: the Metaspace pre-tokenizer leaves no
/// plain space in the text, so they never match, and decoding one still
/// shows its text.
pub fn from_spm(
    spm_path: &Path,
    vocab_path: &Path,
    vocab: &HashMap<String, u32>,
) -> Result<SpmTokenizer> {
    let spm = read_model(spm_path)?;
    let fail = |reason: String| Error::SentencePiece {
        path: spm_path.to_path_buf(),
        reason,
    };
    let tok_err = |source| Error::Tokenizer {
        path: spm_path.to_path_buf(),
        source,
    };
    if spm.model_type != MODEL_TYPE_UNIGRAM {
        return Err(fail(format!(
            "model type {} is not supported (Marian uses unigram, type 1)",
            spm.model_type
        )));
    }
    let id_of = |token: &str| {
        vocab
            .get(token)
            .copied()
            .ok_or_else(|| Error::SentencePiece {
                path: vocab_path.to_path_buf(),
                reason: format!("has no `{token}`"),
            })
    };
    let unk = id_of("<unk>")?;
    let eos = id_of("</s>")?;
    // MarianTokenizer's special tokens, split off the raw text first.
    const SPECIALS: [&str; 3] = ["</s>", "<unk>", "<pad>"];
    let size = vocab.values().max().map_or(0, |&m| m as usize + 1);
    let matchable: HashMap<&str, f32> = spm
        .pieces
        .iter()
        .filter(|p| matches!(p.kind, PieceType::Normal | PieceType::UserDefined))
        .map(|p| (p.piece.as_str(), p.score))
        .collect();
    let mut entries: Vec<Option<(String, f64)>> = vec![None; size];
    for (piece, &id) in vocab {
        let entry = match matchable.get(piece.as_str()) {
            Some(&score) => (piece.clone(), f64::from(score)),
            // Matched as added tokens before the model runs.
            None if SPECIALS.contains(&piece.as_str()) => (piece.clone(), 0.0),
            // Score 0 keeps the minimum (and so the unknown-piece penalty)
            // that of the real pieces.
            None => (format!(" {piece}"), 0.0),
        };
        if let Some(slot) = entries.get_mut(id as usize) {
            *slot = Some(entry);
        }
    }
    let unigram_vocab: Vec<(String, f64)> = entries
        .into_iter()
        .enumerate()
        .map(|(id, e)| e.unwrap_or_else(|| (format!(" <missing id {id}>"), 0.0)))
        .collect();
    let unigram =
        Unigram::from(unigram_vocab, Some(unk as usize), spm.byte_fallback).map_err(tok_err)?;

    // Hugging Face's SpmConverter: the precompiled map (NFKC and friends),
    // right strip, runs of spaces to one U+2581; then Metaspace adds the
    // dummy prefix and splits on U+2581.
    let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
    if !spm.precompiled_charsmap.is_empty() {
        let precompiled = Precompiled::from(&spm.precompiled_charsmap)
            .map_err(|e| fail(format!("invalid precompiled character map: {e}")))?;
        normalizers.push(precompiled.into());
    }
    if spm.remove_extra_whitespaces {
        normalizers.push(Strip::new(false, true).into());
        let runs = Replace::new(
            tokenizers::normalizers::replace::ReplacePattern::Regex(" {2,}".into()),
            "\u{2581}",
        )
        .map_err(tok_err)?;
        normalizers.push(runs.into());
    }
    let scheme = if spm.add_dummy_prefix {
        PrependScheme::Always
    } else {
        PrependScheme::Never
    };
    let mut tokenizer = Tokenizer::new(unigram);
    tokenizer
        .with_normalizer(Some(Sequence::new(normalizers)))
        .map_err(tok_err)?;
    tokenizer.with_pre_tokenizer(Some(Metaspace::new('\u{2581}', scheme, true)));
    tokenizer.with_decoder(Some(MetaspaceDecoder::new('\u{2581}', scheme, true)));
    let specials: Vec<AddedToken> = SPECIALS
        .into_iter()
        .filter(|t| vocab.contains_key(*t))
        .map(|t| AddedToken::from(t, true))
        .collect();
    tokenizer.add_special_tokens(specials).map_err(tok_err)?;
    let post = TemplateProcessing::builder()
        .try_single("$A </s>")
        .and_then(|b| b.try_pair("$A $B </s>"))
        .map_err(|e| fail(format!("post-processor template: {e}")))?
        .special_tokens(vec![("</s>", eos)])
        .build()
        .map_err(|e| fail(format!("post-processor: {e}")))?;
    tokenizer.with_post_processor(Some(post));
    Ok(SpmTokenizer {
        tokenizer,
        vocab: vocab.clone(),
        unk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_truncated_and_foreign_files() {
        // A piece field claiming 100 bytes with 2 present.
        let err = parse_model(&[0x0a, 100, b'a', b'b']).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let err = parse_model(b"{\"not\": \"protobuf\"}").unwrap_err();
        assert!(!err.is_empty());
        assert!(parse_model(&[]).is_err());
    }

    #[test]
    fn reads_pieces_and_specs() {
        // pieces { piece: "a" score: -1.5 type: NORMAL }, trainer_spec
        // { model_type: UNIGRAM }, normalizer_spec { name: "x",
        // add_dummy_prefix: false }
        let mut piece = vec![0x0a, 1, b'a', 0x15];
        piece.extend_from_slice(&(-1.5f32).to_le_bytes());
        piece.extend_from_slice(&[0x18, 1]);
        let mut bytes = vec![0x0a, piece.len() as u8];
        bytes.extend_from_slice(&piece);
        bytes.extend_from_slice(&[0x12, 2, 0x18, 1]);
        bytes.extend_from_slice(&[0x1a, 5, 0x0a, 1, b'x', 0x18, 0]);
        let model = parse_model(&bytes).expect("parses");
        assert_eq!(
            model.pieces,
            vec![Piece {
                piece: "a".into(),
                score: -1.5,
                kind: PieceType::Normal
            }]
        );
        assert_eq!(model.model_type, 1);
        assert_eq!(model.normalizer_name, "x");
        assert!(!model.add_dummy_prefix);
        assert!(model.remove_extra_whitespaces);
    }
}
