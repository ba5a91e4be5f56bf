//! Which article sentences support a summary sentence.
//!
//! Support is lexical and deterministic: the share of the summary
//! sentence's content words (stemmed as ROUGE stems them, stop words left
//! out) that an article sentence holds. A summary sentence cites its best
//! supporter, every sentence close to it, and for each of its numbers a
//! sentence that holds that number, so a reader can check each figure in
//! the article.

use std::collections::HashSet;

use tarjoman_eval::rouge::Rouge;

use super::article::Article;
use super::facts::numbers;
use super::types::Citation;

/// At most this many citations per summary sentence, numbers aside.
const MAX_CITED: usize = 3;
/// Cite sentences whose support is at least this share of the best ...
const CLOSE_TO_BEST: f32 = 0.6;
/// ... and at least this much.
const MIN_SUPPORT: f32 = 0.2;

const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "are", "as", "at", "be", "been", "but",
    "by", "ha", "had", "has", "have", "he", "her", "hi", "his", "in", "into", "is", "it", "its",
    "of", "on", "or", "said", "say", "she", "that", "the", "their", "thei", "there", "these",
    "they", "thi", "this", "to", "wa", "was", "were", "which", "who", "will", "with",
];

/// Content words of a text, stemmed and lower-cased.
pub struct ContentWords {
    rouge: Rouge,
}

impl Default for ContentWords {
    fn default() -> Self {
        Self {
            rouge: Rouge::new(true),
        }
    }
}

impl ContentWords {
    pub fn of(&self, text: &str) -> HashSet<String> {
        self.rouge
            .tokenize(text)
            .into_iter()
            .filter(|w| !STOP_WORDS.contains(&w.as_str()))
            .collect()
    }
}

/// Support of each article sentence for `sentence` (0-1, see the module docs).
pub fn supports(words: &ContentWords, sentence: &str, article: &[HashSet<String>]) -> Vec<f32> {
    let own = words.of(sentence);
    if own.is_empty() {
        return vec![0.0; article.len()];
    }
    article
        .iter()
        .map(|a| own.intersection(a).count() as f32 / own.len() as f32)
        .collect()
}

/// The citations of `sentence`: the best supporter, those close to it, and
/// a holder of each number (see the module docs). `prefer` lists sentences
/// the summary sentence was made from, cited when they support it at all.
pub fn cite(
    words: &ContentWords,
    sentence: &str,
    article: &Article,
    article_words: &[HashSet<String>],
    prefer: &[usize],
) -> Vec<Citation> {
    if article.is_empty() {
        return Vec::new();
    }
    let support = supports(words, sentence, article_words);
    let mut order: Vec<usize> = (0..support.len()).collect();
    order.sort_by(|&a, &b| support[b].total_cmp(&support[a]).then(a.cmp(&b)));
    let best = support[order[0]];
    let mut chosen: Vec<usize> = vec![order[0]];
    for &i in prefer {
        if i < support.len() && support[i] >= MIN_SUPPORT && !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    for &i in &order[1..] {
        if chosen.len() >= MAX_CITED || support[i] < (best * CLOSE_TO_BEST).max(MIN_SUPPORT) {
            break;
        }
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen.truncate(MAX_CITED.max(prefer.len()));
    for n in numbers(sentence) {
        let held = |i: &usize| numbers(&article.sentences[*i].text).contains(&n);
        if chosen.iter().any(held) {
            continue;
        }
        if let Some(&i) = order.iter().find(|i| held(i)) {
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    chosen
        .into_iter()
        .map(|i| Citation {
            index: i,
            span: article.sentences[i].span,
            support: (support[i] * 1000.0).round() / 1000.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_hold_the_numbers_and_the_content() {
        let article = Article::english(
            "Pakistan said 23 soldiers were killed in border clashes. \
             The weather was mild in the capital. \
             Talks in Istanbul ended without agreement. \
             The border is 2,600 km long and crosses mountains.",
        );
        let words = ContentWords::default();
        let aw: Vec<_> = article.texts().iter().map(|t| words.of(t)).collect();
        let c = cite(
            &words,
            "Talks in Istanbul failed after 23 soldiers died on the 2600 km border.",
            &article,
            &aw,
            &[],
        );
        let cited: Vec<usize> = c.iter().map(|c| c.index).collect();
        assert!(
            cited.contains(&0) && cited.contains(&2) && cited.contains(&3),
            "{cited:?}"
        );
        assert!(!cited.contains(&1), "{cited:?}");
        assert!(c.iter().all(|c| (0.0..=1.0).contains(&c.support)));
    }
}
