//! The default summary: select, fuse, check, cite.
//!
//! 1. Content selection over the whole article ([`plan_groups`]): one group
//!    of one or two sentences from each consecutive part of the article.
//! 2. The language model fuses and compresses each group into one sentence;
//!    the groups decode together, as rows of one batch.
//! 3. The faithfulness guard checks each sentence: every number, date and
//!    name must occur in the article; it must not restate an earlier
//!    summary sentence (near-duplicate by embedding similarity) nor copy an
//!    article sentence; it must be English and short. A failing sentence is
//!    regenerated (sampled attempts side by side, with a note, as
//!    translation retries do); if every attempt fails, the group's article
//!    sentence that best supports what the model tried to say takes its
//!    place, and the replacement is reported.
//! 4. Over the word budget, the longest sentences whose part of the
//!    article another sentence also covers are dropped (down to three).
//! 5. Each sentence cites the article sentences that support it.

use std::time::Instant;

use tarjoman_eval::rouge::Rouge;
use tarjoman_models::causal::CausalLm;
use tarjoman_models::embed::SentenceEmbedder;
use tarjoman_text::script::has_arabic_script;

use super::article::Article;
use super::attribute::{cite, supports, ContentWords};
use super::facts::FactIndex;
use super::fuse::{fuse, FuseRequest};
use super::select::{plan_groups, similarity, summary_length};
use super::types::{Method, Origin, Rejected, Summary, SummarySentence, MIN_SENTENCES};
use crate::generate::GenerationConfig;
use crate::{Error, Result};

/// The word budget of a whole summary.
pub const MAX_WORDS: usize = 110;
/// A generated sentence longer than this is no compression.
const MAX_SENTENCE_WORDS: usize = 35;
/// Embedding similarity above which two summary sentences say the same.
const DUPLICATE_SIMILARITY: f32 = 0.9;
/// ROUGE-L F1 against an article sentence above which a sentence is a copy.
const COPY_ROUGE_L: f64 = 0.9;
/// Sampled attempts for a sentence that failed the guard.
pub const RETRY_ATTEMPTS: usize = 3;

/// Settings of the grounded summary.
#[derive(Debug, Clone)]
pub struct GroundedOptions {
    /// Decoding of the first attempt (greedy by default); retries sample.
    pub generation: GenerationConfig,
    /// Sampled attempts for a sentence that fails the guard (0: replace it
    /// by an article sentence at once).
    pub retry_attempts: usize,
}

impl Default for GroundedOptions {
    fn default() -> Self {
        Self {
            generation: GenerationConfig::default(),
            retry_attempts: RETRY_ATTEMPTS,
        }
    }
}

/// What the guard knows about the article.
struct Checker<'a> {
    article: &'a Article,
    facts: FactIndex,
    rouge: Rouge,
    embedder: &'a SentenceEmbedder,
}

impl Checker<'_> {
    /// What is wrong with `text` as the next summary sentence after
    /// `accepted` (their embeddings), empty when nothing is, and the
    /// sentence's embedding (`None` for an empty one).
    fn problems(
        &self,
        text: &str,
        accepted: &[Vec<f32>],
    ) -> Result<(Vec<String>, Option<Vec<f32>>)> {
        let mut problems = Vec::new();
        if text.trim().is_empty() {
            problems.push("empty".to_string());
            return Ok((problems, None));
        }
        if has_arabic_script(text) {
            problems.push("Persian/Arabic script".to_string());
        }
        let words = text.split_whitespace().count();
        if words > MAX_SENTENCE_WORDS {
            problems.push(format!("{words} words, more than {MAX_SENTENCE_WORDS}"));
        }
        for fact in self.facts.unsupported(text) {
            problems.push(format!("'{fact}' is not in the article"));
        }
        if let Some(i) = self
            .article
            .sentences
            .iter()
            .position(|s| self.rouge.score(&s.text, text).rouge_l.fmeasure >= COPY_ROUGE_L)
        {
            problems.push(format!("copies article sentence {i}"));
        }
        let own = self.embed(text)?;
        if accepted
            .iter()
            .any(|e| similarity(e, &own) >= DUPLICATE_SIMILARITY)
        {
            problems.push("restates an earlier summary sentence".to_string());
        }
        Ok((problems, Some(own)))
    }

    fn embed(&self, text: &str) -> Result<Vec<f32>> {
        let mut e = self.embedder.embed(&[text.to_string()])?;
        e.pop()
            .ok_or_else(|| Error::Internal("no embedding returned".into()))
    }
}

