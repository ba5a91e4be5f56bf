#![forbid(unsafe_code)]
//! `tarjoman serve`: one loaded model shared by every client over HTTP.
//!
//! - LibreTranslate's API ([`libre`]): `POST /translate`, `GET /languages`,
//!   `POST /detect`, so its clients and editor plugins work unchanged;
//! - tarjoman's own ([`api`]): `POST /v1/translate` streams one sentence
//!   record at a time (Server-Sent Events, the records of
//!   `translate --json`), `POST /v1/summarize`, `GET /health`,
//!   `GET /metrics` (Prometheus);
//! - a side-by-side page at `/`, embedded in the binary.
//!
//! The model lives on its own thread ([`worker`]): requests queue for it
//! (a bounded queue; 503 with `Retry-After` when full) and the sentences
//! of concurrent requests decode together as rows of one batch.
//!
//! ```no_run
//! use std::path::Path;
//! use tarjoman_engine::{TranslateOptions, TranslationModel};
//! use tarjoman_serve::{start, ServeConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServeConfig { addr: "127.0.0.1:0".parse()?, ..ServeConfig::default() };
//! let loader = Box::new(|| {
//!     TranslationModel::load(Path::new("model.gguf")).map_err(|e| e.to_string())
//! });
//! let server = start(config, loader, TranslateOptions::default())?;
//! println!("listening on http://{}", server.addr());
//! server.stop()?;
//! # Ok(())
//! # }
//! ```

pub mod api;
pub mod config;
pub mod error;
pub mod html;
pub mod libre;
pub mod metrics;
pub mod request;
pub mod server;
pub mod state;
pub mod worker;

pub use config::ServeConfig;
pub use error::{ApiError, Error, Result};
pub use server::{router, run, start, Running};
pub use worker::Loader;
