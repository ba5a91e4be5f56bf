//! The error type of this crate.

use std::path::PathBuf;

/// Why a batch could not start or go on. Failures of single inputs are not
/// errors: they become `failed` records in the manifest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done (`read`, `create`, ...).
        action: &'static str,
        /// The file or folder it was done to.
        path: PathBuf,
        /// The operating system's account.
        #[source]
        source: std::io::Error,
    },

    /// The folder to summarize is not a folder.
    #[error("{}: not a folder", .0.display())]
    NotADirectory(PathBuf),

    /// A `--glob` pattern does not parse.
    #[error("invalid glob pattern `{pattern}`")]
    Glob {
        /// The pattern as given.
        pattern: String,
        /// What globset says is wrong.
        #[source]
        source: globset::Error,
    },

    /// A `--shard` value is not `K/N` with `0 <= K < N`.
    #[error("invalid shard `{0}`: expected K/N with 0 <= K < N (counted from 0), e.g. 0/4")]
    Shard(String),

    /// Walking the input folder failed at its root.
    #[error("cannot walk {}", path.display())]
    Walk {
        /// Where the walk failed.
        path: PathBuf,
        /// walkdir's account.
        #[source]
        source: walkdir::Error,
    },

    /// An output path would leave the output folder.
    #[error("output path `{path}` would leave the output folder")]
    UnsafePath {
        /// The relative output path.
        path: String,
    },

    /// A manifest record could not be serialized.
    #[error("cannot serialize the manifest record for {path}")]
    Serialize {
        /// The input the record is about.
        path: String,
        /// serde_json's account.
        #[source]
        source: serde_json::Error,
    },

    /// The settings could not be serialized (to hash them).
    #[error("cannot serialize the batch settings")]
    Settings(#[source] serde_json::Error),
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
