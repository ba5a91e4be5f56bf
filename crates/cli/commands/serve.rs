//! `tarjoman serve`: one loaded model for every client, over HTTP
//! (the server itself is `tarjoman-serve`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use tarjoman_serve::ServeConfig;

use crate::args::{ModelArgs, TranslationArgs};

/// Serve translations over HTTP: a LibreTranslate-compatible API, a
/// streaming API and a side-by-side web page, all sharing one loaded model.
///
/// Sentences of concurrent requests are decoded together, --batch at a
/// time. Endpoints: POST /translate, GET /languages, POST /detect
/// (LibreTranslate's), POST /v1/translate (Server-Sent Events, one record
/// per sentence as `translate --json` prints), POST /v1/summarize,
/// GET /health, GET /metrics (Prometheus), and the page at /. With
/// --api-key, /metrics needs the key too, and /health tells a request
/// without it only whether the server is up.
/// Ctrl-c or SIGTERM stops accepting work, lets requests in flight finish
/// (up to --grace seconds) and exits.
///
/// Examples:
///
///   tarjoman serve
///
///   curl -s localhost:8080/translate -H 'Content-Type: application/json' \
///        -d '{"q": "سلام دنیا", "source": "fa", "target": "en"}'
///
///   tarjoman serve --addr 0.0.0.0:8080 --api-key "$(cat key.txt)"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Address to listen on. Anything but loopback needs --api-key (or
    /// --insecure-public). Port 0 picks a free port (printed on stderr).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Require this key on every translation request and on /metrics (the
    /// `api_key` field, as LibreTranslate's clients send it, or
    /// `Authorization: Bearer`).
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,

    /// Allow listening on a non-loopback address without an API key.
    #[arg(long)]
    pub insecure_public: bool,

    /// Requests that may wait for the model; more are answered 503 with
    /// Retry-After.
    #[arg(long, value_name = "N", default_value_t = ServeConfig::default().queue_capacity)]
    pub queue: usize,

    /// Largest request body accepted, in bytes (larger: 413).
    #[arg(long, value_name = "BYTES", default_value_t = ServeConfig::default().body_limit)]
    pub max_body: usize,

    /// Seconds a non-streaming request may take before it is answered 408.
    #[arg(long, value_name = "SECS", default_value_t = ServeConfig::default().request_timeout.as_secs())]
    pub timeout: u64,

    /// Seconds requests in flight may run on after ctrl-c or SIGTERM.
    #[arg(long, value_name = "SECS", default_value_t = ServeConfig::default().grace.as_secs())]
    pub grace: u64,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub translation: TranslationArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let config = ServeConfig {
        addr: args.addr,
        api_key: args.api_key.clone(),
        insecure_public: args.insecure_public,
        body_limit: args.max_body,
        request_timeout: Duration::from_secs(args.timeout),
        grace: Duration::from_secs(args.grace),
        queue_capacity: args.queue,
        embedder: Some(crate::model::resolve_embedder()?),
        ..ServeConfig::default()
    };
    // Refuse a public address before spending time on the model.
    config.check()?;
    let model = crate::model::load_translation_model(args.model.model.as_deref())?;
    let opts = args
        .translation
        .options(&args.model, model.prompt_format().is_some())?;
    eprintln!("serving {}", model.name());
    tarjoman_serve::run(config, Box::new(move || Ok(model)), opts, |addr| {
        eprintln!("listening on http://{addr}");
    })?;
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}
