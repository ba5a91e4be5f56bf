//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum, computed exactly as Google's
//! `rouge-score` package (PyPI `rouge-score` 0.1.2, `rouge_scorer.py`) does.
//!
//! ROUGE: C.-Y. Lin, "ROUGE: A Package for Automatic Evaluation of
//! Summaries", Text Summarization Branches Out, 2004,
//! <https://aclanthology.org/W04-1013/>.
//!
//! What `rouge-score` does, and so what this module does:
//! - Tokens: the text is lowercased, every run of characters outside `[a-z0-9]`
//!   separates tokens (so Persian or accented letters vanish), and with
//!   stemming every token longer than three characters goes through NLTK's
//!   Porter stemmer ([`crate::stemmer`]).
//! - ROUGE-N: clipped n-gram overlap; precision over the prediction's n-grams,
//!   recall over the target's.
//! - ROUGE-L: longest common subsequence of the two token sequences.
//! - ROUGE-Lsum: both texts are split into sentences on `\n` and scored with
//!   the summary-level union-LCS of the ROUGE paper (section 3.2), without
//!   double counting, as ROUGE-1.5.5 does. On one-line texts it equals
//!   ROUGE-L.
//! - Several references: each ROUGE type takes the reference with the highest
//!   F1 (the first on ties), like `RougeScorer.score_multi`.
//!
//! Corpus level: `rouge-score` itself only scores pairs. [`Rouge::corpus`]
//! averages the per-line scores (P, R and F1 separately), the usual way its
//! numbers are reported (without its own bootstrap aggregator). As a
//! [`crate::Score`] a corpus ROUGE is the mean F1 times 100, on the 0-100 scale
//! of sacreBLEU, and its signature says so (see [`Rouge::signature`]).

use std::collections::HashMap;

use crate::bootstrap::BootstrapConfig;
use crate::stemmer;
use crate::{Error, Result, Score};

/// The `rouge-score` release whose behavior this module reproduces; the
/// golden tests were made with it.
pub const ROUGE_SCORE_VERSION: &str = "0.1.2";

/// Precision, recall and F1, each in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

impl Prf {
    fn new(precision: f64, recall: f64) -> Self {
        Prf {
            precision,
            recall,
            fmeasure: fmeasure(precision, recall),
        }
    }
}

fn fmeasure(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

/// The ROUGE variants this module computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RougeType {
    Rouge1,
    Rouge2,
    RougeL,
    RougeLsum,
}

impl RougeType {
    /// All four, in the order reports list them.
    pub const ALL: [RougeType; 4] = [
        RougeType::Rouge1,
        RougeType::Rouge2,
        RougeType::RougeL,
        RougeType::RougeLsum,
    ];

    /// The name `rouge-score` uses: `rouge1`, `rouge2`, `rougeL`, `rougeLsum`.
    pub fn name(self) -> &'static str {
        match self {
            RougeType::Rouge1 => "rouge1",
            RougeType::Rouge2 => "rouge2",
            RougeType::RougeL => "rougeL",
            RougeType::RougeLsum => "rougeLsum",
        }
    }

    /// The short tag used in signatures: `1`, `2`, `L`, `Lsum`.
    fn tag(self) -> &'static str {
        &self.name()[5..]
    }
}

impl std::fmt::Display for RougeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RougeType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        RougeType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::UnknownMetric(s.to_string()))
    }
}

/// The four scores of one prediction.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RougeScores {
    pub rouge1: Prf,
    pub rouge2: Prf,
    pub rouge_l: Prf,
    pub rouge_lsum: Prf,
}

impl RougeScores {
    pub fn get(&self, rouge_type: RougeType) -> Prf {
        match rouge_type {
            RougeType::Rouge1 => self.rouge1,
            RougeType::Rouge2 => self.rouge2,
            RougeType::RougeL => self.rouge_l,
            RougeType::RougeLsum => self.rouge_lsum,
        }
    }

