//! sacreBLEU's reproducibility signatures (`Signature.format()` in
//! [`metrics/base.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/metrics/base.py)).
//!
//! A signature is `key:value` pairs joined by `|`: first the number of
//! references and any resampling settings, then the metric's own keys, and
//! the sacreBLEU version last.

use std::fmt;

/// The sacreBLEU release this crate reproduces: version 2.6.0 from PyPI, whose
/// `sacrebleu/` sources (`metrics/bleu.py`, `metrics/chrf.py`,
/// `metrics/ter.py`, `metrics/lib_ter.py`, `tokenizers/tokenizer_13a.py`,
/// `tokenizers/tokenizer_re.py`, `tokenizers/tokenizer_ter.py`) were mirrored
/// line by line, and which made `tests/fixtures/golden.json`. Signatures carry
/// it, so a number printed here can be compared with one printed by that
/// sacreBLEU.
pub const SACREBLEU_VERSION: &str = "2.6.0";

/// A signature under construction; `Display` gives sacreBLEU's string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Number of references per segment.
    pub nrefs: usize,
    /// `bs:N`, the number of bootstrap resamples, when the score has a
    /// confidence interval or comes from a paired bootstrap test.
    pub n_bootstrap: Option<usize>,
    /// `ar:N`, the number of approximate-randomization trials.
    pub n_approx_rand: Option<usize>,
    /// `seed:S`, the resampling seed (sacreBLEU prints `none` for an unseeded
    /// run, hence a string).
    pub seed: Option<String>,
    /// The metric's own `key:value` pairs, in order.
    pub fields: Vec<(&'static str, String)>,
}

impl Signature {
    pub fn new(nrefs: usize, fields: Vec<(&'static str, String)>) -> Self {
        Signature {
            nrefs,
            n_bootstrap: None,
            n_approx_rand: None,
            seed: None,
            fields,
        }
    }

    /// Adds `bs:{n}|seed:{seed}`, as sacreBLEU does for bootstrap resampling.
    pub fn with_bootstrap(mut self, n: usize, seed: u64) -> Self {
        self.n_bootstrap = Some(n);
        self.seed = Some(seed.to_string());
        self
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nrefs:{}", self.nrefs)?;
        if let Some(n) = self.n_bootstrap {
            write!(f, "|bs:{n}")?;
        }
        if let Some(n) = self.n_approx_rand {
            write!(f, "|ar:{n}")?;
        }
        if let Some(seed) = &self.seed {
            write!(f, "|seed:{seed}")?;
        }
        for (key, value) in &self.fields {
            write!(f, "|{key}:{value}")?;
        }
        write!(f, "|version:{SACREBLEU_VERSION}")
    }
}

/// sacreBLEU prints booleans as `yes`/`no`.
pub(crate) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_matches_sacrebleu() {
        let sig = Signature::new(2, vec![("case", "mixed".into()), ("eff", yes_no(false))])
            .with_bootstrap(1000, 12345);
        assert_eq!(
            sig.to_string(),
            "nrefs:2|bs:1000|seed:12345|case:mixed|eff:no|version:2.6.0"
        );
    }
}
