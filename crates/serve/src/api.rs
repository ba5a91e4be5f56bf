//! tarjoman's own endpoints: `POST /v1/translate` (a stream of sentence
//! records, as Server-Sent Events), `POST /v1/summarize`, `GET /health`,
//! `GET /metrics`, and the web page (`/`, `/app.js`, `/style.css`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::Stream;
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::request::{fields, string, texts};
use crate::state::AppState;
use crate::worker::Update;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// The page may load only what it is served with (it works offline).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Pings that keep a quiet stream open and find clients that have gone.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

pub async fn index() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

pub async fn app_js() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

pub async fn style_css() -> Response {
    asset(STYLE_CSS, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The `text` field of a tarjoman request: one string, required.
fn one_text(fields: &serde_json::Map<String, Value>) -> Result<String, ApiError> {
    match texts(fields, "text")? {
        Some((mut docs, false)) => Ok(docs.remove(0)),
        Some((_, true)) => Err(ApiError::bad_request(
            "Invalid request: text must be a string",
        )),
        None => Err(ApiError::bad_request(
            "Invalid request: missing text parameter",
        )),
    }
}

/// `POST /v1/translate` with `text` (JSON or form): one `record` event
/// per sentence (the records of `tarjoman translate --json`), then `done`
/// (or `error`).
pub async fn translate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let start = Instant::now();
    let fields = fields(&headers, body)?;
    state.authorize(string(&fields, "api_key")?, &headers)?;
    let text = one_text(&fields)?;
    state.accepting()?;
    let rx = state
        .engine
        .translate(vec![text])
        .map_err(|r| state.refused(r))?;
    let stream = records(rx, Arc::clone(&state.metrics), start);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The events of one translation.
fn records(
    rx: UnboundedReceiver<Update>,
    metrics: Arc<Metrics>,
    start: Instant,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let error = |message: String| {
        Event::default()
            .event("error")
            .data(json!({ "error": message }).to_string())
    };
    futures_util::stream::unfold(Some((rx, 0usize)), move |st| {
        let metrics = Arc::clone(&metrics);
        async move {
            let (mut rx, mut sentences) = st?;
            loop {
                let event = match rx.recv().await {
                    Some(Update::Verbatim { .. }) => continue,
                    Some(Update::Record { record, .. }) => {
                        sentences += 1;
                        let event = Event::default()
                            .event("record")
                            .json_data(&record)
                            .unwrap_or_else(|e| error(e.to_string()));
                        return Some((Ok(event), Some((rx, sentences))));
                    }
                    Some(Update::Done) => {
                        let ms = start.elapsed().as_millis() as u64;
                        metrics.request_latency.observe(start.elapsed());
                        Event::default()
                            .event("done")
                            .data(json!({ "records": sentences, "ms": ms }).to_string())
                    }
                    Some(Update::Failed(e)) => error(format!("Cannot translate text: {e}")),
                    None => error("Cannot translate text: the model stopped".into()),
                };
                return Some((Ok(event), None));
            }
        }
    })
}

/// `POST /v1/summarize` with `text` (English, or Persian: translated
/// first): a 3-5 sentence English summary by the prompted model, grounded
/// (each sentence cited and checked; `details`) when the server has an
/// embedder.
pub async fn summarize(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let fields = fields(&headers, body)?;
    state.authorize(string(&fields, "api_key")?, &headers)?;
    let text = one_text(&fields)?;
    if !state.engine.info().summarizes {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "This model does not write summaries: serve a prompted GGUF model (-m NAME)",
        ));
    }
    state.accepting()?;
    let rx = state.engine.summarize(text).map_err(|r| state.refused(r))?;
    let (summary, english) = rx
        .await
        .map_err(|_| ApiError::internal("Cannot summarize: the model stopped"))?
        .map_err(|e| ApiError::internal(format!("Cannot summarize: {e}")))?;
    Ok(Json(json!({
        "summary": summary.text(),
        "sentences": summary.texts(),
        "details": summary,
        "english": english,
    })))
}

/// `GET /health`: 200 while serving, 503 once shutting down.
pub async fn health(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let stopping = state.accepting().is_err();
    let status = if stopping { "stopping" } else { "ok" };
    // Open to all (a liveness check needs no secret), but with an API key
    // set only a request carrying it learns the model and the queue.
    let body = match state.authorize(query_key(&query), &headers) {
        Ok(()) => {
            let info = state.engine.info();
            json!({
                "status": status,
                "model": info.name,
                "kind": info.kind,
                "summarizes": info.summarizes,
                "queue": { "waiting": state.engine.queued(), "capacity": state.engine.capacity() },
            })
        }
        Err(_) => json!({ "status": status }),
    };
    match stopping {
        true => (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response(),
        false => Json(body).into_response(),
    }
}

/// `GET /metrics`: Prometheus' text format.
/// With an API key set, the key is needed here too (`Authorization:
/// Bearer KEY`, as Prometheus sends it, or `?api_key=KEY`).
pub async fn metrics(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = state.authorize(query_key(&query), &headers) {
        return e.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The `api_key` of a GET request's query string.
fn query_key(query: &HashMap<String, String>) -> Option<&str> {
    query.get("api_key").map(String::as_str)
}
