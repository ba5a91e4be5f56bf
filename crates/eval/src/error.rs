//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading or scoring a corpus.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A line of a file is not UTF-8.
    #[error("{}: line {line} is not valid UTF-8", path.display())]
    InvalidUtf8 {
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        #[source]
        source: std::str::Utf8Error,
    },

    /// A hypothesis file and a reference file have different line counts.
    #[error(
        "{} has {hyp_lines} lines but {} has {ref_lines}: hypotheses and references must be \
         aligned line by line",
        hyp_path.display(),
        ref_path.display()
    )]
    FileLineCountMismatch {
        hyp_path: PathBuf,
        hyp_lines: usize,
        ref_path: PathBuf,
        ref_lines: usize,
    },

    /// An in-memory stream (a reference set, usually) is not aligned with the
    /// hypotheses.
    #[error("{what} has {found} lines, expected {expected} (one per hypothesis)")]
    LineCountMismatch {
        what: String,
        expected: usize,
        found: usize,
    },

    /// A metric was asked to score without any reference.
    #[error("no reference given")]
    NoReferences,

    /// A corpus metric was asked to score zero hypotheses.
    #[error("empty corpus: there are no hypotheses to score")]
    EmptyCorpus,

    /// A metric name that this crate does not know.
    #[error("unknown metric {0:?}")]
    UnknownMetric(String),

    /// TER's edit-distance trace reached a cell outside its beam. sacreBLEU
    /// raises in the same place; with the beam rules in `ter.rs` it should not
    /// happen, so seeing this is a bug worth reporting with the input.
    #[error(
        "TER alignment failed: the edit-distance beam does not reach cell ({row}, {col}) \
         (hypothesis of {hyp_words} words, reference of {ref_words})"
    )]
    TerBeam {
        row: usize,
        col: usize,
        hyp_words: usize,
        ref_words: usize,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
