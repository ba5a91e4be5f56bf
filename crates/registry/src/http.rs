//! HTTP GETs with retries: small JSON documents from indexes, and streamed
//! downloads into a file that resume with a `Range` request after a dropped
//! connection and check the digest the index publishes.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::config::FetchConfig;
use crate::digest::CHUNK;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// What a download must hash to, according to whoever listed it.
pub(crate) enum Check {
    /// Hex SHA-256 (PEP 691 `hashes.sha256`).
    Sha256(String),
    /// Raw SHA-512 (npm `dist.integrity`).
    Sha512(Vec<u8>),
    /// Hex SHA-1 (npm `dist.shasum`, older packages).
    Sha1(String),
    /// Nothing published: compute SHA-256 for the caller to compare.
    ComputeSha256,
}

enum Digester {
    Sha256(Sha256),
    Sha512(Sha512),
    Sha1(Sha1),
}

impl Check {
    fn digester(&self) -> Digester {
        match self {
            Check::Sha256(_) | Check::ComputeSha256 => Digester::Sha256(Sha256::new()),
            Check::Sha512(_) => Digester::Sha512(Sha512::new()),
            Check::Sha1(_) => Digester::Sha1(Sha1::new()),
        }
    }

    /// Compares the digest of a finished download with the published one.
    fn verify(&self, url: &str, actual: &[u8]) -> Result<()> {
        let (algorithm, expected, actual) = match self {
            Check::ComputeSha256 => return Ok(()),
            Check::Sha256(hex_digest) => (
                "SHA-256",
                hex_digest.to_ascii_lowercase(),
                hex::encode(actual),
            ),
            Check::Sha1(hex_digest) => (
                "SHA-1",
                hex_digest.to_ascii_lowercase(),
                hex::encode(actual),
            ),
            Check::Sha512(raw) => ("SHA-512", hex::encode(raw), hex::encode(actual)),
        };
        if expected == actual {
            Ok(())
        } else {
            Err(Error::DownloadDigest {
                url: url.to_owned(),
                algorithm,
                expected,
                actual,
            })
        }
    }
}

impl Digester {
    fn update(&mut self, data: &[u8]) {
        match self {
            Digester::Sha256(h) => h.update(data),
            Digester::Sha512(h) => h.update(data),
            Digester::Sha1(h) => h.update(data),
        }
    }

    fn finalize(self) -> Vec<u8> {
        match self {
            Digester::Sha256(h) => h.finalize().to_vec(),
            Digester::Sha512(h) => h.finalize().to_vec(),
            Digester::Sha1(h) => h.finalize().to_vec(),
        }
    }
}

/// A finished download: its length and the digest it was checked against
/// (SHA-256 hex for [`Check::ComputeSha256`]).
pub(crate) struct Downloaded {
    pub(crate) len: u64,
    pub(crate) digest_hex: String,
}

/// A blocking HTTP client over the platform TLS stack (OpenSSL on Linux, so
/// the system certificate store applies).
pub(crate) struct Client {
    agent: ureq::Agent,
    attempts: u32,
    backoff: Duration,
}

impl Client {
    pub(crate) fn new(config: &FetchConfig) -> Result<Client> {
        let tls = Arc::new(native_tls::TlsConnector::new().map_err(Error::Tls)?);
        let agent = ureq::AgentBuilder::new()
            .tls_connector(tls)
            .timeout_connect(config.connect_timeout)
            .timeout_read(config.read_timeout)
            .user_agent(concat!("tarjoman/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            agent,
            attempts: config.attempts.max(1),
            backoff: config.backoff,
        })
    }

