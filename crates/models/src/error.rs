use std::path::PathBuf;

/// Errors from loading or running a model. Messages name the file involved;
/// the cause is kept as the error's source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a valid GGUF file", path.display())]
    Gguf {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },
    #[error("{}: truncated or corrupt GGUF: tensor `{tensor}` needs bytes up to {end}, but the file has {len}", path.display())]
    Truncated {
        path: PathBuf,
        tensor: String,
        end: u64,
        len: u64,
    },
    #[error("{}: missing or invalid metadata `{key}`", path.display())]
    Metadata { path: PathBuf, key: String },
    #[error("{}: unsupported architecture `{arch}` (supported: {supported})", path.display())]
    UnsupportedArchitecture {
        path: PathBuf,
        arch: String,
        supported: &'static str,
    },
    #[error("{}: cannot load model weights", path.display())]
    Weights {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },
    #[error("{}: cannot load tokenizer", path.display())]
    Tokenizer {
        path: PathBuf,
        #[source]
        source: tokenizers::Error,
    },
    #[error("{}: cannot build a tokenizer from GGUF metadata: {reason}", path.display())]
    GgufTokenizer { path: PathBuf, reason: String },
    #[error("{}: cannot read SentencePiece model or vocabulary: {reason}", path.display())]
    SentencePiece { path: PathBuf, reason: String },
    #[error("tokenizer failed on input")]
    Tokenize(#[source] tokenizers::Error),
    #[error("model computation failed")]
    Candle(#[from] candle_core::Error),
    #[error("input of {tokens} tokens does not fit the model's context of {context} tokens")]
    ContextOverflow { tokens: usize, context: usize },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
