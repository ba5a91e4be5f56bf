//! Paired bootstrap resampling, as `sacrebleu --paired-bs` does it
//! (`sacrebleu/significance.py` of sacreBLEU 2.6.0: `_paired_bs_test`,
//! `_bootstrap_resample`, `estimate_ci`, `_compute_p_value`), with the same
//! random draws.
//!
//! Method: P. Koehn, "Statistical Significance Tests for Machine Translation
//! Evaluation", EMNLP 2004, <https://aclanthology.org/W04-3250/>, in the
//! variant of Moses' `bootstrap-hypothesis-difference-significance.pl`.
//!
//! sacreBLEU draws 1,000 resamples of the line indices with
//! `np.random.default_rng(12345).choice(n, size=(1000, n))`, and uses the
//! same index matrix for every system. [`NumpyRng`] reimplements exactly that
//! generator (NumPy's `SeedSequence` + `PCG64` + Lemire's bounded integers),
//! so the resamples here are index for index sacreBLEU's, and means,
//! confidence intervals and p-values agree with it up to floating point
//! (sacreBLEU sums statistics in float32). (Not MT19937: that is the legacy
//! `np.random.RandomState`, which sacreBLEU 2.x no longer uses.)
//!
//! For each system, on every resample the corpus score is recomputed from the
//! resampled lines' sufficient statistics ([`Resample`]); then
//! - mean: the mean of the 1,000 resampled scores;
//! - 95% CI: half the distance between the 26th and the 975th smallest
//!   (`n // 40` and `n - n // 40 - 1`), reported as `mean ± ci`;
//! - p-value (every system but the first, the baseline): with `d_i` the
//!   absolute difference between system and baseline on resample `i` and `D`
//!   the absolute difference of the full-corpus scores, the share of
//!   resamples with `d_i - mean(d) > D`, as `(count + 1) / (samples + 1)`.
//!   Small p: the difference is unlikely to be luck of the test set. (A
//!   system identical to the baseline also gets the smallest p, 1/1001:
//!   no resampled difference exceeds a real difference of 0. sacreBLEU
//!   does the same.)

use crate::{CorpusMetric, Error, Result, SufficientStats};

/// sacreBLEU's number of resamples for `--paired-bs`.
pub const DEFAULT_SAMPLES: usize = 1000;
/// sacreBLEU's default seed (`SACREBLEU_SEED`).
pub const DEFAULT_SEED: u64 = 12345;

/// Resampling settings; the default is sacreBLEU's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootstrapConfig {
    pub samples: usize,
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            samples: DEFAULT_SAMPLES,
            seed: DEFAULT_SEED,
        }
    }
}

/// A system's corpus score that can be recomputed on a resample of its lines.
pub trait Resample {
    /// The number of lines (segments).
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The corpus score on all lines, on the metric's usual scale.
    fn score(&self) -> f64;

    /// The corpus score on the lines `indices` (with repeats), which has as
    /// many entries as [`Resample::len`].
    fn score_sample(&self, indices: &[usize]) -> f64;
}

/// Any [`CorpusMetric`] of this crate (BLEU, chrF, chrF++, TER) over its
/// per-segment statistics: resampled statistics are summed and rescored with
/// [`CorpusMetric::score_from_stats`], as sacreBLEU does.
///
/// ```
/// use tarjoman_eval::bootstrap::{paired_bootstrap, BootstrapConfig, MetricResample};
/// use tarjoman_eval::{BleuConfig, CorpusMetric};
/// let refs = vec![vec!["the cat sat on the mat", "a dog barks", "it rains"]];
/// let a = ["the cat sat on a mat", "a dog barks", "it is raining"];
/// let b = ["a cat sits", "the dog barked", "it rains"];
/// let bleu = BleuConfig::default();
/// let a = MetricResample::new(bleu.clone(), bleu.segment_stats(&a, &refs)?, 1);
/// let b = MetricResample::new(bleu.clone(), bleu.segment_stats(&b, &refs)?, 1);
/// let est = paired_bootstrap(&[&a, &b], &BootstrapConfig::default())?;
/// assert!(est[1].p_value.is_some());
/// # Ok::<(), tarjoman_eval::Error>(())
/// ```
pub struct MetricResample<M: CorpusMetric> {
    metric: M,
    stats: Vec<M::Stats>,
    nrefs: usize,
}

impl<M: CorpusMetric> MetricResample<M> {
    /// `stats` from [`CorpusMetric::segment_stats`] with `nrefs` reference
    /// streams.
    pub fn new(metric: M, stats: Vec<M::Stats>, nrefs: usize) -> Self {
        MetricResample {
            metric,
            stats,
            nrefs,
        }
    }