    fn get_mut(&mut self, rouge_type: RougeType) -> &mut Prf {
        match rouge_type {
            RougeType::Rouge1 => &mut self.rouge1,
            RougeType::Rouge2 => &mut self.rouge2,
            RougeType::RougeL => &mut self.rouge_l,
            RougeType::RougeLsum => &mut self.rouge_lsum,
        }
    }
}

/// Per-line and mean ROUGE of a corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusRouge {
    /// One entry per hypothesis line (best reference per type).
    pub sentences: Vec<RougeScores>,
    /// Mean of the per-line precision, recall and F1.
    pub mean: RougeScores,
    /// The scorer's settings and reference count, for [`CorpusRouge::score`].
    signature_of: Rouge,
    nrefs: usize,
}

impl CorpusRouge {
    /// The corpus score of one type as a [`Score`]: mean F1 x 100.
    pub fn score(&self, rouge_type: RougeType) -> Score {
        Score::new(
            rouge_type.name(),
            100.0 * self.mean.get(rouge_type).fmeasure,
            self.signature_of.signature(rouge_type, self.nrefs),
        )
    }

    /// Per-line F1 of one type, each in `[0, 1]`: the sufficient statistic
    /// for resampling the corpus mean (see [`crate::bootstrap`]).
    pub fn sentence_f1(&self, rouge_type: RougeType) -> Vec<f64> {
        self.sentences
            .iter()
            .map(|s| s.get(rouge_type).fmeasure)
            .collect()
    }
}

/// A ROUGE scorer: `Rouge::new(true)` stems like
/// `RougeScorer(types, use_stemmer=True)`.
///
/// ```
/// use tarjoman_eval::rouge::Rouge;
/// let scores = Rouge::new(false).score(
///     "The quick brown fox jumps over the lazy dog",
///     "The quick brown dog jumps on the log.",
/// );
/// assert!((scores.rouge1.precision - 0.75).abs() < 1e-12);
/// assert!((scores.rouge_l.fmeasure - 10.0 / 17.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rouge {
    pub use_stemmer: bool,
}

impl Rouge {
    pub fn new(use_stemmer: bool) -> Self {
        Rouge { use_stemmer }
    }

    fn stem_cache(&self) -> Option<StemCache> {
        self.use_stemmer.then(StemCache::default)
    }

