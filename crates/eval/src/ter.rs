//! TER, translation edit rate (Snover et al., 2006,
//! <https://aclanthology.org/2006.amta-papers.25/>), exactly as sacreBLEU
//! 2.6.0 computes it: words shifted greedily while a shift lowers the edit
//! distance, with Tercom's limits (shifts of at most 10 words, over at most
//! 50 positions, 1,000 candidate shifts per sentence) and a beam edit
//! distance that only explores 25 cells either side of the length-scaled
//! diagonal. Case-insensitive by default.
//!
//! Mirrors
//! [`metrics/ter.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/metrics/ter.py),
//! [`metrics/lib_ter.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/metrics/lib_ter.py)
//! and
//! [`tokenizers/tokenizer_ter.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/tokenizers/tokenizer_ter.py)
//! (without `asian_support`).
//!
//! Speed: sacreBLEU memoizes edit-distance rows in a trie keyed by
//! hypothesis prefixes. A row of the beam matrix depends only on the
//! hypothesis prefix above it (the beam depends on the row index and the two
//! lengths, which shifting does not change), so the memo never changes a
//! result. Here each candidate shift reuses the rows of the unshifted
//! hypothesis up to the first word the shift moves, computes only costs (no
//! back-pointers) for the rest, and stores rows as beam-wide bands, so long
//! lines cost O(words x beam) memory instead of O(words^2).

use crate::details::Details;
pub use crate::details::TerDetails;
use crate::hash::{map_with_capacity, FxHashMap};
use crate::signature::{yes_no, Signature};
use crate::stats::{CorpusMetric, SufficientStats};
use crate::tokenizer::{split_periods_commas_dashes, split_symbols, unescape_xml};
use crate::{pystr, Error, Result, Score};

const MAX_SHIFT_SIZE: usize = 10;
const MAX_SHIFT_DIST: usize = 50;
const BEAM_WIDTH: usize = 25;
const MAX_SHIFT_CANDIDATES: usize = 1000;
/// sacreBLEU's `_INT_INFINITY`: the cost of a cell outside the beam. Cells
/// next to it may hold `INF + k`; keeping the exact integers keeps every
/// comparison identical to Python's.
const INF: i64 = 10_000_000_000_000_000;

/// TER's settings. `Default` is sacreBLEU's TER: case-insensitive, no
/// normalization, punctuation kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TerConfig {
    pub case_sensitive: bool,
    /// Tercom's normalization: decode XML entities, split punctuation and
    /// possessives, as `_normalize_general_and_western`.
    pub normalized: bool,
    /// Remove `.,?:;!"()`.
    pub no_punct: bool,
}

impl TerConfig {
    /// e.g. `nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0`.
    pub fn signature(&self, nrefs: usize) -> Signature {
        Signature::new(
            nrefs,
            vec![
                (
                    "case",
                    if self.case_sensitive { "mixed" } else { "lc" }.to_string(),
                ),
                ("tok", "tercom".to_string()),
                ("norm", yes_no(self.normalized)),
                ("punct", yes_no(!self.no_punct)),
                ("asian", yes_no(false)),
            ],
        )
    }

    /// `TER._preprocess_segment`: `rstrip`, then `TercomTokenizer`.
    fn tokenize(&self, sent: &str) -> String {
        let sent = pystr::rstrip(sent);
        if sent.is_empty() {
            return String::new();
        }
        let mut sent = if self.case_sensitive {
            sent.to_string()
        } else {
            pystr::lower(sent)
        };
        if self.normalized {
            sent = normalize_western(&sent);
        }
        if self.no_punct {
            sent.retain(|c| !matches!(c, '.' | ',' | '?' | ':' | ';' | '!' | '"' | '(' | ')'));
        }
        pystr::squeeze(&sent)
    }