    fn score_of(&self, indices: impl Iterator<Item = usize>) -> f64 {
        let Some(first) = self.stats.first() else {
            return f64::NAN;
        };
        let mut total = first.zero_like();
        for i in indices {
            total.accumulate(&self.stats[i]);
        }
        self.metric.score_from_stats(&total, self.nrefs).score
    }
}

impl<M: CorpusMetric> Resample for MetricResample<M> {
    fn len(&self) -> usize {
        self.stats.len()
    }

    fn score(&self) -> f64 {
        self.score_of(0..self.stats.len())
    }

    fn score_sample(&self, indices: &[usize]) -> f64 {
        self.score_of(indices.iter().copied())
    }
}

/// A mean of per-line values times `scale` (ROUGE's corpus score is the mean
/// F1 x 100): a [`Resample`] whose resampled score is the mean of the
/// resampled lines.
pub struct MeanOf {
    values: Vec<f64>,
    scale: f64,
}

impl MeanOf {
    pub fn new(values: Vec<f64>, scale: f64) -> Self {
        MeanOf { values, scale }
    }
}

impl Resample for MeanOf {
    fn len(&self) -> usize {
        self.values.len()
    }

    fn score(&self) -> f64 {
        self.score_sample(&(0..self.values.len()).collect::<Vec<_>>())
    }

    fn score_sample(&self, indices: &[usize]) -> f64 {
        if indices.is_empty() {
            return 0.0;
        }
        let sum: f64 = indices.iter().map(|&i| self.values[i]).sum();
        self.scale * sum / indices.len() as f64
    }
}

/// One system's bootstrap result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The score on the whole test set.
    pub score: f64,
    /// The mean of the resampled scores.
    pub mean: f64,
    /// Half-width of the 95% confidence interval around `mean`.
    pub ci: f64,
    /// Paired p-value against the first system; `None` for the first.
    pub p_value: Option<f64>,
}

/// Runs the paired bootstrap test over `systems`, the first being the
/// baseline, exactly as `sacrebleu --paired-bs` (see the module docs).
///
/// Errors when there is no system, the systems differ in length, or they
/// have no line.
pub fn paired_bootstrap(
    systems: &[&dyn Resample],
    config: &BootstrapConfig,
) -> Result<Vec<Estimate>> {
    let Some(first) = systems.first() else {
        return Err(Error::EmptyCorpus);
    };
    let n = first.len();
    if n == 0 {
        return Err(Error::EmptyCorpus);
    }
    for (k, system) in systems.iter().enumerate().skip(1) {
        if system.len() != n {
            return Err(Error::LineCountMismatch {
                what: format!("system {}", k + 1),
                expected: n,
                found: system.len(),
            });
        }
    }
    // sacreBLEU draws one (samples x n) index matrix, row by row, and every
    // system (the baseline in `_bootstrap_resample`, the others in
    // `_paired_bs_test`, each from a fresh `default_rng(seed)`) sees the
    // same one: so one stream of rows serves all.
    let mut rng = NumpyRng::new(config.seed);
    let mut indices = vec![0usize; n];
    let mut resampled: Vec<Vec<f64>> = vec![Vec::with_capacity(config.samples); systems.len()];
    for _ in 0..config.samples {
        for index in indices.iter_mut() {
            *index = rng.below(n);
        }
        for (system, scores) in systems.iter().zip(&mut resampled) {
            scores.push(system.score_sample(&indices));
        }
    }

    let baseline_score = first.score();
    let baseline_scores = &resampled[0];
    let mut estimates = Vec::with_capacity(systems.len());
    for (k, (system, scores)) in systems.iter().zip(&resampled).enumerate() {
        let score = system.score();
        let (mean, ci) = estimate_ci(scores);
        let p_value = (k > 0).then(|| {
            let diffs: Vec<f64> = scores
                .iter()
                .zip(baseline_scores)
                .map(|(s, b)| (s - b).abs())
                .collect();
            p_value(&diffs, (baseline_score - score).abs())
        });
        estimates.push(Estimate {
            score,
            mean,
            ci,
            p_value,
        });
    }
    Ok(estimates)
}

/// sacreBLEU's `estimate_ci`: the mean of `scores` and half the width of the
/// interval between the `n // 40`-th and `(n - n // 40 - 1)`-th smallest
/// (the central 95%). `(NaN, NaN)` for no scores.
pub fn estimate_ci(scores: &[f64]) -> (f64, f64) {
    if scores.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let lower = n / 40;
    let upper = n - lower - 1;
    let mean = sorted.iter().sum::<f64>() / n as f64;
    (mean, 0.5 * (sorted[upper] - sorted[lower]))
}