    /// `rouge-score`'s tokenizer: see the module docs.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        tokenize(text, self.use_stemmer)
    }

    /// Scores a prediction against one target (reference).
    pub fn score(&self, target: &str, prediction: &str) -> RougeScores {
        let mut stems = self.stem_cache();
        let target = Tokenized::new(target, stems.as_mut());
        let prediction = Tokenized::new(prediction, stems.as_mut());
        score_tokenized(&target, &prediction)
    }

    /// Scores a prediction against several targets: per type, the target with
    /// the highest F1 (the first on ties). No targets score zero.
    pub fn score_multi<S: AsRef<str>>(&self, targets: &[S], prediction: &str) -> RougeScores {
        let mut stems = self.stem_cache();
        let prediction = Tokenized::new(prediction, stems.as_mut());
        let targets: Vec<Tokenized> = targets
            .iter()
            .map(|t| Tokenized::new(t.as_ref(), stems.as_mut()))
            .collect();
        best_of(&targets, &prediction)
    }

    /// Scores a corpus: `refs` holds reference streams (`refs[k][i]` is the
    /// k-th reference of line i), as sacreBLEU takes them.
    ///
    /// Errors when there is no reference stream, a stream's length differs
    /// from the number of hypotheses, or there is no hypothesis (like the
    /// sacreBLEU metrics of this crate: a mean of nothing is no score).
    pub fn corpus<H: AsRef<str>, R: AsRef<str>>(
        &self,
        hyps: &[H],
        refs: &[Vec<R>],
    ) -> Result<CorpusRouge> {
        if refs.is_empty() {
            return Err(Error::NoReferences);
        }
        if hyps.is_empty() {
            return Err(Error::EmptyCorpus);
        }
        for (k, stream) in refs.iter().enumerate() {
            if stream.len() != hyps.len() {
                return Err(Error::LineCountMismatch {
                    what: format!("reference stream {}", k + 1),
                    expected: hyps.len(),
                    found: stream.len(),
                });
            }
        }
        let mut stems = self.stem_cache();
        let sentences: Vec<RougeScores> = hyps
            .iter()
            .enumerate()
            .map(|(i, hyp)| {
                let prediction = Tokenized::new(hyp.as_ref(), stems.as_mut());
                let targets: Vec<Tokenized> = refs
                    .iter()
                    .map(|stream| Tokenized::new(stream[i].as_ref(), stems.as_mut()))
                    .collect();
                best_of(&targets, &prediction)
            })
            .collect();
        let mut mean = RougeScores::default();
        let n = sentences.len() as f64;
        for rouge_type in RougeType::ALL {
            let sum = sentences.iter().fold((0.0, 0.0, 0.0), |acc, s| {
                let prf = s.get(rouge_type);
                (
                    acc.0 + prf.precision,
                    acc.1 + prf.recall,
                    acc.2 + prf.fmeasure,
                )
            });
            *mean.get_mut(rouge_type) = Prf {
                precision: sum.0 / n,
                recall: sum.1 / n,
                fmeasure: sum.2 / n,
            };
        }
        Ok(CorpusRouge {
            sentences,
            mean,
            signature_of: *self,
            nrefs: refs.len(),
        })
    }

    /// The signature of a corpus ROUGE score, in sacreBLEU's `key:value|...`
    /// style, e.g.
    /// `nrefs:1|rouge:L|stem:no|multiref:max-f1|agg:mean|score:f1x100|compat:rouge-score-0.1.2`:
    /// the type, whether tokens were stemmed, how several references combine
    /// (best F1), how lines combine (mean), what the score is (F1 x 100), and
    /// the `rouge-score` release it matches.
    pub fn signature(&self, rouge_type: RougeType, nrefs: usize) -> String {
        format!("nrefs:{nrefs}|{}", self.signature_fields(rouge_type))
    }

    /// The signature of a bootstrap estimate: `bs:N|seed:S` follow `nrefs`,
    /// as in sacreBLEU's signatures of `--paired-bs` results.
    pub fn bootstrap_signature(
        &self,
        rouge_type: RougeType,
        nrefs: usize,
        config: &BootstrapConfig,
    ) -> String {
        format!(
            "nrefs:{nrefs}|bs:{}|seed:{}|{}",
            config.samples,
            config.seed,
            self.signature_fields(rouge_type)
        )
    }

    fn signature_fields(&self, rouge_type: RougeType) -> String {
        format!(
            "rouge:{}|stem:{}|multiref:max-f1|agg:mean|score:f1x100|compat:rouge-score-{ROUGE_SCORE_VERSION}",
            rouge_type.tag(),
            if self.use_stemmer { "yes" } else { "no" },
        )
    }
}

/// `rouge_score.tokenize.tokenize`: lowercase, split on anything outside
/// `[a-z0-9]`, stem tokens longer than three characters.
pub fn tokenize(text: &str, use_stemmer: bool) -> Vec<String> {
    let mut stems = use_stemmer.then(StemCache::default);
    tokenize_with(text, stems.as_mut())
}

fn tokenize_with(text: &str, stems: Option<&mut StemCache>) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    // Python's `str.lower()` and Rust's `char::to_lowercase` agree on every
    // character that lowercases to ASCII (A-Z, KELVIN SIGN, the `i` of
    // LATIN CAPITAL I WITH DOT ABOVE), the only ones that matter here.
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            current.push(c);
        } else if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    if let Some(stems) = stems {
        for token in &mut tokens {
            if token.len() > 3 {
                *token = stems.stem(token);
            }
        }
        // NLTK's stemmer only removes or appends ASCII letters, so a token
        // never becomes empty or invalid; `rouge-score` filters anyway.
        tokens.retain(|t| !t.is_empty());
    }
    tokens
}

/// Stems already computed: a corpus repeats its words, and stemming is the
/// slowest part of tokenizing.
#[derive(Default)]
struct StemCache(HashMap<String, String>);