/// One group's outcome after the guard.
struct Outcome {
    text: String,
    origin: Origin,
    replaced: Option<Rejected>,
    regenerated: usize,
}

/// Summarizes `article` by selection, fusion and a faithfulness guard; see
/// the module docs.
pub fn grounded(
    lm: &mut CausalLm,
    format: &str,
    embedder: &SentenceEmbedder,
    article: &Article,
    opts: &GroundedOptions,
) -> Result<Summary> {
    let start = Instant::now();
    if article.is_empty() {
        return Err(Error::EmptyDocument);
    }
    let embeddings = embedder.embed(&article.owned_texts())?;
    let groups = plan_groups(article, &embeddings, summary_length(article.len()));
    let checker = Checker {
        article,
        facts: FactIndex::new(&article.text()),
        rouge: Rouge::new(true),
        embedder,
    };
    let words = ContentWords::default();
    let article_words: Vec<_> = article.texts().iter().map(|t| words.of(t)).collect();

    let requests: Vec<FuseRequest> = groups
        .iter()
        .map(|g| FuseRequest {
            sentences: g
                .iter()
                .map(|&i| article.sentences[i].text.clone())
                .collect(),
            note: None,
            attempts: 1,
        })
        .collect();
    let first = fuse(lm, format, &requests, &opts.generation)?;

    // The guard, group by group in article order; failures are collected
    // for one batched retry round.
    let mut accepted: Vec<Option<Vec<f32>>> = vec![None; groups.len()];
    let mut outcomes: Vec<Option<Outcome>> = (0..groups.len()).map(|_| None).collect();
    let mut failed: Vec<(usize, Rejected)> = Vec::new();
    for (g, attempts) in first.into_iter().enumerate() {
        let text = attempts.into_iter().next().unwrap_or_default();
        let done: Vec<Vec<f32>> = accepted.iter().flatten().cloned().collect();
        let (problems, embedding) = checker.problems(&text, &done)?;
        if problems.is_empty() {
            accepted[g] = embedding;
            outcomes[g] = Some(Outcome {
                text,
                origin: Origin::Generated,
                replaced: None,
                regenerated: 0,
            });
        } else {
            failed.push((g, Rejected { text, problems }));
        }
    }

    if opts.retry_attempts > 0 && !failed.is_empty() {
        let requests: Vec<FuseRequest> = failed
            .iter()
            .map(|(g, rejected)| FuseRequest {
                sentences: requests[*g].sentences.clone(),
                note: Some(retry_note(rejected)),
                attempts: opts.retry_attempts,
            })
            .collect();
        let retried = fuse(lm, format, &requests, &opts.generation)?;
        for ((g, rejected), attempts) in failed.iter_mut().zip(retried) {
            for (k, text) in attempts.into_iter().enumerate() {
                let done: Vec<Vec<f32>> = accepted.iter().flatten().cloned().collect();
                let (problems, embedding) = checker.problems(&text, &done)?;
                if problems.is_empty() {
                    accepted[*g] = embedding;
                    outcomes[*g] = Some(Outcome {
                        text,
                        origin: Origin::Generated,
                        replaced: None,
                        regenerated: k + 1,
                    });
                    break;
                }
                *rejected = Rejected { text, problems };
            }
        }
    }

    // What still fails becomes the group's best-supporting article sentence.
    for (g, rejected) in failed {
        if outcomes[g].is_some() {
            continue;
        }
        let support = supports(&words, &rejected.text, &article_words);
        let mut members = groups[g].clone();
        members.sort_by(|&a, &b| support[b].total_cmp(&support[a]).then(a.cmp(&b)));
        let done: Vec<Vec<f32>> = accepted.iter().flatten().cloned().collect();
        let mut pick = members[0];
        for &i in &members {
            if done
                .iter()
                .all(|e| similarity(e, &embeddings[i]) < DUPLICATE_SIMILARITY)
            {
                pick = i;
                break;
            }
        }
        tracing::info!(group = g, sentence = pick, problems = ?rejected.problems, "summary sentence replaced");
        accepted[g] = Some(embeddings[pick].clone());
        outcomes[g] = Some(Outcome {
            text: article.sentences[pick].text.clone(),
            origin: Origin::Extracted,
            replaced: Some(rejected),
            regenerated: opts.retry_attempts,
        });
    }

    let mut sentences: Vec<(usize, SummarySentence)> = outcomes
        .into_iter()
        .enumerate()
        .filter_map(|(g, o)| o.map(|o| (g, o)))
        .map(|(g, o)| {
            let sources = cite(&words, &o.text, article, &article_words, &groups[g]);
            let unsupported = match o.origin {
                Origin::Generated => Vec::new(),
                Origin::Extracted => checker.facts.unsupported(&o.text),
            };
            (
                g,
                SummarySentence {
                    text: o.text,
                    origin: o.origin,
                    sources,
                    unsupported,
                    replaced: o.replaced,
                    regenerated: o.regenerated,
                },
            )
        })
        .collect();
    fit_budget(&mut sentences, &groups, article);
    let replacements = sentences
        .iter()
        .filter(|(_, s)| s.replaced.is_some())
        .count();
    Ok(Summary {
        method: Method::Grounded,
        sentences: sentences.into_iter().map(|(_, s)| s).collect(),
        replacements,
        ms: start.elapsed().as_millis() as u64,
        stop_reason: None,
    })
}

