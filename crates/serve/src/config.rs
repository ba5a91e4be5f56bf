//! How the server runs: where it listens, who may use it, and its limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// The server's settings; [`ServeConfig::default`] listens on
/// `127.0.0.1:8080` without a key.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// Required on every translation request and on `/metrics` when set
    /// (the `api_key` field, or an `Authorization: Bearer` header).
    pub api_key: Option<String>,
    /// Allows listening on an address other machines can reach without an
    /// API key.
    pub insecure_public: bool,
    /// Largest request body accepted, in bytes (larger: 413).
    pub body_limit: usize,
    /// How long a request that waits for its whole answer may take (the
    /// streaming endpoint is not bounded: it stops when its client goes).
    pub request_timeout: Duration,
    /// How long a client may take to send a request's headers (slow
    /// clients would otherwise hold connections open forever).
    pub header_timeout: Duration,
    /// How long in-flight requests may run on after a shutdown signal.
    pub grace: Duration,
    /// Requests waiting for the model at most; more are answered 503.
    pub queue_capacity: usize,
    /// Documents (requests, or elements of `q`) translated together at
    /// most: their sentences decode side by side as rows of one batch.
    pub max_batch_documents: usize,
    /// `Retry-After` of a 503.
    pub retry_after: Duration,
    /// The sentence embedder's folder: with it, `/v1/summarize` gives the
    /// grounded summary (`tarjoman summarize`'s default: selected, fused,
    /// checked and cited); without, the one-pass abstractive one.
    pub embedder: Option<PathBuf>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_key: None,
            insecure_public: false,
            body_limit: 1 << 20,
            request_timeout: Duration::from_secs(600),
            header_timeout: Duration::from_secs(30),
            grace: Duration::from_secs(30),
            queue_capacity: 64,
            max_batch_documents: 32,
            retry_after: Duration::from_secs(2),
            embedder: None,
        }
    }
}

impl ServeConfig {
    /// Refuses an address other machines can reach unless an API key
    /// guards it or `insecure_public` says to serve it open.
    pub fn check(&self) -> Result<()> {
        if !self.addr.ip().is_loopback() && self.api_key.is_none() && !self.insecure_public {
            return Err(Error::PublicWithoutKey(self.addr));
        }
        Ok(())
    }

    /// Whether a request's key (if any) opens the server.
    pub fn authorized(&self, given: Option<&str>) -> bool {
        match &self.api_key {
            None => true,
            Some(key) => given.is_some_and(|g| constant_time_eq(g.as_bytes(), key.as_bytes())),
        }
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_need_a_key_or_consent() {
        let mut config = ServeConfig {
            addr: "0.0.0.0:8080".parse().unwrap(),
            ..ServeConfig::default()
        };
        assert!(matches!(config.check(), Err(Error::PublicWithoutKey(_))));
        config.api_key = Some("k".into());
        assert!(config.check().is_ok());
        config.api_key = None;
        config.insecure_public = true;
        assert!(config.check().is_ok());
        assert!(ServeConfig::default().check().is_ok());
        let v6 = ServeConfig {
            addr: "[::1]:8080".parse().unwrap(),
            ..ServeConfig::default()
        };
        assert!(v6.check().is_ok());
    }

    #[test]
    fn keys_are_compared_whole() {
        let config = ServeConfig {
            api_key: Some("secret".into()),
            ..ServeConfig::default()
        };
        assert!(config.authorized(Some("secret")));
        assert!(!config.authorized(Some("secre")));
        assert!(!config.authorized(Some("secret2")));
        assert!(!config.authorized(None));
        assert!(ServeConfig::default().authorized(None));
    }
}
