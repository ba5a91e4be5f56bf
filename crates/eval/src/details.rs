//! What each metric reports besides its number, and [`Details`], the enum a
//! [`Score`](crate::Score) carries them in.
//!
//! A leaf module: the metric modules (`bleu`, `chrf`, `ter`) build these and
//! `score` reads them, so neither side depends on the other.

/// Metric-specific numbers behind a [`Score`](crate::Score).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Details {
    /// No details (scores built with [`Score::new`](crate::Score::new)).
    #[default]
    None,
    Bleu(BleuDetails),
    Chrf(ChrfDetails),
    Ter(TerDetails),
}

/// BLEU's maximum n-gram order (sacreBLEU's `MAX_NGRAM_ORDER`).
pub const MAX_NGRAM_ORDER: usize = 4;

/// What sacreBLEU's `BLEUScore` reports besides the score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BleuDetails {
    /// Clipped n-gram matches (before any add-k smoothing).
    pub counts: [u64; MAX_NGRAM_ORDER],
    /// Hypothesis n-grams (before any add-k smoothing).
    pub totals: [u64; MAX_NGRAM_ORDER],
    /// Smoothed precisions in percent.
    pub precisions: [f64; MAX_NGRAM_ORDER],
    /// Brevity penalty.
    pub bp: f64,
    pub sys_len: u64,
    pub ref_len: u64,
}

impl BleuDetails {
    /// Hypothesis length over reference length (0 when the reference is empty).
    pub fn ratio(&self) -> f64 {
        if self.ref_len == 0 {
            0.0
        } else {
            self.sys_len as f64 / self.ref_len as f64
        }
    }

    /// sacreBLEU's verbose part:
    /// `60.0/40.0/30.0/20.0 (BP = 1.000 ratio = 1.000 hyp_len = 9 ref_len = 9)`.
    pub fn verbose(&self) -> String {
        let precisions: Vec<String> = self.precisions.iter().map(|p| format!("{p:.1}")).collect();
        format!(
            "{} (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
            precisions.join("/"),
            self.bp,
            self.ratio(),
            self.sys_len,
            self.ref_len
        )
    }
}

/// What sacreBLEU's `CHRFScore` reports besides the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChrfDetails {
    pub char_order: usize,
    pub word_order: usize,
    pub beta: u32,
}

/// What sacreBLEU's `TERScore` reports besides the score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TerDetails {
    pub num_edits: u64,
    pub ref_length: f64,
}