    /// The statistics of one hypothesis against its references.
    fn stats_of<R: AsRef<str>>(&self, hyp: &str, refs: &[R]) -> Result<TerStats> {
        let hyp = self.tokenize(hyp);
        let refs: Vec<String> = refs.iter().map(|r| self.tokenize(r.as_ref())).collect();
        // Words become integers: comparing them is what the shift search and
        // the edit distance do most.
        let mut vocab: FxHashMap<&str, u32> = map_with_capacity(64);
        let hyp_words = intern(&hyp, &mut vocab);
        let ref_words: Vec<Vec<u32>> = refs.iter().map(|r| intern(r, &mut vocab)).collect();

        let mut best_edits: Option<u64> = None;
        let mut ref_lengths = 0u64;
        for words_ref in &ref_words {
            let (edits, ref_len) = translation_edit_rate(&hyp_words, words_ref)?;
            ref_lengths += ref_len as u64;
            best_edits = Some(best_edits.map_or(edits, |b| b.min(edits)));
        }
        Ok(TerStats {
            num_edits: best_edits.unwrap_or(0),
            ref_length: ref_lengths as f64 / refs.len().max(1) as f64,
        })
    }
}

/// The words of `s` as integer ids, equal ids for equal words.
fn intern<'a>(s: &'a str, vocab: &mut FxHashMap<&'a str, u32>) -> Vec<u32> {
    pystr::split(s)
        .map(|w| {
            let next = vocab.len() as u32;
            *vocab.entry(w).or_insert(next)
        })
        .collect()
}

/// `_normalize_general_and_western` of `tokenizer_ter.py`.
fn normalize_western(sent: &str) -> String {
    let sent = unescape_xml(&sent.replace("\n-", "").replace('\n', " "));
    let mut chars = Vec::with_capacity(sent.len() + 2);
    chars.push(' ');
    chars.extend(sent.chars());
    chars.push(' ');
    let spaced: String = split_symbols(&chars).into_iter().collect();
    // `'s$` cannot match: the string ends with the space added above.
    let possessive = spaced.replace("'s ", " 's ");
    let chars: Vec<char> = possessive.chars().collect();
    split_periods_commas_dashes(&chars).into_iter().collect()
}

/// TER's sufficient statistics: sacreBLEU's `[num_edits, avg_ref_length]`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TerStats {
    /// Edits (shifts included) to the closest reference.
    pub num_edits: u64,
    /// Average reference length in words.
    pub ref_length: f64,
}

impl SufficientStats for TerStats {
    fn zero_like(&self) -> Self {
        TerStats::default()
    }

    fn accumulate(&mut self, other: &Self) {
        self.num_edits += other.num_edits;
        self.ref_length += other.ref_length;
    }
}

/// `TER._compute_score_from_stats`.
fn ter_score(stats: &TerStats) -> f64 {
    let score = if stats.ref_length > 0.0 {
        stats.num_edits as f64 / stats.ref_length
    } else if stats.num_edits > 0 {
        1.0
    } else {
        0.0
    };
    100.0 * score
}

impl CorpusMetric for TerConfig {
    type Stats = TerStats;

    fn segment(&self, hyp: &str, refs: &[&str]) -> Result<TerStats> {
        self.stats_of(hyp, refs)
    }

    fn score_from_stats(&self, stats: &TerStats, nrefs: usize) -> Score {
        Score {
            name: "TER".to_string(),
            score: ter_score(stats),
            signature: self.signature(nrefs).to_string(),
            details: Details::Ter(TerDetails {
                num_edits: stats.num_edits,
                ref_length: stats.ref_length,
            }),
        }
    }
}

/// Corpus TER with sacreBLEU's defaults.
pub fn corpus_ter<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[Vec<R>]) -> Result<Score> {
    TerConfig::default().corpus_score(hyps, refs)
}

/// Sentence TER with sacreBLEU's defaults.
pub fn sentence_ter<R: AsRef<str>>(hyp: &str, refs: &[R]) -> Result<Score> {
    TerConfig::default().sentence_score(hyp, refs)
}

