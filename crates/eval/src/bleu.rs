//! BLEU (Papineni et al., 2002, <https://aclanthology.org/P02-1040/>) exactly
//! as sacreBLEU 2.6.0 computes it: corpus statistics summed over segments,
//! clipped n-gram counts against the element-wise maximum over references,
//! the closest reference length for the brevity penalty (the shorter one on
//! ties), and Chen & Cherry's smoothing methods
//! (<https://aclanthology.org/W14-3346/>).
//!
//! Mirrors
//! [`metrics/bleu.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/metrics/bleu.py)
//! and `extract_all_word_ngrams` in
//! [`metrics/helpers.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/metrics/helpers.py).
//! Floating-point operations happen in sacreBLEU's order, so scores agree to
//! the last bit.

use std::ops::{Add, AddAssign};

use crate::details::Details;
pub use crate::details::{BleuDetails, MAX_NGRAM_ORDER};
use crate::hash::{map_with_capacity, FxHashMap};
use crate::signature::{yes_no, Signature};
use crate::stats::{CorpusMetric, SufficientStats};
use crate::tokenizer::Tokenizer;
use crate::{pystr, Result, Score};

/// sacreBLEU's `my_log(0)`: the log of a zero precision.
const LOG_ZERO: f64 = -9_999_999_999.0;

/// How BLEU treats n-gram orders without matches (sacreBLEU's `smooth_method`
/// and `smooth_value`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// `none`: a zero precision makes BLEU zero.
    None,
    /// `floor`: a zero match count counts as this value (default 0.1).
    Floor(f64),
    /// `add-k`: add this value to the counts of orders 2 and up (default 1).
    AddK(f64),
    /// `exp`: NIST's geometric smoothing, as mteval-v13a.pl; sacreBLEU's default.
    Exp,
}

impl Smoothing {
    /// `floor` with sacreBLEU's default value, 0.1.
    pub const FLOOR_DEFAULT: Smoothing = Smoothing::Floor(0.1);
    /// `add-k` with sacreBLEU's default value, 1.
    pub const ADD_K_DEFAULT: Smoothing = Smoothing::AddK(1.0);

    /// The signature value: `exp`, `none`, `floor[0.10]`, `add-k[1.00]`.
    pub fn signature(self) -> String {
        match self {
            Smoothing::None => "none".to_string(),
            Smoothing::Exp => "exp".to_string(),
            Smoothing::Floor(v) => format!("floor[{v:.2}]"),
            Smoothing::AddK(v) => format!("add-k[{v:.2}]"),
        }
    }
}

/// BLEU's settings. `Default` is sacreBLEU's corpus BLEU (`corpus_bleu` and
/// the command line): mixed case, `13a`, `exp` smoothing, effective order off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BleuConfig {
    pub lowercase: bool,
    pub tokenizer: Tokenizer,
    pub smoothing: Smoothing,
    /// Average only over the n-gram orders the hypothesis has; sacreBLEU
    /// turns this on for sentence BLEU.
    pub effective_order: bool,
}

impl Default for BleuConfig {
    fn default() -> Self {
        BleuConfig {
            lowercase: false,
            tokenizer: Tokenizer::ThirteenA,
            smoothing: Smoothing::Exp,
            effective_order: false,
        }
    }
}

impl BleuConfig {
    /// sacreBLEU's `sentence_bleu` defaults: as [`Default`] but with
    /// effective order on.
    pub fn sentence() -> Self {
        BleuConfig {
            effective_order: true,
            ..Default::default()
        }
    }

    /// e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`.
    pub fn signature(&self, nrefs: usize) -> Signature {
        Signature::new(
            nrefs,
            vec![
                (
                    "case",
                    if self.lowercase { "lc" } else { "mixed" }.to_string(),
                ),
                ("eff", yes_no(self.effective_order)),
                ("tok", self.tokenizer.signature().to_string()),
                ("smooth", self.smoothing.signature()),
            ],
        )
    }

    /// `_preprocess_segment`: lowercase (if asked), `rstrip`, tokenize.
    fn preprocess(&self, sent: &str) -> String {
        if self.lowercase {
            self.tokenizer.tokenize(pystr::rstrip(&pystr::lower(sent)))
        } else {
            self.tokenizer.tokenize(pystr::rstrip(sent))
        }
    }