/// sacreBLEU's `_compute_p_value` for the paired bootstrap: the resampled
/// absolute differences are centered on their mean, and the p-value is the
/// share above the real difference, with add-one smoothing.
fn p_value(sample_diffs: &[f64], real_diff: f64) -> f64 {
    let n = sample_diffs.len();
    if n == 0 {
        return 1.0;
    }
    let mean = sample_diffs.iter().sum::<f64>() / n as f64;
    let above = sample_diffs
        .iter()
        .filter(|&&d| d - mean > real_diff)
        .count();
    (above + 1) as f64 / (n + 1) as f64
}

/// NumPy's default generator, `np.random.default_rng(seed)`: `PCG64`
/// (PCG XSL RR 128/64) seeded through `SeedSequence`, with NumPy's buffered
/// 32-bit draws and Lemire's bounded integers, so that [`NumpyRng::below`]
/// gives the same numbers as `Generator.integers(0, n)` and
/// `Generator.choice(n, replace=True)`.
///
/// Sources: `numpy/random/bit_generator.pyx` (`SeedSequence`),
/// `numpy/random/src/pcg64/pcg64.h`, and
/// `numpy/random/src/distributions/distributions.c`
/// (`buffered_bounded_lemire_uint32`); `scripts/bootstrap_golden.py` checks
/// the draws against NumPy.
#[derive(Debug, Clone)]
pub struct NumpyRng {
    state: u128,
    increment: u128,
    /// The high half of the last 64-bit draw, which NumPy hands out as the
    /// next 32-bit draw.
    spare: Option<u32>,
}

const PCG_MULTIPLIER: u128 = (2549297995355413924u128 << 64) | 4865540595714422341u128;

impl NumpyRng {
    /// `np.random.default_rng(seed)`.
    pub fn new(seed: u64) -> Self {
        let words = seed_sequence(seed, 8);
        let word64 = |i: usize| u64::from(words[2 * i]) | (u64::from(words[2 * i + 1]) << 32);
        let init_state = (u128::from(word64(0)) << 64) | u128::from(word64(1));
        let init_seq = (u128::from(word64(2)) << 64) | u128::from(word64(3));
        // pcg_setseq_128_srandom_r
        let mut rng = NumpyRng {
            state: 0,
            increment: (init_seq << 1) | 1,
            spare: None,
        };
        rng.step();
        rng.state = rng.state.wrapping_add(init_state);
        rng.step();
        rng
    }

    fn step(&mut self) {
        self.state = self
            .state
            .wrapping_mul(PCG_MULTIPLIER)
            .wrapping_add(self.increment);
    }

    /// `PCG64.random_raw()`.
    pub fn next_u64(&mut self) -> u64 {
        self.step();
        let xored = ((self.state >> 64) as u64) ^ (self.state as u64);
        xored.rotate_right((self.state >> 122) as u32)
    }

    /// NumPy's `next_uint32`: the low half of a 64-bit draw, and the high
    /// half on the next call.
    pub fn next_u32(&mut self) -> u32 {
        if let Some(spare) = self.spare.take() {
            return spare;
        }
        let next = self.next_u64();
        self.spare = Some((next >> 32) as u32);
        next as u32
    }

    /// A uniform integer in `[0, n)`, as `Generator.integers(0, n)`; 0 when
    /// `n` is 0 or 1 (NumPy draws nothing then either).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let range = (n - 1) as u64;
        if range > u64::from(u32::MAX) {
            // NumPy's 64-bit Lemire path; line counts never get here.
            return self.below_u64(range) as usize;
        }
        let range = range as u32;
        if range == u32::MAX {
            return self.next_u32() as usize;
        }
        let excl = u64::from(range) + 1;
        let mut m = u64::from(self.next_u32()) * excl;
        let mut leftover = m as u32;
        if u64::from(leftover) < excl {
            let threshold = ((u32::MAX - range) as u64 % excl) as u32;
            while leftover < threshold {
                m = u64::from(self.next_u32()) * excl;
                leftover = m as u32;
            }
        }
        (m >> 32) as usize
    }

    /// `bounded_lemire_uint64` for ranges beyond 32 bits.
    fn below_u64(&mut self, range: u64) -> u64 {
        let excl = range.wrapping_add(1);
        if excl == 0 {
            return self.next_u64();
        }
        let mut m = u128::from(self.next_u64()) * u128::from(excl);
        let mut leftover = m as u64;
        if leftover < excl {
            let threshold = (u64::MAX - range) % excl;
            while leftover < threshold {
                m = u128::from(self.next_u64()) * u128::from(excl);
                leftover = m as u64;
            }
        }
        (m >> 64) as u64
    }
}