impl StemCache {
    fn stem(&mut self, word: &str) -> String {
        if let Some(stem) = self.0.get(word) {
            return stem.clone();
        }
        let stem = stemmer::stem(word);
        self.0.insert(word.to_string(), stem.clone());
        stem
    }
}

/// A text tokenized both whole (ROUGE-N, ROUGE-L) and per sentence
/// (ROUGE-Lsum).
struct Tokenized {
    tokens: Vec<String>,
    sentences: Vec<Vec<String>>,
}

impl Tokenized {
    fn new(text: &str, mut stems: Option<&mut StemCache>) -> Self {
        let tokens = tokenize_with(text, stems.as_deref_mut());
        // `rouge-score` splits on newlines and drops empty sentences; a
        // one-line text is its own single sentence.
        let sentences = if !text.contains('\n') {
            if text.is_empty() {
                Vec::new()
            } else {
                vec![tokens.clone()]
            }
        } else {
            text.split('\n')
                .filter(|s| !s.is_empty())
                .map(|s| tokenize_with(s, stems.as_deref_mut()))
                .collect()
        };
        Tokenized { tokens, sentences }
    }
}

fn best_of(targets: &[Tokenized], prediction: &Tokenized) -> RougeScores {
    let mut best: Option<RougeScores> = None;
    for target in targets {
        let scores = score_tokenized(target, prediction);
        match &mut best {
            None => best = Some(scores),
            Some(best) => {
                for rouge_type in RougeType::ALL {
                    // Strictly greater: the first maximum wins, as np.argmax.
                    if scores.get(rouge_type).fmeasure > best.get(rouge_type).fmeasure {
                        *best.get_mut(rouge_type) = scores.get(rouge_type);
                    }
                }
            }
        }
    }
    best.unwrap_or_default()
}

fn score_tokenized(target: &Tokenized, prediction: &Tokenized) -> RougeScores {
    // Interned to small integers so n-gram and LCS comparisons are cheap.
    let mut vocab = Vocab::default();
    let t = vocab.ids(&target.tokens);
    let p = vocab.ids(&prediction.tokens);
    let t_sents: Vec<Vec<u32>> = target.sentences.iter().map(|s| vocab.ids(s)).collect();
    let p_sents: Vec<Vec<u32>> = prediction.sentences.iter().map(|s| vocab.ids(s)).collect();
    RougeScores {
        rouge1: score_ngrams(&t, &p, 1),
        rouge2: score_ngrams(&t, &p, 2),
        rouge_l: score_lcs(&t, &p),
        rouge_lsum: summary_level_lcs(&t_sents, &p_sents),
    }
}

#[derive(Default)]
struct Vocab<'a> {
    ids: HashMap<&'a str, u32>,
}

impl<'a> Vocab<'a> {
    fn ids(&mut self, tokens: &'a [String]) -> Vec<u32> {
        tokens
            .iter()
            .map(|t| {
                let next = self.ids.len() as u32;
                *self.ids.entry(t.as_str()).or_insert(next)
            })
            .collect()
    }
}