/// `translation_edit_rate`: (number of edits, reference length).
fn translation_edit_rate(words_hyp: &[u32], words_ref: &[u32]) -> Result<(u64, usize)> {
    if words_ref.is_empty() {
        return Ok((words_hyp.len() as u64, 0));
    }
    let beam = Beam::new(words_hyp.len(), words_ref);
    let mut matrix = Matrix::new(&beam);
    let mut scratch = Scratch::default();
    let mut words = words_hyp.to_vec();
    let mut shifts = 0u64;
    let mut checked = 0usize;
    loop {
        let outcome = best_shift(&beam, &mut matrix, &mut scratch, &words, &mut checked)?;
        if checked >= MAX_SHIFT_CANDIDATES {
            break;
        }
        match outcome {
            Some((delta, shifted)) if delta > 0 => {
                shifts += 1;
                words = shifted;
            }
            _ => break,
        }
    }
    let edit_distance = matrix.fill(&beam, &words);
    Ok((shifts + edit_distance as u64, words_ref.len()))
}

/// `_shift`: the best shift of `words` (gain in edit distance, shifted
/// words), or `None` when no candidate qualifies.
fn best_shift(
    beam: &Beam,
    matrix: &mut Matrix,
    scratch: &mut Scratch,
    words: &[u32],
    checked: &mut usize,
) -> Result<Option<(i64, Vec<u32>)>> {
    let words_ref = beam.words_ref;
    let pre_score = matrix.fill(beam, words);
    let trace = matrix.trace(beam)?;
    let Alignment {
        align,
        ref_err,
        hyp_err,
    } = Alignment::from_flipped(&trace);

    // (gain, length, -start_h, -target): sacreBLEU's ranking tuple without
    // the shifted words, which never decide (equal keys, equal words).
    let mut best: Option<(i64, usize, i64, i64)> = None;
    let mut shifted = Vec::with_capacity(words.len());
    'pairs: for start_h in 0..words.len() {
        let lo = start_h.saturating_sub(MAX_SHIFT_DIST);
        let hi = (start_h + MAX_SHIFT_DIST + 1).min(words_ref.len());
        for start_r in lo..hi {
            // `_find_shifted_pairs` yields each length of the common run.
            let mut length = 0;
            while length < MAX_SHIFT_SIZE
                && start_h + length < words.len()
                && start_r + length < words_ref.len()
                && words[start_h + length] == words_ref[start_r + length]
            {
                length += 1;
                if !slice_sum(&hyp_err, start_h, length) || !slice_sum(&ref_err, start_r, length) {
                    continue;
                }
                // Don't shift within the run itself.
                // (Every reference position is aligned; `get` only avoids a
                // panic path.)
                let Some(&aligned) = align.get(start_r) else {
                    continue;
                };
                if start_h as i64 <= aligned && aligned < (start_h + length) as i64 {
                    continue;
                }
                let mut prev_idx = -1i64;
                for offset in -1..length as i64 {
                    let pos = start_r as i64 + offset;
                    let idx = if pos == -1 {
                        0
                    } else if let Some(&a) = align.get(pos as usize) {
                        a + 1
                    } else {
                        break;
                    };
                    if idx == prev_idx {
                        continue;
                    }
                    prev_idx = idx;
                    perform_shift(words, start_h, length, idx as usize, &mut shifted);
                    let gain = pre_score - matrix.cost_of_variant(beam, words, &shifted, scratch);
                    *checked += 1;
                    let candidate = (gain, length, -(start_h as i64), -idx);
                    if best.is_none_or(|b| candidate > b) {
                        best = Some(candidate);
                    }
                }
                if *checked >= MAX_SHIFT_CANDIDATES {
                    break 'pairs;
                }
            }
        }
    }
    Ok(best.map(|(gain, length, neg_start, neg_idx)| {
        let mut out = Vec::with_capacity(words.len());
        perform_shift(
            words,
            (-neg_start) as usize,
            length,
            (-neg_idx) as usize,
            &mut out,
        );
        (gain, out)
    }))
}

/// Whether `err[start..start + len]` (clamped like a Python slice) has an error.
fn slice_sum(err: &[bool], start: usize, len: usize) -> bool {
    let end = (start + len).min(err.len());
    start < end && err[start..end].iter().any(|&e| e)
}

