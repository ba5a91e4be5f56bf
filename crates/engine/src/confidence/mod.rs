//! How far to trust each translated sentence: signals taken while it was
//! decoded and checked ([`Signals`]), and one calibrated number made from
//! them ([`Calibration::confidence`]).
//!
//! The signals need nothing but the run itself: the model's probability
//! of its own words (their mean, and the least likely one), how long the
//! translation is beside its source, what of the source's numbers and
//! names it kept or added, and what the checks found. A logistic model
//! fitted on the development data (`scripts/fit_confidence.py`, its
//! coefficients in `calibration.json`) turns them into the probability
//! that the sentence scores at least [`Calibration::threshold`] sentence
//! chrF++ against a human translation.

use serde::{Deserialize, Serialize};

/// What a translated sentence (or several pooled, for a line of a test
/// set) showed while it was made. Counts, so that pooling adds them up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// Tokens whose probability the model reported (the output's, and its
    /// end token); 0 when the decoding gave none (beam search).
    pub tokens: usize,
    /// Sum of their natural-log probabilities.
    pub logprob_sum: f64,
    /// The lowest of them (0 when there are none).
    pub logprob_min: f64,
    /// Characters of the source and of the translation.
    pub source_chars: usize,
    pub output_chars: usize,
    /// Numbers of the source, those the translation lacks, and those it
    /// has that the source does not.
    pub numbers: usize,
    pub numbers_missing: usize,
    pub numbers_added: usize,
    /// Glossary terms and place names of the source, and those the
    /// translation lacks.
    pub names: usize,
    pub names_missing: usize,
    /// Checks the kept translation still fails.
    pub failures: usize,
    /// Sentences whose first translation failed a check and were
    /// translated again.
    pub retried: usize,
    /// Sentences pooled (1 for one sentence).
    pub sentences: usize,
}

impl Signals {
    /// The signals of one translation of `source`, decoded with token
    /// log-probabilities `logprobs`.
    pub fn new(
        source: &str,
        translation: &str,
        logprobs: &[f32],
        names: usize,
        names_missing: usize,
        failures: usize,
        retried: bool,
    ) -> Self {
        let known = tarjoman_text::numbers::extract_numbers(source);
        let found = tarjoman_text::numbers::extract_numbers(translation);
        Self {
            tokens: logprobs.len(),
            logprob_sum: logprobs.iter().map(|&l| f64::from(l)).sum(),
            logprob_min: logprobs
                .iter()
                .map(|&l| f64::from(l))
                .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.min(l))))
                .unwrap_or(0.0),
            source_chars: source.trim().chars().count(),
            output_chars: translation.trim().chars().count(),
            numbers: known.len(),
            numbers_missing: known.iter().filter(|n| !found.contains(n)).count(),
            numbers_added: found.iter().filter(|n| !known.contains(n)).count(),
            names,
            names_missing,
            failures,
            retried: usize::from(retried),
            sentences: 1,
        }
    }

    /// The signals of several sentences taken as one (a line of a test
    /// set): counts add up, the lowest probability is the lowest of all.
    pub fn pool<'a>(all: impl IntoIterator<Item = &'a Signals>) -> Option<Signals> {
        all.into_iter().fold(None, |acc, s| {
            Some(match acc {
                None => s.clone(),
                Some(a) => Signals {
                    tokens: a.tokens + s.tokens,
                    logprob_sum: a.logprob_sum + s.logprob_sum,
                    logprob_min: match (a.tokens, s.tokens) {
                        (0, _) => s.logprob_min,
                        (_, 0) => a.logprob_min,
                        _ => a.logprob_min.min(s.logprob_min),
                    },
                    source_chars: a.source_chars + s.source_chars,
                    output_chars: a.output_chars + s.output_chars,
                    numbers: a.numbers + s.numbers,
                    numbers_missing: a.numbers_missing + s.numbers_missing,
                    numbers_added: a.numbers_added + s.numbers_added,
                    names: a.names + s.names,
                    names_missing: a.names_missing + s.names_missing,
                    failures: a.failures + s.failures,
                    retried: a.retried + s.retried,
                    sentences: a.sentences + s.sentences,
                },
            })
        })
    }

    /// The mean token log-probability (`None` without token probabilities).
    pub fn mean_logprob(&self) -> Option<f64> {
        (self.tokens > 0).then(|| self.logprob_sum / self.tokens as f64)
    }

    /// The features the calibration weighs, in the order of
    /// [`FEATURES`]. Without token probabilities the two probability
    /// features are `None`, and [`Calibration::confidence`] puts the
    /// fitted data's mean in their place.
    pub fn features(&self) -> [Option<f64>; FEATURES.len()] {
        let ratio = (self.output_chars as f64 + 1.0) / (self.source_chars as f64 + 1.0);
        let per = |n: usize| n as f64 / self.sentences.max(1) as f64;
        [
            self.mean_logprob(),
            (self.tokens > 0).then_some(self.logprob_min.max(MIN_LOGPROB_FLOOR)),
            Some(ratio.ln()),
            Some(ratio.ln().powi(2)),
            Some((1.0 + per(self.source_chars)).ln()),
            Some(per(self.numbers_missing)),
            Some(per(self.numbers_added)),
            Some(per(self.names_missing)),
            Some(per(self.failures)),
            Some(per(self.retried)),
        ]
    }
}

