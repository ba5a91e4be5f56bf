//! The score every metric returns, and the metric names.
//!
//! [`Score`]'s `Display` is sacreBLEU's one-line format
//! (`Score.format()` in
//! [`metrics/base.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/metrics/base.py)),
//! e.g. `BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 34.12 ...`.

use std::fmt;

use crate::details::{BleuDetails, ChrfDetails, Details, TerDetails};
use crate::{Error, Result};

/// One metric's result: its name as sacreBLEU prints it (`BLEU`, `chrF2`,
/// `chrF2++`, `TER`, ...), the number on sacreBLEU's 0-100 scale, the
/// reproducibility signature, and the metric's own details.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub name: String,
    pub score: f64,
    pub signature: String,
    pub details: Details,
}

impl Score {
    /// A score without metric details.
    pub fn new(name: impl Into<String>, score: f64, signature: String) -> Self {
        Score {
            name: name.into(),
            score,
            signature,
            details: Details::None,
        }
    }

    /// Which of this crate's MT metrics made the score, if any.
    pub fn metric(&self) -> Option<Metric> {
        match &self.details {
            Details::Bleu(_) => Some(Metric::Bleu),
            Details::Chrf(d) if d.word_order == 0 => Some(Metric::Chrf),
            Details::Chrf(_) => Some(Metric::ChrfPlusPlus),
            Details::Ter(_) => Some(Metric::Ter),
            Details::None => None,
        }
    }

    /// BLEU's details, when this is a BLEU score.
    pub fn bleu(&self) -> Option<&BleuDetails> {
        match &self.details {
            Details::Bleu(d) => Some(d),
            _ => None,
        }
    }

    /// chrF's details, when this is a chrF or chrF++ score.
    pub fn chrf(&self) -> Option<&ChrfDetails> {
        match &self.details {
            Details::Chrf(d) => Some(d),
            _ => None,
        }
    }

    /// TER's details, when this is a TER score.
    pub fn ter(&self) -> Option<&TerDetails> {
        match &self.details {
            Details::Ter(d) => Some(d),
            _ => None,
        }
    }
}

impl fmt::Display for Score {
    /// sacreBLEU's `Score.format()` with its default width of 2 decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.signature.is_empty() {
            write!(f, "|{}", self.signature)?;
        }
        write!(f, " = {:.2}", self.score)?;
        if let Details::Bleu(d) = &self.details {
            write!(f, " {}", d.verbose())?;
        }
        Ok(())
    }
}

/// The MT metrics of this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    Bleu,
    /// chrF: character n-grams only (`nw:0`).
    Chrf,
    /// chrF++: character n-grams plus word uni- and bigrams (`nw:2`).
    ChrfPlusPlus,
    Ter,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::Bleu,
        Metric::Chrf,
        Metric::ChrfPlusPlus,
        Metric::Ter,
    ];

    /// The lowercase name used on the command line: `bleu`, `chrf`, `chrf++`, `ter`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Bleu => "bleu",
            Metric::Chrf => "chrf",
            Metric::ChrfPlusPlus => "chrf++",
            Metric::Ter => "ter",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Metric {
    type Err = Error;

    /// Case-insensitive; `chrfpp` and `chrf2++` are accepted for chrF++.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "bleu" => Ok(Metric::Bleu),
            "chrf" | "chrf2" => Ok(Metric::Chrf),
            "chrf++" | "chrfpp" | "chrf2++" => Ok(Metric::ChrfPlusPlus),
            "ter" => Ok(Metric::Ter),
            _ => Err(Error::UnknownMetric(s.to_string())),
        }
    }
}
