//! The engine's errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Model(#[from] tarjoman_models::Error),
    #[error("model computation failed")]
    Candle(#[from] candle_core::Error),
    #[error("invalid prompt data: {0}")]
    Prompt(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("nothing to summarize: the text has no sentences")]
    EmptyDocument,
    #[error("{options}: not for {kind}, which {why}")]
    Unsupported {
        options: String,
        kind: &'static str,
        why: String,
    },
    #[error("{}: {reason}", path.display())]
    ModelFiles { path: PathBuf, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
