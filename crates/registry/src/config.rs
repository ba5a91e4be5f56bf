//! Where to fetch model files from, and how patiently: [`FetchConfig`] and
//! the environment variables that override its endpoints.
//!
//! A leaf module: the store keeps a config, the HTTP client and the hub read
//! it, and it depends on none of them. Its public path is
//! `tarjoman_registry::fetch::FetchConfig` (re-exported there).

use std::time::Duration;

/// Environment variable overriding the PEP 691 index base URL.
pub const PYPI_INDEX_ENV: &str = "TARJOMAN_PYPI_INDEX";
/// Environment variable overriding the npm registry URL.
pub const NPM_REGISTRY_ENV: &str = "TARJOMAN_NPM_REGISTRY";
/// Environment variable overriding the Hugging Face endpoint (as in
/// `huggingface_hub`).
pub const HF_ENDPOINT_ENV: &str = "HF_ENDPOINT";

/// Where to fetch from, and how patiently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// PEP 691 simple index base, e.g. `https://pypi.org/simple`.
    pub pypi_index: String,
    /// npm registry base, e.g. `https://registry.npmjs.org`.
    pub npm_registry: String,
    /// Hugging Face endpoint, e.g. `https://huggingface.co`.
    pub hf_endpoint: String,
    /// Tries per request (transient errors only: connection failures, 5xx,
    /// 429, bodies cut short).
    pub attempts: u32,
    /// Wait before the second try; doubled before each later one.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            pypi_index: "https://pypi.org/simple".to_owned(),
            npm_registry: "https://registry.npmjs.org".to_owned(),
            hf_endpoint: "https://huggingface.co".to_owned(),
            attempts: 3,
            backoff: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl FetchConfig {
    /// The defaults, with `TARJOMAN_PYPI_INDEX`, `TARJOMAN_NPM_REGISTRY` and
    /// `HF_ENDPOINT` applied when set.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut config = FetchConfig::default();
        if let Some(url) = var(PYPI_INDEX_ENV) {
            config.pypi_index = url;
        }
        if let Some(url) = var(NPM_REGISTRY_ENV) {
            config.npm_registry = url;
        }
        if let Some(url) = var(HF_ENDPOINT_ENV) {
            config.hf_endpoint = url;
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_public_registries() {
        let config = FetchConfig::default();
        assert_eq!(config.pypi_index, "https://pypi.org/simple");
        assert_eq!(config.npm_registry, "https://registry.npmjs.org");
        assert_eq!(config.attempts, 3);
    }
}
