//! Content selection: which article sentences a summary must draw on.
//!
//! [`select_sentences`] is maximal marginal relevance (Carbonell &
//! Goldstein, 1998) against the document centroid. [`plan_groups`] makes it
//! position-balanced: the article is cut into as many consecutive parts as
//! the summary will have sentences, and each part gives its most salient
//! sentence (relevance to the whole, plus a bonus for checkable facts:
//! numbers and names), with a second sentence to fuse when the part is
//! long enough. So every part of a long article contributes, not just its
//! lead.

use super::article::Article;
use super::facts::FactIndex;
use super::types::{MAX_SENTENCES, MIN_SENTENCES};

/// Weight of relevance against redundancy in maximal marginal relevance.
const MMR_LAMBDA: f32 = 0.7;
/// Salience bonus for a sentence with (at least) three numbers or names.
const FACT_BONUS: f32 = 0.1;
/// A part this long also gives a second sentence to fuse with the first.
const PARTNER_MIN_PART: usize = 3;

/// How many sentences a summary of `n` article sentences gets.
pub fn summary_length(n: usize) -> usize {
    n.div_ceil(4).clamp(MIN_SENTENCES, MAX_SENTENCES)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Maximal marginal relevance over unit-length `embeddings`: relevance is
/// similarity to the normalized centroid, redundancy the highest similarity
/// to a sentence already chosen. Returns up to `k` indices in document order.
pub fn select_sentences(embeddings: &[Vec<f32>], k: usize) -> Vec<usize> {
    let n = embeddings.len();
    if n == 0 {
        return Vec::new();
    }
    let centroid = centroid(embeddings);
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

/// Salience of each sentence: similarity to the article's centroid plus
/// a bonus for checkable facts.
fn salience(article: &Article, embeddings: &[Vec<f32>], facts: &FactIndex) -> Vec<f32> {
    let centroid = centroid(embeddings);
    article
        .sentences
        .iter()
        .zip(embeddings)
        .map(|(s, e)| {
            let n = super::facts::numbers(&s.text).len() + facts.names(&s.text).len();
            dot(e, &centroid) + FACT_BONUS * n.min(3) as f32 / 3.0
        })
        .collect()
}

/// The groups of article sentences (indices, in order) that the summary's
/// sentences are made from, one group per part of the article; see the
/// module docs.
pub fn plan_groups(article: &Article, embeddings: &[Vec<f32>], k: usize) -> Vec<Vec<usize>> {
    let n = article.len().min(embeddings.len());
    if n == 0 {
        return Vec::new();
    }
    let k = k.clamp(1, n);
    let facts = FactIndex::new(&article.text());
    let salience = salience(article, embeddings, &facts);
    let mut anchors: Vec<usize> = Vec::new();
    let mut groups = Vec::new();
    for part in 0..k {
        let (lo, hi) = (part * n / k, (part + 1) * n / k);
        let mmr = |i: usize, chosen: &[usize]| {
            let redundancy = chosen
                .iter()
                .map(|&j| dot(&embeddings[i], &embeddings[j]))
                .fold(0.0f32, f32::max);
            MMR_LAMBDA * salience[i] - (1.0 - MMR_LAMBDA) * redundancy
        };
        let best = |chosen: &[usize], skip: Option<usize>| {
            (lo..hi)
                .filter(|&i| Some(i) != skip)
                .max_by(|&a, &b| mmr(a, chosen).total_cmp(&mmr(b, chosen)).then(b.cmp(&a)))
        };
        let Some(anchor) = best(&anchors, None) else {
            continue;
        };
        let mut group = vec![anchor];
        if hi - lo >= PARTNER_MIN_PART {
            let mut with_anchor = anchors.clone();
            with_anchor.push(anchor);
            group.extend(best(&with_anchor, Some(anchor)));
        }
        group.sort_unstable();
        anchors.push(anchor);
        groups.push(group);
    }
    groups
}

fn centroid(embeddings: &[Vec<f32>]) -> Vec<f32> {
    let dim = embeddings.first().map_or(0, Vec::len);
    let mut c = vec![0f32; dim];
    for e in embeddings {
        for (c, x) in c.iter_mut().zip(e) {
            *c += x;
        }
    }
    let norm = dot(&c, &c).sqrt().max(1e-12);
    c.iter_mut().for_each(|x| *x /= norm);
    c
}

/// Cosine similarity of unit vectors.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b)
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

    #[test]
    fn groups_cover_every_part_of_the_article() {
        let text: String = (0..12)
            .map(|i| format!("Sentence number {i} says something. "))
            .collect();
        let article = Article::english(&text);
        let e: Vec<Vec<f32>> = (0..12)
            .map(|i| unit(&[1.0, (i % 3) as f32 * 0.3, (i % 5) as f32 * 0.2]))
            .collect();
        let groups = plan_groups(&article, &e, summary_length(12));
        assert_eq!(groups.len(), 3);
        for (part, g) in groups.iter().enumerate() {
            assert_eq!(g.len(), 2, "{groups:?}");
            assert!(g.iter().all(|&i| i / 4 == part), "{groups:?}");
        }
        assert_eq!(summary_length(2), 3);
        assert_eq!(summary_length(15), 4);
        assert_eq!(summary_length(40), 5);
        assert_eq!(plan_groups(&article, &e[..2], 3).len(), 2);
    }
}