/// `SeedSequence(seed).generate_state(n_words, np.uint32)` with the default
/// pool size of 4 and no spawn key.
fn seed_sequence(seed: u64, n_words: usize) -> Vec<u32> {
    const INIT_A: u32 = 0x43b0_d7e5;
    const MULT_A: u32 = 0x931e_8875;
    const INIT_B: u32 = 0x8b51_f9dd;
    const MULT_B: u32 = 0x58f3_8ded;
    const MIX_MULT_L: u32 = 0xca01_f9dd;
    const MIX_MULT_R: u32 = 0x4973_f715;
    const POOL: usize = 4;

    // The seed as little-endian 32-bit words; 0 is one word.
    let entropy: Vec<u32> = if seed >> 32 == 0 {
        vec![seed as u32]
    } else {
        vec![seed as u32, (seed >> 32) as u32]
    };
    let mut hash_const = INIT_A;
    let mut hashmix = |value: u32| {
        let mut value = value ^ hash_const;
        hash_const = hash_const.wrapping_mul(MULT_A);
        value = value.wrapping_mul(hash_const);
        value ^ (value >> 16)
    };
    let mix = |x: u32, y: u32| {
        let result = MIX_MULT_L
            .wrapping_mul(x)
            .wrapping_sub(MIX_MULT_R.wrapping_mul(y));
        result ^ (result >> 16)
    };
    let mut pool = [0u32; POOL];
    for (i, slot) in pool.iter_mut().enumerate() {
        *slot = hashmix(entropy.get(i).copied().unwrap_or(0));
    }
    for src in 0..POOL {
        for dst in 0..POOL {
            if src != dst {
                pool[dst] = mix(pool[dst], hashmix(pool[src]));
            }
        }
    }
    for &word in entropy.iter().skip(POOL) {
        for slot in pool.iter_mut() {
            *slot = mix(*slot, hashmix(word));
        }
    }

    let mut hash_const = INIT_B;
    (0..n_words)
        .map(|i| {
            let mut value = pool[i % POOL] ^ hash_const;
            hash_const = hash_const.wrapping_mul(MULT_B);
            value = value.wrapping_mul(hash_const);
            value ^ (value >> 16)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `np.random.SeedSequence(12345).generate_state(4, np.uint64)` and
    /// `np.random.PCG64(12345).random_raw(3)`, NumPy 2.4.
    #[test]
    fn seeding_and_raw_draws_match_numpy() {
        let words = seed_sequence(12345, 8);
        let word64 = |i: usize| u64::from(words[2 * i]) | (u64::from(words[2 * i + 1]) << 32);
        assert_eq!(
            [word64(0), word64(1), word64(2), word64(3)],
            [
                13091511679009522556,
                13538552136045918767,
                7269824232120749972,
                4520223790601600371
            ]
        );
        let mut rng = NumpyRng::new(12345);
        assert_eq!(
            [rng.next_u64(), rng.next_u64(), rng.next_u64()],
            [
                4193609425186963869,
                5843160025838961886,
                14708796524633321433
            ]
        );
    }

    #[test]
    fn ci_uses_sacrebleu_order_statistics() {
        let scores: Vec<f64> = (0..1000).map(f64::from).collect();
        let (mean, ci) = estimate_ci(&scores);
        assert_eq!(mean, 499.5);
        // sorted[974] - sorted[25] = 949
        assert_eq!(ci, 474.5);
    }

    #[test]
    fn identical_systems_are_not_significant() {
        let a = MeanOf::new((0..50).map(|i| f64::from(i % 7)).collect(), 1.0);
        let b = MeanOf::new((0..50).map(|i| f64::from(i % 7)).collect(), 1.0);
        let est = paired_bootstrap(&[&a, &b], &BootstrapConfig::default()).unwrap();
        assert_eq!(est[0].p_value, None);
        // All differences are 0 and none exceeds the real difference 0, so
        // sacreBLEU's formula gives its smallest p-value, 1/1001, to a system
        // identical to the baseline. Faithful, if surprising.
        assert_eq!(est[1].p_value, Some(1.0 / 1001.0));
        assert_eq!(est[0].mean, est[1].mean);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let a = MeanOf::new(vec![1.0, 2.0], 1.0);
        let b = MeanOf::new(vec![1.0], 1.0);
        let empty = MeanOf::new(vec![], 1.0);
        let cfg = BootstrapConfig::default();
        assert!(matches!(
            paired_bootstrap(&[&a, &b], &cfg),
            Err(Error::LineCountMismatch { .. })
        ));
        assert!(matches!(
            paired_bootstrap(&[], &cfg),
            Err(Error::EmptyCorpus)
        ));
        assert!(matches!(
            paired_bootstrap(&[&empty], &cfg),
            Err(Error::EmptyCorpus)
        ));
    }
}