    /// The statistics of one hypothesis against its references.
    fn stats_of<R: AsRef<str>>(&self, hyp: &str, refs: &[R]) -> BleuStats {
        let ref_strings: Vec<String> = refs.iter().map(|r| self.preprocess(r.as_ref())).collect();
        let ref_tokens: Vec<Vec<&str>> = ref_strings
            .iter()
            .map(|r| pystr::split(r).collect())
            .collect();

        // The element-wise maximum of the references' n-gram counts.
        let mut ref_ngrams: FxHashMap<&[&str], u32> =
            map_with_capacity(ref_tokens.first().map_or(0, |t| t.len() * MAX_NGRAM_ORDER));
        for (k, tokens) in ref_tokens.iter().enumerate() {
            if k == 0 {
                count_ngrams(tokens, &mut ref_ngrams);
            } else {
                let mut these = map_with_capacity(tokens.len() * MAX_NGRAM_ORDER);
                count_ngrams(tokens, &mut these);
                for (ngram, count) in these {
                    let entry = ref_ngrams.entry(ngram).or_insert(0);
                    *entry = (*entry).max(count);
                }
            }
        }

        let hyp_string = self.preprocess(hyp);
        let hyp_tokens: Vec<&str> = pystr::split(&hyp_string).collect();
        let mut hyp_ngrams = map_with_capacity(hyp_tokens.len() * MAX_NGRAM_ORDER);
        count_ngrams(&hyp_tokens, &mut hyp_ngrams);

        let hyp_len = hyp_tokens.len() as u64;
        let ref_lens = ref_tokens.iter().map(|t| t.len() as u64);
        let mut stats = BleuStats {
            sys_len: hyp_len,
            ref_len: closest_ref_len(hyp_len, ref_lens),
            ..Default::default()
        };
        for (ngram, &count) in &hyp_ngrams {
            let n = ngram.len() - 1;
            stats.total[n] += u64::from(count);
            if let Some(&ref_count) = ref_ngrams.get(ngram) {
                stats.correct[n] += u64::from(count.min(ref_count));
            }
        }
        stats
    }
}

/// Counts the 1- to 4-grams of `tokens` into `counts`.
fn count_ngrams<'a>(tokens: &'a [&'a str], counts: &mut FxHashMap<&'a [&'a str], u32>) {
    for n in 1..=MAX_NGRAM_ORDER {
        for ngram in tokens.windows(n) {
            *counts.entry(ngram).or_insert(0) += 1;
        }
    }
}

/// `_get_closest_ref_len`: the reference length closest to the hypothesis
/// length, the shortest on ties. No references give 0 (sacreBLEU: -1, but it
/// never scores without references).
fn closest_ref_len(hyp_len: u64, ref_lens: impl IntoIterator<Item = u64>) -> u64 {
    let mut closest: Option<(u64, u64)> = None; // (diff, len)
    for ref_len in ref_lens {
        let diff = hyp_len.abs_diff(ref_len);
        closest = match closest {
            Some((best_diff, best_len))
                if diff > best_diff || (diff == best_diff && ref_len >= best_len) =>
            {
                Some((best_diff, best_len))
            }
            _ => Some((diff, ref_len)),
        };
    }
    closest.map_or(0, |(_, len)| len)
}

/// BLEU's sufficient statistics for one segment or a whole corpus: sacreBLEU's
/// `[hyp_len, ref_len, correct_1..4, total_1..4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BleuStats {
    /// Hypothesis length in tokens.
    pub sys_len: u64,
    /// Length of the closest reference.
    pub ref_len: u64,
    /// Clipped n-gram matches, for n = 1..4.
    pub correct: [u64; MAX_NGRAM_ORDER],
    /// Hypothesis n-grams, for n = 1..4.
    pub total: [u64; MAX_NGRAM_ORDER],
}

impl AddAssign<&BleuStats> for BleuStats {
    fn add_assign(&mut self, other: &BleuStats) {
        self.sys_len += other.sys_len;
        self.ref_len += other.ref_len;
        for n in 0..MAX_NGRAM_ORDER {
            self.correct[n] += other.correct[n];
            self.total[n] += other.total[n];
        }
    }
}

impl Add for BleuStats {
    type Output = BleuStats;

    fn add(mut self, other: BleuStats) -> BleuStats {
        self += &other;
        self
    }
}

impl std::iter::Sum for BleuStats {
    fn sum<I: Iterator<Item = BleuStats>>(iter: I) -> BleuStats {
        iter.fold(BleuStats::default(), Add::add)
    }
}

impl SufficientStats for BleuStats {
    fn zero_like(&self) -> Self {
        BleuStats::default()
    }

