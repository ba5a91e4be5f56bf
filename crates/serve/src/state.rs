//! What every handler shares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::HeaderMap;

use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::worker::{Engine, Refusal};

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub config: Arc<ServeConfig>,
    pub metrics: Arc<Metrics>,
    /// Set once a shutdown signal came: new work is refused.
    pub stopping: Arc<AtomicBool>,
}

impl AppState {
    /// Checks the request's API key: the `api_key` field, else an
    /// `Authorization: Bearer` header.
    pub fn authorize(&self, field: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
        let header = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match self.config.authorized(field.or(header)) {
            true => Ok(()),
            false => Err(ApiError::forbidden()),
        }
    }

    /// The answer to work the queue refused.
    pub fn refused(&self, refusal: Refusal) -> ApiError {
        let retry = self.config.retry_after;
        match refusal {
            Refusal::Full => ApiError::busy(
                "Slowdown: the translation queue is full, retry later",
                retry,
            ),
            Refusal::Closed => ApiError::busy("The server is shutting down", retry),
        }
    }

    /// Refuses new work once shutdown has begun.
    pub fn accepting(&self) -> Result<(), ApiError> {
        match self.stopping.load(Ordering::Relaxed) {
            true => Err(self.refused(Refusal::Closed)),
            false => Ok(()),
        }
    }
}