fn ngram_counts(tokens: &[u32], n: usize) -> HashMap<&[u32], usize> {
    let mut counts = HashMap::new();
    if tokens.len() >= n {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

/// `_score_ngrams`: clipped overlap over `max(count, 1)`.
fn score_ngrams(target: &[u32], prediction: &[u32], n: usize) -> Prf {
    let target_grams = ngram_counts(target, n);
    let prediction_grams = ngram_counts(prediction, n);
    let overlap: usize = target_grams
        .iter()
        .map(|(gram, &count)| count.min(prediction_grams.get(gram).copied().unwrap_or(0)))
        .sum();
    let target_total: usize = target_grams.values().sum();
    let prediction_total: usize = prediction_grams.values().sum();
    Prf::new(
        overlap as f64 / prediction_total.max(1) as f64,
        overlap as f64 / target_total.max(1) as f64,
    )
}

/// `_score_lcs`.
fn score_lcs(target: &[u32], prediction: &[u32]) -> Prf {
    if target.is_empty() || prediction.is_empty() {
        return Prf::default();
    }
    let lcs = lcs_length(target, prediction);
    Prf::new(
        lcs as f64 / prediction.len() as f64,
        lcs as f64 / target.len() as f64,
    )
}

/// LCS length in O(min) memory.
fn lcs_length(a: &[u32], b: &[u32]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut row = vec![0usize; b.len() + 1];
    for &x in a {
        for (j, &y) in b.iter().enumerate() {
            row[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(row[j])
            };
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

/// `_lcs_table` + `_backtrack_norec`: the indices into `reference` of one
/// LCS, chosen with `rouge-score`'s tie-breaking (it decides which tokens
/// the union-LCS of ROUGE-Lsum counts).
fn lcs_indices(reference: &[u32], candidate: &[u32]) -> Vec<usize> {
    let cols = candidate.len() + 1;
    let mut table = vec![0u32; (reference.len() + 1) * cols];
    for i in 1..=reference.len() {
        for j in 1..=candidate.len() {
            table[i * cols + j] = if reference[i - 1] == candidate[j - 1] {
                table[(i - 1) * cols + j - 1] + 1
            } else {
                table[(i - 1) * cols + j].max(table[i * cols + j - 1])
            };
        }
    }
    let (mut i, mut j) = (reference.len(), candidate.len());
    let mut lcs = Vec::new();
    while i > 0 && j > 0 {
        if reference[i - 1] == candidate[j - 1] {
            lcs.push(i - 1);
            i -= 1;
            j -= 1;
        } else if table[i * cols + j - 1] > table[(i - 1) * cols + j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    lcs.reverse();
    lcs
}

/// `_summary_level_lcs`: union-LCS of each reference sentence against all
/// candidate sentences, with token counts preventing double counting.
fn summary_level_lcs(reference: &[Vec<u32>], candidate: &[Vec<u32>]) -> Prf {
    if reference.is_empty() || candidate.is_empty() {
        return Prf::default();
    }
    let m: usize = reference.iter().map(Vec::len).sum();
    let n: usize = candidate.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return Prf::default();
    }
    let mut ref_counts: HashMap<u32, usize> = HashMap::new();
    let mut cand_counts: HashMap<u32, usize> = HashMap::new();
    for &t in reference.iter().flatten() {
        *ref_counts.entry(t).or_insert(0) += 1;
    }
    for &t in candidate.iter().flatten() {
        *cand_counts.entry(t).or_insert(0) += 1;
    }
    let mut hits = 0usize;
    for sentence in reference {
        let mut union: Vec<usize> = candidate
            .iter()
            .flat_map(|c| lcs_indices(sentence, c))
            .collect();
        union.sort_unstable();
        union.dedup();
        for index in union {
            let token = sentence[index];
            let (Some(r), Some(c)) = (ref_counts.get_mut(&token), cand_counts.get_mut(&token))
            else {
                continue;
            };
            if *r > 0 && *c > 0 {
                hits += 1;
                *r -= 1;
                *c -= 1;
            }
        }
    }
    Prf::new(hits as f64 / n as f64, hits as f64 / m as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn tokenizer_drops_non_ascii_and_punctuation() {
        assert_eq!(
            tokenize("Hello, WORLD! café 3.5 سلام", false),
            vec!["hello", "world", "caf", "3", "5"]
        );
        // KELVIN SIGN lowercases to an ASCII `k` in Python and Rust alike.
        assert_eq!(tokenize("\u{212A}m", false), vec!["km"]);
        assert!(tokenize("", false).is_empty());
        assert!(tokenize("؟!", true).is_empty());
    }

    #[test]
    fn tokenizer_stems_only_long_tokens() {
        assert_eq!(
            tokenize("was running dies", true),
            vec!["was", "run", "die"]
        );
    }

    /// Numbers from `rouge_scorer_test.py` of rouge-score 0.1.2.
    #[test]
    fn rouge_score_unit_test_values() {
        let rouge = Rouge::new(false);
        let s = rouge.score("testing one two", "testing");
        assert!(close(s.rouge1.precision, 1.0));
        assert!(close(s.rouge1.recall, 1.0 / 3.0));
        assert!(close(s.rouge1.fmeasure, 0.5));

        let s = rouge.score("testing one two", "testing one");
        assert!(close(s.rouge2.precision, 1.0));
        assert!(close(s.rouge2.fmeasure, 2.0 / 3.0));

        // testRougeLSumSentenceSplitting: sentences in another order are a
        // perfect summary for ROUGE-Lsum, not for ROUGE-L.
        let rouge = Rouge::new(true);
        let s = rouge.score(
            "First sentence.\nSecond Sentence.",
            "Second sentence.\nFirst Sentence.",
        );
        assert!(close(s.rouge_lsum.fmeasure, 1.0));
        assert!(close(s.rouge_l.fmeasure, 0.5));
    }

    /// Which of several LCSs the backtrack picks changes the union-LCS; this
    /// pair (found by a random search against rouge-score 0.1.2) scores
    /// P 8/9, R 1 there and P 7/9, R 7/8 if ties go the other way.
    #[test]
    fn lsum_breaks_lcs_ties_like_rouge_score() {
        let s = Rouge::new(false).score("a c a\nd d d b a", "a d d a d\nb a c a");
        assert!(close(s.rouge_lsum.precision, 8.0 / 9.0));
        assert!(close(s.rouge_lsum.recall, 1.0));
    }

    #[test]
    fn lsum_equals_l_on_single_lines() {
        let rouge = Rouge::new(true);
        let s = rouge.score("the cat sat on the mat", "on the mat the cat sat down");
        assert_eq!(s.rouge_l, s.rouge_lsum);
    }

    #[test]
    fn empty_texts_score_zero() {
        let rouge = Rouge::new(false);
        assert_eq!(rouge.score("", "something"), RougeScores::default());
        assert_eq!(rouge.score("something", "!!"), RougeScores::default());
        assert_eq!(rouge.score_multi::<&str>(&[], "x"), RougeScores::default());
    }

    #[test]
    fn multi_reference_takes_best_f_per_type() {
        let rouge = Rouge::new(false);
        let refs = ["a b c d", "c a b d"];
        let s = rouge.score_multi(&refs, "a b d c");
        let first = rouge.score(refs[0], "a b d c");
        let second = rouge.score(refs[1], "a b d c");
        assert!(second.rouge2.fmeasure > first.rouge2.fmeasure);
        assert_eq!(s.rouge2, second.rouge2);

        // Equal F1 from different P and R: the first reference wins.
        let s = rouge.score_multi(&["a b c d", "a"], "a b");
        assert!(close(s.rouge1.fmeasure, 2.0 / 3.0));
        assert!(close(s.rouge1.precision, 1.0));
    }

    #[test]
    fn corpus_checks_lengths() {
        let rouge = Rouge::new(false);
        let err = rouge.corpus(&["a", "b"], &[vec!["a"]]).unwrap_err();
        assert!(matches!(err, Error::LineCountMismatch { .. }), "{err}");
        let err = rouge.corpus::<&str, &str>(&["a"], &[]).unwrap_err();
        assert!(matches!(err, Error::NoReferences), "{err}");
        let err = rouge.corpus::<&str, &str>(&[], &[vec![]]).unwrap_err();
        assert!(matches!(err, Error::EmptyCorpus), "{err}");
    }

    #[test]
    fn corpus_is_mean_of_lines() {
        let rouge = Rouge::new(false);
        let hyps = ["a b c", "x y"];
        let refs = vec![vec!["a b c", "q r"]];
        let c = rouge.corpus(&hyps, &refs).unwrap();
        assert!(close(c.mean.rouge1.fmeasure, 0.5));
        let score = c.score(RougeType::Rouge1);
        assert!(close(score.score, 50.0));
        assert!(
            score.signature.contains("rouge:1|stem:no"),
            "{}",
            score.signature
        );
        assert_eq!(c.sentence_f1(RougeType::Rouge1), vec![1.0, 0.0]);
    }
}