    fn accumulate(&mut self, other: &Self) {
        *self += other;
    }
}

/// `BLEU.compute_bleu`: the score of summed statistics under `config`.
fn compute_bleu(stats: &BleuStats, config: &BleuConfig) -> (f64, BleuDetails) {
    let (sys_len, ref_len) = (stats.sys_len, stats.ref_len);
    let mut bp = 1.0;
    if sys_len < ref_len {
        bp = if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        };
    }
    let mut details = BleuDetails {
        counts: stats.correct,
        totals: stats.total,
        precisions: [0.0; MAX_NGRAM_ORDER],
        bp,
        sys_len,
        ref_len,
    };
    // Early stop if there are no matches (sacreBLEU #141).
    if stats.correct.iter().all(|&c| c == 0) {
        return (0.0, details);
    }

    let mut correct = stats.correct.map(|c| c as f64);
    let mut total = stats.total.map(|t| t as f64);
    let mut smooth_mteval = 1.0;
    let mut eff_order = MAX_NGRAM_ORDER;
    for n in 1..=MAX_NGRAM_ORDER {
        if let Smoothing::AddK(k) = config.smoothing {
            if n > 1 {
                correct[n - 1] += k;
                total[n - 1] += k;
            }
        }
        if total[n - 1] == 0.0 {
            break;
        }
        if config.effective_order {
            eff_order = n;
        }
        if correct[n - 1] == 0.0 {
            match config.smoothing {
                Smoothing::Exp => {
                    smooth_mteval *= 2.0;
                    details.precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1]);
                }
                Smoothing::Floor(v) => details.precisions[n - 1] = 100.0 * v / total[n - 1],
                Smoothing::None | Smoothing::AddK(_) => {}
            }
        } else {
            details.precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
        }
    }

    let log_sum = details.precisions[..eff_order].iter().fold(0.0, |acc, &p| {
        acc + if p == 0.0 { LOG_ZERO } else { p.ln() }
    });
    let score = bp * (log_sum / eff_order as f64).exp();
    (score, details)
}

impl CorpusMetric for BleuConfig {
    type Stats = BleuStats;

    fn segment(&self, hyp: &str, refs: &[&str]) -> Result<BleuStats> {
        Ok(self.stats_of(hyp, refs))
    }

    fn score_from_stats(&self, stats: &BleuStats, nrefs: usize) -> Score {
        let (score, details) = compute_bleu(stats, self);
        Score {
            name: "BLEU".to_string(),
            score,
            signature: self.signature(nrefs).to_string(),
            details: Details::Bleu(details),
        }
    }
}

/// Corpus BLEU with sacreBLEU's defaults; `refs[k][i]` is the k-th reference
/// of hypothesis `i`.
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[Vec<R>]) -> Result<Score> {
    BleuConfig::default().corpus_score(hyps, refs)
}

/// Sentence BLEU with sacreBLEU's `sentence_bleu` defaults (effective order on).
pub fn sentence_bleu<R: AsRef<str>>(hyp: &str, refs: &[R]) -> Result<Score> {
    BleuConfig::sentence().sentence_score(hyp, refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_ref_len_prefers_shorter_on_ties() {
        assert_eq!(closest_ref_len(10, [12, 8]), 8);
        assert_eq!(closest_ref_len(10, [8, 12]), 8);
        assert_eq!(closest_ref_len(10, [13, 11, 9]), 9);
        assert_eq!(closest_ref_len(10, []), 0);
    }

    #[test]
    fn identical_sentence_scores_100() {
        let s = sentence_bleu("the cat sat on the mat .", &["the cat sat on the mat ."]).unwrap();
        // exp(mean(log p)) is not exactly 100; sacreBLEU 2.6.0 gives this same
        // 100.00000000000004.
        assert_eq!(s.score, 100.00000000000004);
        let d = s.bleu().unwrap();
        assert_eq!(d.counts, [7, 6, 5, 4]);
        assert_eq!(d.bp, 1.0);
    }

    #[test]
    fn signatures() {
        assert_eq!(
            BleuConfig::default().signature(1).to_string(),
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
        );
        let cfg = BleuConfig {
            lowercase: true,
            smoothing: Smoothing::FLOOR_DEFAULT,
            ..BleuConfig::sentence()
        };
        assert_eq!(
            cfg.signature(2).to_string(),
            "nrefs:2|case:lc|eff:yes|tok:13a|smooth:floor[0.10]|version:2.6.0"
        );
    }
}