/// The lowest token log-probability is clipped here: below it, a token
/// is as surprising as it gets (and -inf would break the fit).
pub const MIN_LOGPROB_FLOOR: f64 = -15.0;

/// The features' names, as `calibration.json` lists them.
pub const FEATURES: [&str; 10] = [
    "mean_logprob",
    "min_logprob",
    "log_length_ratio",
    "log_length_ratio_squared",
    "log_source_chars",
    "numbers_missing",
    "numbers_added",
    "names_missing",
    "failures",
    "retried",
];

/// A fitted logistic model over standardized [`Signals::features`].
#[derive(Debug, Clone, Deserialize)]
pub struct Calibration {
    /// What the probability is of: a sentence chrF++ at least this high.
    pub threshold: f64,
    /// The model whose signals were fitted.
    pub model: String,
    pub features: Vec<String>,
    /// Per feature: the fitted data's mean and standard deviation.
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub weights: Vec<f64>,
    pub bias: f64,
}

/// The calibration fitted for the default model.
const CALIBRATION: &str = include_str!("calibration.json");

impl Calibration {
    /// The built-in calibration. It is checked by the tests, so a broken
    /// file never ships; should it fail anyway, confidence is left out.
    pub fn builtin() -> Option<&'static Calibration> {
        static BUILTIN: std::sync::OnceLock<Option<Calibration>> = std::sync::OnceLock::new();
        BUILTIN
            .get_or_init(|| Calibration::parse(CALIBRATION).ok())
            .as_ref()
    }

    /// Reads a calibration, checking that it weighs exactly [`FEATURES`].
    pub fn parse(json: &str) -> Result<Calibration, String> {
        let c: Calibration = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if c.features != FEATURES {
            return Err(format!(
                "the calibration weighs {:?}, this build computes {:?}",
                c.features, FEATURES
            ));
        }
        let n = FEATURES.len();
        if [c.mean.len(), c.scale.len(), c.weights.len()] != [n; 3] {
            return Err(format!(
                "the calibration needs {n} means, scales and weights"
            ));
        }
        if c.scale.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err("every scale must be positive".into());
        }
        Ok(c)
    }

    /// The calibrated confidence of `signals`, in [0, 1].
    pub fn confidence(&self, signals: &Signals) -> f64 {
        let z: f64 = signals
            .features()
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let x = x.unwrap_or(self.mean[i]);
                self.weights[i] * (x - self.mean[i]) / self.scale[i]
            })
            .sum::<f64>()
            + self.bias;
        1.0 / (1.0 + (-z).exp())
    }
}

/// The built-in calibration's confidence in `signals`, rounded to three
/// places (`None` if the calibration is unusable).
pub fn confidence(signals: &Signals) -> Option<f64> {
    Calibration::builtin().map(|c| (c.confidence(signals) * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests;
