//! Sufficient statistics: what BLEU, chrF and TER keep per segment, and how a
//! corpus score is computed from their sum.
//!
//! sacreBLEU computes every corpus score this way
//! (`Metric._extract_corpus_statistics` then `_compute_score_from_stats` in
//! [`metrics/base.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/metrics/base.py)),
//! and so does its bootstrap: resample segment statistics, add them up,
//! rescore. [`CorpusMetric`] exposes exactly those steps, so resampling costs
//! an addition per segment instead of re-tokenizing.

use crate::{Error, Result, Score};

/// Per-segment statistics that add up to corpus statistics.
pub trait SufficientStats: Clone + Send + Sync {
    /// The zero with the same shape as `self` (chrF's depends on its orders).
    fn zero_like(&self) -> Self;

    /// `self += other`.
    fn accumulate(&mut self, other: &Self);
}

/// A metric whose corpus score is a function of summed segment statistics.
pub trait CorpusMetric {
    type Stats: SufficientStats;

    /// One statistics entry per hypothesis. `refs` holds reference streams:
    /// `refs[k][i]` is the k-th reference of hypothesis `i`.
    ///
    /// Errors: no reference stream ([`Error::NoReferences`]), a stream whose
    /// length differs from `hyps` ([`Error::LineCountMismatch`]). Empty
    /// `hyps` give an empty vector.
    fn segment_stats<H: AsRef<str>, R: AsRef<str>>(
        &self,
        hyps: &[H],
        refs: &[Vec<R>],
    ) -> Result<Vec<Self::Stats>> {
        check_streams(hyps.len(), refs)?;
        hyps.iter()
            .enumerate()
            .map(|(i, hyp)| {
                let seg_refs: Vec<&str> = refs.iter().map(|stream| stream[i].as_ref()).collect();
                self.segment(hyp.as_ref(), &seg_refs)
            })
            .collect()
    }

    /// The statistics of one hypothesis against its references.
    fn segment(&self, hyp: &str, refs: &[&str]) -> Result<Self::Stats>;

    /// The score of (summed) statistics; `nrefs` goes into the signature.
    fn score_from_stats(&self, stats: &Self::Stats, nrefs: usize) -> Score;

    /// The corpus score: statistics summed over all segments, in order, as
    /// sacreBLEU sums them. An empty corpus is an error
    /// ([`Error::EmptyCorpus`]) rather than a meaningless 0.
    fn corpus_score<H: AsRef<str>, R: AsRef<str>>(
        &self,
        hyps: &[H],
        refs: &[Vec<R>],
    ) -> Result<Score> {
        let stats = self.segment_stats(hyps, refs)?;
        let total = sum(&stats).ok_or(Error::EmptyCorpus)?;
        Ok(self.score_from_stats(&total, refs.len()))
    }

    /// The score of one hypothesis against one or more references.
    fn sentence_score<R: AsRef<str>>(&self, hyp: &str, refs: &[R]) -> Result<Score> {
        let streams: Vec<Vec<&str>> = refs.iter().map(|r| vec![r.as_ref()]).collect();
        self.corpus_score(&[hyp], &streams)
    }
}

/// The sum of `stats` in order, or `None` when there are none.
pub fn sum<S: SufficientStats>(stats: &[S]) -> Option<S> {
    let (first, rest) = stats.split_first()?;
    let mut total = first.zero_like();
    total.accumulate(first);
    for s in rest {
        total.accumulate(s);
    }
    Some(total)
}

/// Checks the reference streams against the hypotheses.
pub(crate) fn check_streams<R>(n_hyps: usize, refs: &[Vec<R>]) -> Result<()> {
    if refs.is_empty() {
        return Err(Error::NoReferences);
    }
    for (k, stream) in refs.iter().enumerate() {
        if stream.len() != n_hyps {
            return Err(Error::LineCountMismatch {
                what: format!("reference set {}", k + 1),
                expected: n_hyps,
                found: stream.len(),
            });
        }
    }
    Ok(())
}
