//! Machine-translation and summarization metrics for tarjoman, with numbers
//! identical to the reference tools.
//!
//! BLEU, chrF, chrF++ and TER reproduce sacreBLEU 2.6.0
//! (<https://github.com/mjpost/sacrebleu>, Post 2018,
//! <https://aclanthology.org/W18-6319/>) to the last bit, signatures
//! included; `tests/golden.rs` checks them against values sacreBLEU computed
//! (`scripts/eval_golden.py`). Each metric module links the sacreBLEU source
//! file it mirrors.
//!
//! ```
//! use tarjoman_eval::{corpus_bleu, corpus_ter};
//! let hyps = ["The cat sat on the mat."];
//! let refs = [vec!["The cat sat on a mat."]];
//! let bleu = corpus_bleu(&hyps, &refs).unwrap();
//! assert_eq!(bleu.signature, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
//! let ter = corpus_ter(&hyps, &refs).unwrap();
//! assert_eq!(ter.ter().unwrap().num_edits, 1);
//! ```
//!
//! Every corpus metric is a [`CorpusMetric`]: per-segment sufficient
//! statistics that add up, and a score computed from their sum, which is
//! what bootstrap resampling needs.

#![forbid(unsafe_code)]

pub mod bleu;
pub mod bootstrap;
pub mod chrf;
pub mod correlation;
mod details;
mod error;
mod hash;
pub mod io;
pub mod pystr;
pub mod report;
pub mod rouge;
mod score;
pub mod signature;
mod stats;
pub mod stemmer;
pub mod ter;
pub mod tokenizer;

pub use bleu::{corpus_bleu, sentence_bleu, BleuConfig, BleuDetails, BleuStats, Smoothing};
pub use chrf::{
    corpus_chrf, corpus_chrf_pp, sentence_chrf, sentence_chrf_pp, ChrfConfig, ChrfDetails,
    ChrfStats, NgramMatches,
};
pub use details::Details;
pub use error::{Error, Result};
pub use io::{check_aligned, lines_from_bytes, read_lines};
pub use score::{Metric, Score};
pub use signature::{Signature, SACREBLEU_VERSION};
pub use stats::{sum, CorpusMetric, SufficientStats};
pub use ter::{corpus_ter, sentence_ter, TerConfig, TerDetails, TerStats};
pub use tokenizer::Tokenizer;
