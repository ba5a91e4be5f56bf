//! The baselines, each one flag away from the default: the article's first
//! sentences ([`lead`]), its most central ones ([`extractive`]), and one
//! prompt over the whole article ([`abstractive`]). Their sentences are
//! cited and fact-checked like the default's, but nothing is replaced.

use std::time::Instant;

use tarjoman_models::causal::CausalLm;
use tarjoman_models::embed::SentenceEmbedder;

use super::article::Article;
use super::attribute::{cite, ContentWords};
use super::facts::FactIndex;
use super::select::{select_sentences, summary_length};
use super::types::{Citation, Method, Origin, Summary, SummarySentence, MAX_SENTENCES};
use crate::generate::{generate, GenerationConfig};
use crate::prompt::PromptBook;
use crate::{Error, Result};

/// New tokens the abstractive summary may take.
const ABSTRACTIVE_TOKENS: usize = 320;

fn check_not_empty(article: &Article) -> Result<()> {
    match article.is_empty() {
        true => Err(Error::EmptyDocument),
        false => Ok(()),
    }
}

/// Article sentences as summary sentences, each citing itself.
fn extracted(article: &Article, chosen: &[usize], method: Method, start: Instant) -> Summary {
    let sentences = chosen
        .iter()
        .map(|&i| SummarySentence {
            text: article.sentences[i].text.clone(),
            origin: Origin::Extracted,
            sources: vec![Citation {
                index: i,
                span: article.sentences[i].span,
                support: 1.0,
            }],
            unsupported: Vec::new(),
            replaced: None,
            regenerated: 0,
        })
        .collect();
    Summary {
        method,
        sentences,
        replacements: 0,
        ms: start.elapsed().as_millis() as u64,
        stop_reason: None,
    }
}

/// The first sentences of the article: as many as a summary of it gets.
pub fn lead(article: &Article) -> Result<Summary> {
    let start = Instant::now();
    check_not_empty(article)?;
    let k = summary_length(article.len()).min(article.len());
    Ok(extracted(
        article,
        &(0..k).collect::<Vec<_>>(),
        Method::Lead,
        start,
    ))
}

/// Picks the article's most central, mutually different sentences.
pub fn extractive(embedder: &SentenceEmbedder, article: &Article) -> Result<Summary> {
    let start = Instant::now();
    check_not_empty(article)?;
    let embeddings = embedder.embed(&article.owned_texts())?;
    let chosen = select_sentences(&embeddings, summary_length(article.len()));
    Ok(extracted(article, &chosen, Method::Extractive, start))
}

/// Asks an instruction model for a 3-5 sentence summary of the whole
/// article in one prompt; the sentences are cited and checked, not guarded.
pub fn abstractive(
    lm: &mut CausalLm,
    format: &str,
    article: &Article,
    cfg: &GenerationConfig,
) -> Result<Summary> {
    let start = Instant::now();
    check_not_empty(article)?;
    let book = PromptBook::builtin()?;
    let task = book.task("summarize")?;
    let prompt = book.format(format)?.render(task, 0, &article.text());
    let mut ids = Vec::new();
    if lm.info.add_bos {
        ids.extend(lm.info.bos_id);
    }
    ids.extend(lm.encode(&prompt.text)?);
    let generation = generate(lm, &ids, cfg, Some(ABSTRACTIVE_TOKENS), &prompt.stop)?;
    let mut texts: Vec<String> = tarjoman_text::sentences(&generation.text)
        .map(|s| {
            s.trim_start_matches(['-', '*', '•', ' '])
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty() && !s.ends_with(':'))
        .collect();
    texts.truncate(MAX_SENTENCES);
    let facts = FactIndex::new(&article.text());
    let words = ContentWords::default();
    let article_words: Vec<_> = article.texts().iter().map(|t| words.of(t)).collect();
    let sentences = texts
        .into_iter()
        .map(|text| SummarySentence {
            sources: cite(&words, &text, article, &article_words, &[]),
            unsupported: facts.unsupported(&text),
            text,
            origin: Origin::Generated,
            replaced: None,
            regenerated: 0,
        })
        .collect();
    Ok(Summary {
        method: Method::Abstractive,
        sentences,
        replacements: 0,
        ms: start.elapsed().as_millis() as u64,
        stop_reason: Some(generation.stop),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_cites_the_first_sentences() {
        let article = Article::english("One. Two. Three. Four. Five.");
        let s = lead(&article).unwrap();
        assert_eq!(s.texts(), vec!["One.", "Two.", "Three."]);
        assert_eq!(s.sentences[2].sources[0].index, 2);
        assert!(matches!(
            lead(&Article::default()),
            Err(Error::EmptyDocument)
        ));
    }
}
