//! chrF (Popović 2015, <https://aclanthology.org/W15-3049/>) and chrF++
//! (Popović 2017, <https://aclanthology.org/W17-4770/>) exactly as sacreBLEU
//! 2.6.0 computes them: character n-grams up to order 6 with whitespace
//! removed, optionally word n-grams up to order 2 with sacreBLEU's
//! punctuation splitting, beta 2, statistics summed over the corpus, and the
//! "effective order" averaging of sacreBLEU < 2.0 (its default,
//! `eps_smoothing=False`). With several references each segment keeps the
//! statistics of the reference with the best sentence chrF.
//!
//! Mirrors
//! [`metrics/chrf.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/metrics/chrf.py)
//! and the character n-gram helpers in
//! [`metrics/helpers.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/metrics/helpers.py).
//! N-grams are sequences of Unicode scalar values, like Python's `str`.

pub use crate::details::ChrfDetails;
use crate::details::Details;
use crate::hash::{map_with_capacity, FxHashMap};
use crate::signature::{yes_no, Signature};
use crate::stats::{CorpusMetric, SufficientStats};
use crate::{pystr, Result, Score};

/// chrF's settings. `Default` is sacreBLEU's chrF (`chrF2`): character order
/// 6, no word n-grams, beta 2, case-sensitive, whitespace ignored, effective
/// order averaging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChrfConfig {
    pub char_order: usize,
    /// 0 for chrF, 2 for chrF++.
    pub word_order: usize,
    pub beta: u32,
    pub lowercase: bool,
    /// Keep whitespace in character n-grams.
    pub whitespace: bool,
    /// chrF++.py / NLTK / Moses epsilon smoothing instead of effective order.
    pub eps_smoothing: bool,
}

impl Default for ChrfConfig {
    fn default() -> Self {
        ChrfConfig {
            char_order: 6,
            word_order: 0,
            beta: 2,
            lowercase: false,
            whitespace: false,
            eps_smoothing: false,
        }
    }
}

impl ChrfConfig {
    /// chrF++: [`Default`] plus word uni- and bigrams.
    pub fn plus_plus() -> Self {
        ChrfConfig {
            word_order: 2,
            ..Default::default()
        }
    }

    /// `chrF2`, `chrF2++`, ...: sacreBLEU's name, with a `+` per word order.
    pub fn name(&self) -> String {
        format!("chrF{}{}", self.beta, "+".repeat(self.word_order))
    }

    /// e.g. `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0`.
    pub fn signature(&self, nrefs: usize) -> Signature {
        Signature::new(
            nrefs,
            vec![
                (
                    "case",
                    if self.lowercase { "lc" } else { "mixed" }.to_string(),
                ),
                ("eff", yes_no(!self.eps_smoothing)),
                ("nc", self.char_order.to_string()),
                ("nw", self.word_order.to_string()),
                ("space", yes_no(self.whitespace)),
            ],
        )
    }

    fn n_orders(&self) -> usize {
        self.char_order + self.word_order
    }

    /// `_compute_f_score`: chrF in 0..100 from per-order statistics.
    fn f_score(&self, orders: &[NgramMatches]) -> f64 {
        const EPS: f64 = 1e-16;
        let factor = f64::from(self.beta).powi(2);
        let mut eps_score = 0.0;
        let mut effective_order = 0usize;
        let (mut avg_prec, mut avg_rec) = (0.0, 0.0);
        for o in orders {
            let prec = if o.hyp > 0 {
                o.matched as f64 / o.hyp as f64
            } else {
                EPS
            };
            let rec = if o.reference > 0 {
                o.matched as f64 / o.reference as f64
            } else {
                EPS
            };
            let denom = factor * prec + rec;
            eps_score += if denom > 0.0 {
                (1.0 + factor) * prec * rec / denom
            } else {
                EPS
            };
            if o.hyp > 0 && o.reference > 0 {
                avg_prec += prec;
                avg_rec += rec;
                effective_order += 1;
            }
        }
        if self.eps_smoothing {
            return 100.0 * eps_score / self.n_orders() as f64;
        }
        if effective_order == 0 {
            avg_prec = 0.0;
            avg_rec = 0.0;
        } else {
            avg_prec /= effective_order as f64;
            avg_rec /= effective_order as f64;
        }
        if avg_prec + avg_rec != 0.0 {
            let mut score = (1.0 + factor) * avg_prec * avg_rec;
            score /= factor * avg_prec + avg_rec;
            100.0 * score
        } else {
            0.0
        }
    }