    /// GETs a JSON document; returns it with the URL it finally came from
    /// (after redirects), against which relative links resolve.
    pub(crate) fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        accept: &str,
        progress: &dyn Progress,
    ) -> Result<(T, String)> {
        let mut attempt = 1;
        loop {
            let err = match self.get_bytes(url, accept) {
                Ok((body, final_url)) => {
                    let doc = serde_json::from_slice(&body).map_err(|source| Error::Json {
                        url: url.to_owned(),
                        source,
                    })?;
                    return Ok((doc, final_url));
                }
                Err(err) => err,
            };
            if !err.is_transient() || attempt >= self.attempts {
                return Err(err);
            }
            self.pause(attempt, &err, progress);
            attempt += 1;
        }
    }

    fn get_bytes(&self, url: &str, accept: &str) -> Result<(Vec<u8>, String)> {
        let response = self
            .agent
            .get(url)
            .set("Accept", accept)
            .call()
            .map_err(|e| http_error(url, e))?;
        let final_url = response.get_url().to_owned();
        let mut body = Vec::new();
        response
            .into_reader()
            .read_to_end(&mut body)
            .map_err(|source| Error::Body {
                url: url.to_owned(),
                received: body.len() as u64,
                source,
            })?;
        Ok((body, final_url))
    }

    /// Streams `url` into `file` (at `path`, for error messages), hashing as
    /// it goes, then checks the digest. If `label` is given, calls
    /// `progress.begin(label, Content-Length)` once the response arrives.
    pub(crate) fn download(
        &self,
        url: &str,
        file: &mut File,
        path: &Path,
        check: &Check,
        label: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<Downloaded> {
        let mut state = Transfer {
            digester: check.digester(),
            received: 0,
            begun: label.is_none(),
        };
        let mut buf = vec![0u8; CHUNK];
        let mut attempt = 1;
        loop {
            let err = match self.download_attempt(
                url, file, path, check, label, &mut state, &mut buf, progress,
            ) {
                Ok(()) => break,
                Err(err) => err,
            };
            if !err.is_transient() || attempt >= self.attempts {
                return Err(err);
            }
            self.pause(attempt, &err, progress);
            attempt += 1;
        }
        file.flush().map_err(|e| Error::io("write", path, e))?;
        let digest = state.digester.finalize();
        check.verify(url, &digest)?;
        Ok(Downloaded {
            len: state.received,
            digest_hex: hex::encode(digest),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn download_attempt(
        &self,
        url: &str,
        file: &mut File,
        path: &Path,
        check: &Check,
        label: Option<&str>,
        state: &mut Transfer,
        buf: &mut [u8],
        progress: &dyn Progress,
    ) -> Result<()> {
        // Ask for the raw bytes (no transparent gzip), so ranges line up.
        let mut request = self.agent.get(url).set("Accept-Encoding", "identity");
        if state.received > 0 {
            request = request.set("Range", &format!("bytes={}-", state.received));
        }
        let response = request.call().map_err(|e| http_error(url, e))?;
        if state.received > 0 && !resumes_at(&response, state.received) {
            // The server ignored the range: start over.
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)).map(drop))
                .map_err(|e| Error::io("truncate", path, e))?;
            state.digester = check.digester();
            state.received = 0;
        }
        if !state.begun {
            let total = response
                .header("Content-Length")
                .and_then(|v| v.trim().parse::<u64>().ok());
            progress.begin(label.unwrap_or(url), total);
            state.begun = true;
        }
        let mut reader = response.into_reader();
        loop {
            let n = match reader.read(buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Body {
                        url: url.to_owned(),
                        received: state.received,
                        source,
                    })
                }
            };
            file.write_all(&buf[..n])
                .map_err(|e| Error::io("write", path, e))?;
            state.digester.update(&buf[..n]);
            state.received += n as u64;
            progress.advance(n as u64);
        }
    }

    fn pause(&self, attempt: u32, err: &Error, progress: &dyn Progress) {
        pause(self.backoff, attempt, self.attempts, &chain(err), progress);
    }
}

/// Waits before try `attempt + 1` of `attempts` (the delay doubling from
/// `backoff`), saying on `progress` why (`failure`) and for how long.
pub(crate) fn pause(
    backoff: Duration,
    attempt: u32,
    attempts: u32,
    failure: &str,
    progress: &dyn Progress,
) {
    let delay = backoff * 2u32.saturating_pow(attempt - 1);
    progress.note(&format!(
        "{failure}; retrying in {:.1} s (attempt {} of {attempts})",
        delay.as_secs_f32(),
        attempt + 1,
    ));
    std::thread::sleep(delay);
}

struct Transfer {
    digester: Digester,
    received: u64,
    begun: bool,
}

/// Whether a response continues a download at byte `offset`.
fn resumes_at(response: &ureq::Response, offset: u64) -> bool {
    response.status() == 206
        && response
            .header("Content-Range")
            .is_some_and(|range| range.trim().starts_with(&format!("bytes {offset}-")))
}

fn http_error(url: &str, err: ureq::Error) -> Error {
    Error::Http {
        url: url.to_owned(),
        source: Box::new(err),
    }
}

/// An error with its causes on one line, for notes.
fn chain(err: &Error) -> String {
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