/// `_perform_shift`: move `words[start..start + length]` to before `target`,
/// with Python's clamped slicing (including its odd third case).
fn perform_shift(words: &[u32], start: usize, length: usize, target: usize, out: &mut Vec<u32>) {
    let n = words.len();
    let sl = |a: usize, b: usize| &words[a.min(n)..b.min(n).max(a.min(n))];
    out.clear();
    if target < start {
        out.extend_from_slice(sl(0, target));
        out.extend_from_slice(sl(start, start + length));
        out.extend_from_slice(sl(target, start));
        out.extend_from_slice(sl(start + length, n));
    } else if target > start + length {
        out.extend_from_slice(sl(0, start));
        out.extend_from_slice(sl(start + length, target));
        out.extend_from_slice(sl(start, start + length));
        out.extend_from_slice(sl(target, n));
    } else {
        out.extend_from_slice(sl(0, start));
        out.extend_from_slice(sl(start + length, length + target));
        out.extend_from_slice(sl(start, start + length));
        out.extend_from_slice(sl(length + target, n));
    }
}

/// `trace_to_alignment` of the flipped trace: for each reference position the
/// aligned hypothesis position (-1 before the first), and error flags.
struct Alignment {
    align: Vec<i64>,
    ref_err: Vec<bool>,
    hyp_err: Vec<bool>,
}

impl Alignment {
    /// `trace` is the edit distance's own trace; sacreBLEU flips insertions
    /// and deletions (`_flip_trace`) before aligning, which is done here by
    /// reading `Del` as an insertion and `Ins` as a deletion.
    fn from_flipped(trace: &[Op]) -> Self {
        let (mut pos_hyp, mut pos_ref) = (-1i64, -1i64);
        let mut align = Vec::new();
        let mut ref_err = Vec::new();
        let mut hyp_err = Vec::new();
        for op in trace {
            match op {
                Op::Nop | Op::Sub => {
                    pos_hyp += 1;
                    pos_ref += 1;
                    align.push(pos_hyp);
                    let err = *op == Op::Sub;
                    hyp_err.push(err);
                    ref_err.push(err);
                }
                // Flipped: a deletion of a hypothesis word reads as an insertion.
                Op::Del => {
                    pos_hyp += 1;
                    hyp_err.push(true);
                }
                Op::Ins => {
                    pos_ref += 1;
                    align.push(pos_hyp);
                    ref_err.push(true);
                }
                Op::Undef => {}
            }
        }
        debug_assert_eq!(align.len() as i64, pos_ref + 1);
        Alignment {
            align,
            ref_err,
            hyp_err,
        }
    }
}

/// An edit operation of the beam edit distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Nop,
    Sub,
    Ins,
    Del,
    /// Outside the beam.
    Undef,
}

/// The beam of `BeamEditDistance._edit_distance` for one hypothesis length
/// and reference: which columns each row computes.
struct Beam<'a> {
    words_ref: &'a [u32],
    /// `bands[i]` = columns `[lo, hi)` of row `i`; row 0 is the full row.
    bands: Vec<(usize, usize)>,
    /// The widest band.
    max_width: usize,
}

impl<'a> Beam<'a> {
    fn new(n_hyp: usize, words_ref: &'a [u32]) -> Self {
        let n_ref = words_ref.len();
        let length_ratio = if n_hyp > 0 {
            n_ref as f64 / n_hyp as f64
        } else {
            1.0
        };
        let beam_width = if (BEAM_WIDTH as f64) < length_ratio / 2.0 {
            (length_ratio / 2.0 + BEAM_WIDTH as f64).ceil() as i64
        } else {
            BEAM_WIDTH as i64
        };
        let mut bands = Vec::with_capacity(n_hyp + 1);
        bands.push((0, n_ref + 1));
        for i in 1..=n_hyp {
            let pseudo_diag = (i as f64 * length_ratio).floor() as i64;
            let lo = (pseudo_diag - beam_width).max(0) as usize;
            let hi = if i == n_hyp {
                n_ref + 1
            } else {
                (pseudo_diag + beam_width).clamp(0, n_ref as i64 + 1) as usize
            };
            bands.push((lo, hi.max(lo)));
        }
        let max_width = bands.iter().map(|(lo, hi)| hi - lo).max().unwrap_or(0);
        Beam {
            words_ref,
            bands,
            max_width,
        }
    }