    /// The statistics of one hypothesis against its references: those of
    /// the reference with the highest chrF (the first on ties).
    fn stats_of<R: AsRef<str>>(&self, hyp: &str, refs: &[R]) -> ChrfStats {
        let hyp = self.preprocess(hyp);
        let hyp_ngrams = Ngrams::new(&hyp, self);
        let mut best: Option<(f64, ChrfStats)> = None;
        for reference in refs {
            let reference = self.preprocess(reference.as_ref());
            let ref_ngrams = Ngrams::new(&reference, self);
            let stats = ChrfStats {
                orders: hyp_ngrams.match_stats(&ref_ngrams),
            };
            let f = self.f_score(&stats.orders);
            if best.as_ref().is_none_or(|(best_f, _)| f > *best_f) {
                best = Some((f, stats));
            }
        }
        best.map_or_else(|| ChrfStats::zeros(self.n_orders()), |(_, stats)| stats)
    }

    fn preprocess(&self, sent: &str) -> String {
        if self.lowercase {
            pystr::lower(sent)
        } else {
            sent.to_string()
        }
    }
}

/// The character and word n-grams of one segment.
struct Ngrams {
    chars: Vec<char>,
    /// `_remove_punctuation`'s words, for chrF++.
    words: Vec<String>,
    char_order: usize,
    word_order: usize,
}

impl Ngrams {
    fn new(sent: &str, config: &ChrfConfig) -> Self {
        let chars = if config.whitespace {
            sent.chars().collect()
        } else {
            sent.chars().filter(|&c| !pystr::is_whitespace(c)).collect()
        };
        let words = if config.word_order > 0 {
            split_punctuation(sent)
        } else {
            Vec::new()
        };
        Ngrams {
            chars,
            words,
            char_order: config.char_order,
            word_order: config.word_order,
        }
    }

    /// `_get_match_statistics` for every order: characters 1..=char_order,
    /// then words 1..=word_order.
    fn match_stats(&self, reference: &Ngrams) -> Vec<NgramMatches> {
        let mut out = Vec::with_capacity(self.char_order + self.word_order);
        for n in 1..=self.char_order {
            out.push(match_counts(&self.chars, &reference.chars, n));
        }
        let words: Vec<&str> = self.words.iter().map(String::as_str).collect();
        let ref_words: Vec<&str> = reference.words.iter().map(String::as_str).collect();
        for n in 1..=self.word_order {
            out.push(match_counts(&words, &ref_words, n));
        }
        out
    }
}

/// Hypothesis, reference and clipped matching n-gram counts of one order.
fn match_counts<T: Eq + std::hash::Hash>(hyp: &[T], reference: &[T], n: usize) -> NgramMatches {
    let ref_total = reference.len().saturating_sub(n - 1) as u64;
    let hyp_total = hyp.len().saturating_sub(n - 1) as u64;
    if ref_total == 0 || hyp_total == 0 {
        // "Don't count hits if no reference exists for that n-gram".
        return NgramMatches {
            hyp: if ref_total == 0 { 0 } else { hyp_total },
            reference: ref_total,
            matched: 0,
        };
    }
    let mut ref_counts: FxHashMap<&[T], u32> = map_with_capacity(ref_total as usize);
    for ngram in reference.windows(n) {
        *ref_counts.entry(ngram).or_insert(0) += 1;
    }
    let mut hyp_counts: FxHashMap<&[T], u32> = map_with_capacity(hyp_total as usize);
    for ngram in hyp.windows(n) {
        *hyp_counts.entry(ngram).or_insert(0) += 1;
    }
    let matched = hyp_counts
        .iter()
        .map(|(ngram, &count)| u64::from(ref_counts.get(ngram).map_or(0, |&r| count.min(r))))
        .sum();
    NgramMatches {
        hyp: hyp_total,
        reference: ref_total,
        matched,
    }
}

