//! Short English summaries, two ways:
//!
//! - abstractive: an instruction model writes 3-5 sentences ([`abstractive`]);
//! - extractive: sentence embeddings pick central, non-redundant sentences of
//!   the article itself, by maximal marginal relevance (Carbonell & Goldstein,
//!   1998) against the document centroid ([`select_sentences`]).

use serde::Serialize;
use tarjoman_models::causal::CausalLm;
use tarjoman_models::embed::SentenceEmbedder;

use crate::generate::{generate, GenerationConfig, StopReason};
use crate::prompt::PromptBook;
use crate::{Error, Result};

/// Bounds on summary length, in sentences.
pub const MIN_SENTENCES: usize = 3;
pub const MAX_SENTENCES: usize = 5;

/// Weight of relevance against redundancy in maximal marginal relevance.
const MMR_LAMBDA: f32 = 0.7;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub sentences: Vec<String>,
    pub method: &'static str,
    pub ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
}

impl Summary {
    pub fn text(&self) -> String {
        self.sentences.join(" ")
    }
}

/// The sentences of a text, in order, owned.
fn sentences(text: &str) -> Vec<String> {
    tarjoman_text::sentences(text).map(str::to_string).collect()
}

/// Asks an instruction model for a 3-5 sentence summary of `english`.
pub fn abstractive(
    lm: &mut CausalLm,
    format: &str,
    english: &str,
    cfg: &GenerationConfig,
) -> Result<Summary> {
    let start = std::time::Instant::now();
    if tarjoman_text::sentences(english).next().is_none() {
        return Err(Error::EmptyDocument);
    }
    let book = PromptBook::builtin()?;
    let task = book.task("summarize")?;
    let prompt = book.format(format)?.render(task, 0, english.trim());
    let mut ids = Vec::new();
    if lm.info.add_bos {
        ids.extend(lm.info.bos_id);
    }
    ids.extend(lm.encode(&prompt.text)?);
    let generation = generate(lm, &ids, cfg, Some(320), &prompt.stop)?;
    let mut out: Vec<String> = sentences(&generation.text)
        .into_iter()
        .map(|s| s.trim_start_matches(['-', '*', '•', ' ']).to_string())
        .filter(|s| !s.is_empty() && !s.ends_with(':'))
        .collect();
    out.truncate(MAX_SENTENCES);
    Ok(Summary {
        sentences: out,
        method: "abstractive",
        ms: start.elapsed().as_millis() as u64,
        stop_reason: Some(generation.stop),
    })
}

/// Picks the article's most central, mutually different sentences.
pub fn extractive(embedder: &SentenceEmbedder, english: &str) -> Result<Summary> {
    let start = std::time::Instant::now();
    let all = sentences(english);
    if all.is_empty() {
        return Err(Error::EmptyDocument);
    }
    let embeddings = embedder.embed(&all)?;
    let k = all.len().div_ceil(4).clamp(MIN_SENTENCES, MAX_SENTENCES);
    let chosen = select_sentences(&embeddings, k);
    Ok(Summary {
        sentences: chosen.into_iter().map(|i| all[i].clone()).collect(),
        method: "extractive",
        ms: start.elapsed().as_millis() as u64,
        stop_reason: None,
    })
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Maximal marginal relevance over unit-length `embeddings`: relevance is
/// similarity to the normalized centroid, redundancy the highest similarity
/// to a sentence already chosen. Returns up to `k` indices in document order.
pub fn select_sentences(embeddings: &[Vec<f32>], k: usize) -> Vec<usize> {
    let n = embeddings.len();
    let Some(dim) = embeddings.first().map(Vec::len) else {
        return Vec::new();
    };
    let mut centroid = vec![0f32; dim];
    for e in embeddings {
        for (c, x) in centroid.iter_mut().zip(e) {
            *c += x;
        }
    }
    let norm = dot(&centroid, &centroid).sqrt().max(1e-12);
    centroid.iter_mut().for_each(|c| *c /= norm);
    let relevance: Vec<f32> = embeddings.iter().map(|e| dot(e, &centroid)).collect();
    let mut chosen: Vec<usize> = Vec::new();
    while chosen.len() < k.min(n) {
        let best = (0..n)
            .filter(|i| !chosen.contains(i))
            .map(|i| {
                let redundancy = chosen
                    .iter()
                    .map(|&j| dot(&embeddings[i], &embeddings[j]))
                    .fold(f32::NEG_INFINITY, f32::max)
                    .max(0.0);
                (
                    i,
                    MMR_LAMBDA * relevance[i] - (1.0 - MMR_LAMBDA) * redundancy,
                )
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((i, _)) => chosen.push(i),
            None => break,
        }
    }
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = dot(v, v).sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn mmr_prefers_central_sentences_and_skips_duplicates() {
        // Three sentences near the main topic (two of them identical), one
        // off-topic outlier.
        let e = vec![
            unit(&[1.0, 0.1, 0.0]),
            unit(&[1.0, 0.1, 0.0]),
            unit(&[0.6, 0.0, 0.8]),
            unit(&[0.0, 1.0, 0.0]),
        ];
        let chosen = select_sentences(&e, 2);
        assert_eq!(chosen.len(), 2);
        assert!(
            chosen.contains(&2),
            "the non-duplicate central one: {chosen:?}"
        );
        assert!(!chosen.contains(&3), "not the outlier: {chosen:?}");
        assert!(
            !(chosen.contains(&0) && chosen.contains(&1)),
            "not both duplicates"
        );
    }

    #[test]
    fn mmr_returns_document_order_and_handles_small_inputs() {
        let e = vec![unit(&[0.0, 1.0]), unit(&[1.0, 0.0])];
        assert_eq!(select_sentences(&e, 5), vec![0, 1]);
        assert!(select_sentences(&[], 3).is_empty());
    }
}