    /// Computes row `i` (1-based) into `cur` from `prev`; `word` is the
    /// hypothesis word of the row. With `ops`, also records the chosen
    /// operations.
    #[inline]
    fn row(&self, i: usize, word: u32, prev: Row<'_>, cur: &mut [i64], mut ops: Option<&mut [Op]>) {
        let (lo, hi) = self.bands[i];
        let prev_at = |j: usize| prev.get(j);
        let mut left = INF; // cur[j - 1]; the cell left of the band is INF
        for j in lo..hi {
            let (cost, op) = if j == 0 {
                (prev_at(0) + 1, Op::Del)
            } else {
                let (cost_sub, op_sub) = if word == self.words_ref[j - 1] {
                    (0, Op::Nop)
                } else {
                    (1, Op::Sub)
                };
                // Tercom prefers no-op/sub, then insertion, then deletion;
                // sacreBLEU swaps the last two because it flips the trace.
                let mut best = (INF, Op::Undef);
                for (c, o) in [
                    (prev_at(j - 1) + cost_sub, op_sub),
                    (prev_at(j) + 1, Op::Del),
                    (left + 1, Op::Ins),
                ] {
                    if best.0 > c {
                        best = (c, o);
                    }
                }
                best
            };
            cur[j - lo] = cost;
            if let Some(ops) = ops.as_deref_mut() {
                ops[j - lo] = op;
            }
            left = cost;
        }
    }
}

/// A computed row: costs of columns `[lo, lo + costs.len())`, INF elsewhere.
#[derive(Clone, Copy)]
struct Row<'a> {
    lo: usize,
    costs: &'a [i64],
}

impl Row<'_> {
    #[inline]
    fn get(&self, j: usize) -> i64 {
        j.checked_sub(self.lo)
            .and_then(|k| self.costs.get(k))
            .copied()
            .unwrap_or(INF)
    }
}

/// The banded edit-distance matrix of the current hypothesis, with
/// back-pointers.
struct Matrix {
    /// Start of each row in `costs`/`ops`.
    offsets: Vec<usize>,
    costs: Vec<i64>,
    ops: Vec<Op>,
}

impl Matrix {
    fn new(beam: &Beam) -> Self {
        let mut offsets = Vec::with_capacity(beam.bands.len() + 1);
        let mut total = 0;
        for &(lo, hi) in &beam.bands {
            offsets.push(total);
            total += hi - lo;
        }
        offsets.push(total);
        let mut costs = vec![INF; total];
        let mut ops = vec![Op::Undef; total];
        // Row 0: inserting the first j reference words.
        for j in 0..beam.bands[0].1 {
            costs[j] = j as i64;
            ops[j] = Op::Ins;
        }
        Matrix {
            offsets,
            costs,
            ops,
        }
    }

