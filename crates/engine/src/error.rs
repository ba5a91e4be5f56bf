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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