/// sacreBLEU's `_remove_punctuation`: split on whitespace, then split one
/// ASCII punctuation character off the end of each word or, failing that, off
/// its start (so `(hi)` gives `(hi` and `)`, sacreBLEU issue #124).
pub fn split_punctuation(sent: &str) -> Vec<String> {
    const PUNCTS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    let mut out = Vec::new();
    for w in pystr::split(sent) {
        let mut chars = w.chars();
        let (first, last) = (chars.next(), chars.next_back());
        match (first, last) {
            (Some(_), Some(last)) if PUNCTS.contains(last) => {
                out.push(w[..w.len() - last.len_utf8()].to_string());
                out.push(last.to_string());
            }
            (Some(first), Some(_)) if PUNCTS.contains(first) => {
                out.push(first.to_string());
                out.push(w[first.len_utf8()..].to_string());
            }
            _ => out.push(w.to_string()),
        }
    }
    out
}

/// One order's `[hyp, ref, match]` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NgramMatches {
    /// Hypothesis n-grams (0 when the reference has none of this order).
    pub hyp: u64,
    /// Reference n-grams.
    pub reference: u64,
    /// Clipped matches.
    pub matched: u64,
}

/// chrF's sufficient statistics: one [`NgramMatches`] per order, character
/// orders first, then word orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChrfStats {
    pub orders: Vec<NgramMatches>,
}

impl ChrfStats {
    /// All-zero statistics for `n_orders` orders.
    pub fn zeros(n_orders: usize) -> Self {
        ChrfStats {
            orders: vec![NgramMatches::default(); n_orders],
        }
    }
}

impl SufficientStats for ChrfStats {
    fn zero_like(&self) -> Self {
        ChrfStats::zeros(self.orders.len())
    }

    fn accumulate(&mut self, other: &Self) {
        for (a, b) in self.orders.iter_mut().zip(&other.orders) {
            a.hyp += b.hyp;
            a.reference += b.reference;
            a.matched += b.matched;
        }
    }
}

impl CorpusMetric for ChrfConfig {
    type Stats = ChrfStats;

    fn segment(&self, hyp: &str, refs: &[&str]) -> Result<ChrfStats> {
        Ok(self.stats_of(hyp, refs))
    }

    fn score_from_stats(&self, stats: &ChrfStats, nrefs: usize) -> Score {
        Score {
            name: self.name(),
            score: self.f_score(&stats.orders),
            signature: self.signature(nrefs).to_string(),
            details: Details::Chrf(ChrfDetails {
                char_order: self.char_order,
                word_order: self.word_order,
                beta: self.beta,
            }),
        }
    }
}

/// Corpus chrF with sacreBLEU's defaults.
pub fn corpus_chrf<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[Vec<R>]) -> Result<Score> {
    ChrfConfig::default().corpus_score(hyps, refs)
}

/// Sentence chrF with sacreBLEU's defaults.
pub fn sentence_chrf<R: AsRef<str>>(hyp: &str, refs: &[R]) -> Result<Score> {
    ChrfConfig::default().sentence_score(hyp, refs)
}

/// Corpus chrF++ (sacreBLEU's `--chrf-word-order 2`).
pub fn corpus_chrf_pp<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[Vec<R>]) -> Result<Score> {
    ChrfConfig::plus_plus().corpus_score(hyps, refs)
}

/// Sentence chrF++.
pub fn sentence_chrf_pp<R: AsRef<str>>(hyp: &str, refs: &[R]) -> Result<Score> {
    ChrfConfig::plus_plus().sentence_score(hyp, refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_splitting_matches_sacrebleu() {
        assert_eq!(
            split_punctuation("(hi) a. ,b c ! x.y"),
            ["(hi", ")", "a", ".", ",", "b", "c", "!", "x.y"]
        );
        assert_eq!(split_punctuation("«سلام»."), ["«سلام»", "."]);
    }

    #[test]
    fn names_and_signatures() {
        assert_eq!(ChrfConfig::default().name(), "chrF2");
        assert_eq!(ChrfConfig::plus_plus().name(), "chrF2++");
        assert_eq!(
            ChrfConfig::plus_plus().signature(1).to_string(),
            "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0"
        );
    }

    #[test]
    fn identical_scores_100_and_disjoint_scores_0() {
        assert_eq!(sentence_chrf("abc def", &["abc def"]).unwrap().score, 100.0);
        assert_eq!(sentence_chrf("abc", &["xyz"]).unwrap().score, 0.0);
    }
}