    fn row(&self, beam: &Beam, i: usize) -> Row<'_> {
        Row {
            lo: beam.bands[i].0,
            costs: &self.costs[self.offsets[i]..self.offsets[i + 1]],
        }
    }

    /// Fills rows 1.. for `words`; returns the edit distance.
    fn fill(&mut self, beam: &Beam, words: &[u32]) -> i64 {
        for (i, &word) in words.iter().enumerate() {
            let i = i + 1;
            let (done, rest) = self.costs.split_at_mut(self.offsets[i]);
            let prev = Row {
                lo: beam.bands[i - 1].0,
                costs: &done[self.offsets[i - 1]..],
            };
            let width = self.offsets[i + 1] - self.offsets[i];
            let ops = &mut self.ops[self.offsets[i]..self.offsets[i + 1]];
            beam.row(i, word, prev, &mut rest[..width], Some(ops));
        }
        self.last_cost(beam)
    }

    fn last_cost(&self, beam: &Beam) -> i64 {
        let n = beam.bands.len() - 1;
        self.row(beam, n).get(beam.words_ref.len())
    }

    /// The edit distance of `variant`, a shifted `words` whose matrix is
    /// filled: rows up to their common prefix are reused.
    fn cost_of_variant(
        &self,
        beam: &Beam,
        words: &[u32],
        variant: &[u32],
        scratch: &mut Scratch,
    ) -> i64 {
        let common = words
            .iter()
            .zip(variant)
            .take_while(|(a, b)| a == b)
            .count();
        if common == variant.len() {
            return self.last_cost(beam);
        }
        scratch.a.resize(beam.max_width, INF);
        scratch.b.resize(beam.max_width, INF);
        let Scratch { a, b } = scratch;
        let (mut prev_buf, mut cur_buf) = (a, b);
        // Row `common` comes from the matrix; later rows alternate buffers.
        let i = common + 1;
        let width = beam.bands[i].1 - beam.bands[i].0;
        beam.row(
            i,
            variant[i - 1],
            self.row(beam, common),
            &mut cur_buf[..width],
            None,
        );
        for i in common + 2..=variant.len() {
            std::mem::swap(&mut prev_buf, &mut cur_buf);
            let prev_width = beam.bands[i - 1].1 - beam.bands[i - 1].0;
            let prev = Row {
                lo: beam.bands[i - 1].0,
                costs: &prev_buf[..prev_width],
            };
            let width = beam.bands[i].1 - beam.bands[i].0;
            beam.row(i, variant[i - 1], prev, &mut cur_buf[..width], None);
        }
        let n = variant.len();
        let last = Row {
            lo: beam.bands[n].0,
            costs: &cur_buf[..beam.bands[n].1 - beam.bands[n].0],
        };
        last.get(beam.words_ref.len())
    }

    /// The operations from (0, 0) to the last cell, as sacreBLEU's trace.
    fn trace(&self, beam: &Beam) -> Result<Vec<Op>> {
        let n_hyp = beam.bands.len() - 1;
        let (mut i, mut j) = (n_hyp, beam.words_ref.len());
        let mut trace = Vec::with_capacity(i + j);
        while i > 0 || j > 0 {
            let (lo, hi) = beam.bands[i];
            let op = if (lo..hi).contains(&j) {
                self.ops[self.offsets[i] + j - lo]
            } else {
                Op::Undef
            };
            trace.push(op);
            match op {
                Op::Nop | Op::Sub => {
                    i -= 1;
                    j -= 1;
                }
                Op::Ins => j -= 1,
                Op::Del => i -= 1,
                Op::Undef => {
                    return Err(Error::TerBeam {
                        row: i,
                        col: j,
                        hyp_words: n_hyp,
                        ref_words: beam.words_ref.len(),
                    })
                }
            }
        }
        trace.reverse();
        Ok(trace)
    }
}

/// Reusable row buffers for [`Matrix::cost_of_variant`].
#[derive(Default)]
struct Scratch {
    a: Vec<i64>,
    b: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_default() {
        assert_eq!(
            TerConfig::default().signature(1).to_string(),
            "nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0"
        );
    }

    #[test]
    fn perform_shift_cases() {
        let w: Vec<u32> = (0..6).collect();
        let mut out = Vec::new();
        perform_shift(&w, 3, 2, 1, &mut out);
        assert_eq!(out, [0, 3, 4, 1, 2, 5]);
        perform_shift(&w, 0, 2, 4, &mut out);
        assert_eq!(out, [2, 3, 0, 1, 4, 5]);
        // sacreBLEU's third case, target inside the block's span.
        perform_shift(&w, 1, 2, 3, &mut out);
        assert_eq!(out, [0, 3, 4, 1, 2, 5]);
        perform_shift(&w, 4, 2, 5, &mut out);
        assert_eq!(out, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_shift_counts_as_one_edit() {
        let s = sentence_ter("d e f a b c", &["a b c d e f"]).unwrap();
        assert_eq!(s.ter().unwrap().num_edits, 1);
        assert_eq!(sentence_ter("", &["a b"]).unwrap().score, 100.0);
        assert_eq!(sentence_ter("a b", &[""]).unwrap().score, 100.0);
        assert_eq!(sentence_ter("", &[""]).unwrap().score, 0.0);
    }
}