/// What a retry is told, from what the rejected attempt got wrong.
fn retry_note(rejected: &Rejected) -> String {
    let mut note = String::from(
        "Write one new, shorter sentence in your own words. \
         Use only names and numbers that appear in the sentences above.",
    );
    if !rejected.problems.is_empty() {
        note.push_str(" Avoid this problem: ");
        note.push_str(&rejected.problems.join("; "));
        note.push('.');
    }
    note
}

/// Drops sentences while the summary is over [`MAX_WORDS`] and longer than
/// [`MIN_SENTENCES`]: the longest one whose third of the article another
/// sentence's group also draws on.
fn fit_budget(
    sentences: &mut Vec<(usize, SummarySentence)>,
    groups: &[Vec<usize>],
    article: &Article,
) {
    let words = |s: &SummarySentence| s.text.split_whitespace().count();
    loop {
        let total: usize = sentences.iter().map(|(_, s)| words(s)).sum();
        if total <= MAX_WORDS || sentences.len() <= MIN_SENTENCES {
            return;
        }
        let thirds = |skip: usize| {
            let mut covered = [false; 3];
            for (k, (g, _)) in sentences.iter().enumerate() {
                if k != skip {
                    for &i in &groups[*g] {
                        covered[article.third(i)] = true;
                    }
                }
            }
            covered
        };
        let all = thirds(usize::MAX);
        let droppable = (0..sentences.len())
            .filter(|&k| thirds(k) == all)
            .max_by_key(|&k| (words(&sentences[k].1), k));
        match droppable {
            Some(k) => {
                sentences.remove(k);
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(words: usize) -> SummarySentence {
        SummarySentence {
            text: vec!["word"; words].join(" "),
            origin: Origin::Generated,
            sources: Vec::new(),
            unsupported: Vec::new(),
            replaced: None,
            regenerated: 0,
        }
    }

    #[test]
    fn the_budget_drops_the_longest_sentence_whose_third_stays_covered() {
        let text: String = (0..9).map(|i| format!("Sentence {i} here. ")).collect();
        let article = Article::english(&text);
        // Groups in thirds 0, 0, 1, 2: only the second or the first can go.
        let groups = vec![vec![0], vec![1], vec![4], vec![8]];
        let mut s: Vec<(usize, SummarySentence)> = [30, 40, 35, 30]
            .into_iter()
            .map(sentence)
            .enumerate()
            .collect();
        fit_budget(&mut s, &groups, &article);
        let kept: Vec<usize> = s.iter().map(|(g, _)| *g).collect();
        assert_eq!(kept, vec![0, 2, 3]);
        // Never below three sentences, even over the budget.
        let mut s: Vec<(usize, SummarySentence)> =
            [60, 60, 60].into_iter().map(sentence).enumerate().collect();
        fit_budget(&mut s, &groups, &article);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn retry_notes_name_the_problems() {
        let note = retry_note(&Rejected {
            text: "x".into(),
            problems: vec!["'Merzabulok' is not in the article".into()],
        });
        assert!(note.contains("Merzabulok") && note.contains("only names and numbers"));
    }
}
