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
    #[error("{}: invalid config", path.display())]
    ConfigJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
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
    #[error("cannot run from position {position}: only {cached} tokens are cached")]
    CacheGap { position: usize, cached: usize },
    #[error("{}: invalid model config: {reason}", path.display())]
    Config { path: PathBuf, reason: String },
    #[error("{}: not a valid safetensors file", path.display())]
    Safetensors {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },
    #[error("{}: not a readable PyTorch checkpoint (torch.save zip of pickles)", path.display())]
    Pickle {
        path: PathBuf,
        #[source]
        source: candle_core::Error,
    },
    #[error("{}: cannot read the data of tensor `{tensor}` (truncated or corrupt file?)", path.display())]
    TensorData {
        path: PathBuf,
        tensor: String,
        #[source]
        source: Box<candle_core::Error>,
    },
    #[error("{}: no model weights: {reason}", dir.display())]
    NoWeights { dir: PathBuf, reason: String },
    #[error("{}{}: tensor `{tensor}` is missing", path.display(), if *files > 1 { format!(" (and {} more shards)", files - 1) } else { String::new() })]
    MissingTensor {
        path: PathBuf,
        files: usize,
        tensor: String,
    },
    #[error("{}: tensor `{tensor}` has shape {found:?}, but the config implies {expected:?}", path.display())]
    TensorShape {
        path: PathBuf,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{}: tensor `{tensor}` has dtype {dtype}; model weights must be f16, bf16, f32 or f64", path.display())]
    TensorDtype {
        path: PathBuf,
        tensor: String,
        dtype: String,
    },
    #[error("{}: no tokenizer was loaded for this model", path.display())]
    NoTokenizer { path: PathBuf },
    #[error("empty input: a model needs at least one token")]
    EmptyInput,
    #[error("invalid model input: {0}")]
    Input(String),
    #[error("language code `{code}` is not a special token of the tokenizer")]
    LanguageCode { code: String },
    #[error("input of {tokens} tokens does not fit the model's context of {context} tokens")]
    ContextOverflow { tokens: usize, context: usize },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
