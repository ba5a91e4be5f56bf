//! The HTTP server: routes, limits, and a graceful stop.
//!
//! [`run`] serves until ctrl-c or SIGTERM (the command line's way);
//! [`start`] serves in the background until [`Running::stop`] (tests and
//! embedding). Either way the model is loaded first, on its own thread
//! ([`crate::worker`]), and a stop refuses new work, lets what is in flight
//! finish within [`ServeConfig::grace`], and returns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tarjoman_engine::TranslateOptions;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::api;
use crate::config::ServeConfig;
use crate::error::{ApiError, Error, Result};
use crate::libre;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::worker::{self, Loader};

/// The routes, with the body limit, the timeout, compression, request
/// counting, and errors in LibreTranslate's shape.
pub fn router(state: AppState) -> Router {
    let limit = state.config.body_limit;
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/", get(api::index))
        .route("/app.js", get(api::app_js))
        .route("/style.css", get(api::style_css))
        .route("/translate", post(libre::translate))
        .route("/languages", get(libre::languages).post(libre::languages))
        .route("/detect", post(libre::detect))
        .route("/v1/translate", post(api::translate))
        .route("/v1/summarize", post(api::summarize))
        .route("/health", get(api::health))
        .route("/metrics", get(api::metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(middleware::from_fn_with_state(limit, refuse_oversized))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CompressionLayer::new())
        .layer(middleware::map_response(json_errors))
        .with_state(state)
}

/// Counts each answered request by route and status.
async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    state
        .metrics
        .count_request(&route, response.status().as_u16());
    response
}

/// How many times the body limit a refused body may be before the server
/// stops reading it and hangs up.
const DRAIN_FACTOR: usize = 8;

/// Answers 413 to a body whose `Content-Length` is over the limit, after
/// reading and dropping it when it is at most [`DRAIN_FACTOR`] times the
/// limit.
///
/// Clients (ureq, Python's requests, curl) write the whole body before they
/// read the answer. A server that answers at once and closes, as the body
/// limit layer alone does, leaves unread bytes behind, the kernel resets the
/// connection, and the client sees a broken pipe instead of the 413. Reading
/// the rest first (nginx's lingering close does the same) lets the answer
/// through; bodies far over the limit are still refused at once. The
/// request timeout bounds the reading.
async fn refuse_oversized(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(length) = length.filter(|&n| n > limit as u64) else {
        return next.run(request).await;
    };
    if length <= limit.saturating_mul(DRAIN_FACTOR) as u64 {
        let mut body = request.into_body().into_data_stream();
        while let Some(Ok(_)) = body.next().await {}
    }
    StatusCode::PAYLOAD_TOO_LARGE.into_response()
}

/// Errors made outside the handlers (no route, wrong method, body over
/// the limit, timeout) get the `{"error": "..."}` body too.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Request body too large".to_string(),
        StatusCode::REQUEST_TIMEOUT => "Request timed out".to_string(),
        _ => status.canonical_reason().unwrap_or("Error").to_string(),
    };
    let mut answer = ApiError::new(status, message).into_response();
    for name in [header::RETRY_AFTER, header::ALLOW] {
        if let Some(value) = response.headers().get(&name) {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// A server started by [`start`].
pub struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Running {
    /// Where it listens (with the port chosen, if 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it as a signal would, and waits for it.
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Io(std::io::Error::other("the server panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Loads the model and serves in the background until [`Running::stop`].
pub fn start(config: ServeConfig, loader: Loader, opts: TranslateOptions) -> Result<Running> {
    let (state, listener) = prepare(config, loader, opts)?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("tarjoman-serve".into())
        .spawn(move || {
            runtime()?.block_on(serve(listener, state, async {
                let _ = stopped.await;
            }))
        })?;
    Ok(Running {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// Loads the model, listens, calls `listening` with the address, and
/// serves until ctrl-c or SIGTERM.
pub fn run(
    config: ServeConfig,
    loader: Loader,
    opts: TranslateOptions,
    listening: impl FnOnce(SocketAddr),
) -> Result<()> {
    let (state, listener) = prepare(config, loader, opts)?;
    listening(listener.local_addr()?);
    runtime()?.block_on(serve(listener, state, signal()))
}

/// Checks the address, loads the model and binds.
fn prepare(
    config: ServeConfig,
    loader: Loader,
    opts: TranslateOptions,
) -> Result<(AppState, std::net::TcpListener)> {
    config.check()?;
    let metrics = Arc::new(Metrics::default());
    let (engine, _thread) = worker::spawn(
        loader,
        opts,
        config.embedder.clone(),
        config.queue_capacity,
        config.max_batch_documents,
        Arc::clone(&metrics),
    )?;
    let listener = std::net::TcpListener::bind(config.addr).map_err(|source| Error::Bind {
        addr: config.addr,
        source,
    })?;
    listener.set_nonblocking(true)?;
    let state = AppState {
        engine,
        config: Arc::new(config),
        metrics,
        stopping: Arc::new(AtomicBool::new(false)),
    };
    Ok((state, listener))
}

/// The async runtime: two threads are plenty for the network; the model
/// has its own.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("tarjoman-http")
        .build()?)
}

/// Serves until `shutdown`, then refuses new work and waits for what is
/// in flight, at most the grace period. Each connection is HTTP/1.1 with
/// a deadline for its request headers.
async fn serve(
    listener: std::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let grace = state.config.grace;
    let header_timeout = state.config.header_timeout;
    let stopping = Arc::clone(&state.stopping);
    let engine = state.engine.clone();
    let app = router(state);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset
                    // before it was accepted: keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    tracing::info!("stopping: finishing requests in flight");
    drop(listener);
    stopping.store(true, Ordering::Relaxed);
    engine.close();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!("grace period over; dropping requests still in flight");
        }
    }
    Ok(())
}

/// Ctrl-c, or SIGTERM on Unix.
async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
