//! Token ids around the network: an NLLB / M2M100 language code's id
//! ([`lang_code_id`]) and a source as NLLB's tokenizer writes it
//! ([`source_ids`]).

use tokenizers::Tokenizer;

use crate::{tokenizer, Error, Result};

/// The id of an NLLB / M2M100 language code such as `pes_Arab` or
/// `eng_Latn`, which must be one of the tokenizer's special added tokens.
pub fn lang_code_id(tokenizer: &Tokenizer, code: &str) -> Result<u32> {
    tokenizer
        .token_to_id(code)
        .filter(|id| {
            tokenizer
                .get_added_tokens_decoder()
                .get(id)
                .is_some_and(|token| token.special)
        })
        .ok_or_else(|| Error::LanguageCode {
            code: code.to_string(),
        })
}

/// Source ids as NLLB's tokenizer writes them in its default (non-legacy)
/// mode: `[src_lang] tokens </s>`. Built here rather than by the
/// tokenizer.json post-processor, which is fixed to one source language.
pub fn source_ids(tokenizer: &Tokenizer, text: &str, src_lang: u32, eos: u32) -> Result<Vec<u32>> {
    let tokens = tokenizer::encode(tokenizer, text)?;
    let mut ids = Vec::with_capacity(tokens.len() + 2);
    ids.push(src_lang);
    ids.extend(tokens);
    ids.push(eos);
    Ok(ids)
}
