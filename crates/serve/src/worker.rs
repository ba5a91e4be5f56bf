//! The model's own thread. A loaded model runs one batch at a time and
//! its work is CPU-bound, so it lives on a plain thread, off the async
//! runtime: handlers put work in a bounded [`Queue`] and get results back
//! on channels. The thread takes everything waiting (up to a number of
//! documents) and translates it in one call of
//! [`Translator::translate_documents_while`](tarjoman_engine::Translator::translate_documents_while),
//! so the sentences of concurrent requests decode side by side as rows of
//! one batch ([`tarjoman_engine::generate::generate_many`]'s job slots).
//!
//! A request whose client has gone is dropped before its batch starts, or
//! from the running batch: its rows leave after the current step and free
//! their slots for the other clients' sentences.

use std::collections::VecDeque;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tarjoman_engine::summarize::{self, Summary};
use tarjoman_engine::translate::{Event, SentenceRecord};
use tarjoman_engine::{TranslateOptions, TranslationModel};
use tarjoman_models::embed::SentenceEmbedder;
use tarjoman_text::script::{detect, Lang};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// Loads the model, on the model's thread.
pub type Loader = Box<dyn FnOnce() -> std::result::Result<TranslationModel, String> + Send>;

/// How long the thread waits, once work arrives, for more to join it.
const GATHER: Duration = Duration::from_millis(10);

/// What the loaded model is, for `/health` and the summary endpoint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    pub name: String,
    /// `prompted` or `encoder_decoder`.
    pub kind: &'static str,
    /// Whether it writes summaries (a prompted GGUF model).
    pub summarizes: bool,
}

/// A piece of a translation, in document order.
#[derive(Debug)]
pub enum Update {
    /// Whitespace between sentences of document `doc` of the request.
    Verbatim { doc: usize, text: String },
    /// A translated sentence (or passed-through metadata) of document `doc`.
    /// Boxed: a record is large beside the other variants.
    Record {
        doc: usize,
        record: Box<SentenceRecord>,
    },
    /// Every document of the request is translated.
    Done,
    /// The model failed; nothing more comes.
    Failed(String),
}

/// An English summary, with the English it summarizes.
pub type SummaryResult = std::result::Result<(Summary, String), String>;

enum Work {
    Translate {
        docs: Vec<String>,
        tx: mpsc::UnboundedSender<Update>,
        queued: Instant,
    },
    Summarize {
        text: String,
        tx: oneshot::Sender<SummaryResult>,
    },
}

impl Work {
    fn documents(&self) -> usize {
        match self {
            Work::Translate { docs, .. } => docs.len().max(1),
            Work::Summarize { .. } => 1,
        }
    }
}

/// Why work was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The queue is full.
    Full,
    /// The server is shutting down.
    Closed,
}

struct Queue {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
    metrics: Arc<Metrics>,
}

struct State {
    jobs: VecDeque<Work>,
    closed: bool,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn submit(&self, work: Work) -> std::result::Result<(), Refusal> {
        let mut state = self.lock();
        if state.closed {
            return Err(Refusal::Closed);
        }
        if state.jobs.len() >= self.capacity {
            self.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Full);
        }
        state.jobs.push_back(work);
        self.metrics
            .queue_depth
            .store(state.jobs.len(), Ordering::Relaxed);
        self.ready.notify_one();
        Ok(())
    }

    /// Waits for work, then takes what is waiting, up to `max_docs`
    /// documents (at least one request); `None` once closed and drained.
    fn take(&self, max_docs: usize) -> Option<Vec<Work>> {
        let mut state = self.lock();
        while state.jobs.is_empty() {
            if state.closed {
                return None;
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.jobs.len() == 1 && !state.closed {
            // Let requests sent at the same moment join this batch.
            state = self
                .ready
                .wait_timeout(state, GATHER)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let mut batch = Vec::new();
        let mut docs = 0;
        while let Some(work) = state.jobs.front() {
            let n = work.documents();
            if !batch.is_empty() && docs + n > max_docs {
                break;
            }
            docs += n;
            batch.extend(state.jobs.pop_front());
        }
        self.metrics
            .queue_depth
            .store(state.jobs.len(), Ordering::Relaxed);
        Some(batch)
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// The handle the HTTP handlers use to reach the model's thread.
#[derive(Clone)]
pub struct Engine {
    queue: Arc<Queue>,
    info: Arc<ModelInfo>,
}

impl Engine {
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Queues documents for translation; their pieces arrive on the
    /// receiver in order, then [`Update::Done`]. Dropping the receiver
    /// cancels what has not started.
    pub fn translate(
        &self,
        docs: Vec<String>,
    ) -> std::result::Result<mpsc::UnboundedReceiver<Update>, Refusal> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.queue.submit(Work::Translate {
            docs,
            tx,
            queued: Instant::now(),
        })?;
        Ok(rx)
    }

    /// Queues a summary of `text` (English, or Persian: translated first).
    pub fn summarize(
        &self,
        text: String,
    ) -> std::result::Result<oneshot::Receiver<SummaryResult>, Refusal> {
        let (tx, rx) = oneshot::channel();
        self.queue.submit(Work::Summarize { text, tx })?;
        Ok(rx)
    }

    /// Refuses new work; what is queued still runs.
    pub fn close(&self) {
        self.queue.close();
    }

    /// Requests waiting.
    pub fn queued(&self) -> usize {
        self.queue.lock().jobs.len()
    }

    pub fn capacity(&self) -> usize {
        self.queue.capacity
    }
}

/// Starts the model's thread: loads the model there (returning once it
/// is loaded) and serves the queue until [`Engine::close`].
pub fn spawn(
    loader: Loader,
    opts: TranslateOptions,
    embedder: Option<PathBuf>,
    capacity: usize,
    max_docs: usize,
    metrics: Arc<Metrics>,
) -> Result<(Engine, JoinHandle<()>)> {
    let queue = Arc::new(Queue {
        state: Mutex::new(State {
            jobs: VecDeque::new(),
            closed: false,
        }),
        ready: Condvar::new(),
        capacity: capacity.max(1),
        metrics: Arc::clone(&metrics),
    });
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let worker_queue = Arc::clone(&queue);
    let thread = std::thread::Builder::new()
        .name("tarjoman-model".into())
        .spawn(move || {
            let mut model = match loader() {
                Ok(model) => model,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            // Documents of different clients never share context.
            let opts = TranslateOptions {
                context_across_documents: false,
                ..opts
            };
            if let Err(e) = model.translator(opts.clone()) {
                let _ = ready_tx.send(Err(e.to_string()));
                return;
            }
            let info = ModelInfo {
                name: model.name().to_string(),
                kind: match model.kind() {
                    tarjoman_engine::ModelKind::Prompted => "prompted",
                    tarjoman_engine::ModelKind::EncoderDecoder => "encoder_decoder",
                },
                summarizes: model.gguf_mut().is_some(),
            };
            let _ = ready_tx.send(Ok(info));
            let mut embedder = Embedder {
                path: embedder,
                loaded: None,
            };
            serve(
                &mut model,
                &mut embedder,
                &opts,
                &worker_queue,
                max_docs,
                &metrics,
            );
        })?;
    let info = ready_rx
        .recv()
        .map_err(|_| Error::Model("the model's thread stopped while loading".into()))?
        .map_err(Error::Model)?;
    let engine = Engine {
        queue,
        info: Arc::new(info),
    };
    Ok((engine, thread))
}

fn serve(
    model: &mut TranslationModel,
    embedder: &mut Embedder,
    opts: &TranslateOptions,
    queue: &Queue,
    max_docs: usize,
    metrics: &Metrics,
) {
    while let Some(batch) = queue.take(max_docs.max(1)) {
        let mut clients = Vec::new();
        for work in batch {
            match work {
                Work::Summarize { text, tx } => {
                    if tx.is_closed() {
                        metrics.cancelled.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        summary(model, embedder, opts, &text)
                    }))
                    .unwrap_or_else(|_| Err("the model failed (panicked)".into()));
                    let _ = tx.send(result);
                }
                Work::Translate { docs, tx, queued } => {
                    if tx.is_closed() {
                        metrics.cancelled.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    clients.push(Client {
                        docs,
                        tx,
                        queued,
                        range: 0..0,
                        done: false,
                    });
                }
            }
        }
        if clients.is_empty() {
            continue;
        }
        // Requests report in document order: the shortest go first, so
        // they are not held back behind a long article.
        clients.sort_by_key(|c| c.docs.iter().map(String::len).sum::<usize>());
        let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
            translate(model, opts, &mut clients, metrics)
        }));
        if caught.is_err() {
            for c in clients.iter().filter(|c| !c.done) {
                let _ =
                    c.tx.send(Update::Failed("the model failed (panicked)".into()));
            }
        }
    }
}

/// A request in the running batch.
struct Client {
    docs: Vec<String>,
    tx: mpsc::UnboundedSender<Update>,
    queued: Instant,
    /// Its documents' indices in the batch.
    range: Range<usize>,
    done: bool,
}

/// Translates the documents of every client together, sending each
/// client its pieces and [`Update::Done`] as soon as its last document is
/// reported. A client that has gone (its receiver dropped) is dropped from
/// the batch: its rows stop after the current step and its sentences not
/// started never start, while the others go on.
fn translate(
    model: &mut TranslationModel,
    opts: &TranslateOptions,
    clients: &mut [Client],
    metrics: &Metrics,
) {
    let mut at = 0;
    for client in clients.iter_mut() {
        client.range = at..at + client.docs.len();
        at = client.range.end;
    }
    // Each document of the batch: its client and its index there.
    let mut owner = Vec::new();
    let mut docs: Vec<&str> = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        for (i, doc) in client.docs.iter().enumerate() {
            owner.push((c, i));
            docs.push(doc);
        }
    }
    let mut translator = match model.translator(opts.clone()) {
        Ok(t) => t,
        Err(e) => {
            for c in clients.iter() {
                let _ = c.tx.send(Update::Failed(e.to_string()));
            }
            return;
        }
    };
    metrics.running.store(docs.len(), Ordering::Relaxed);
    let start = Instant::now();
    let mut tokens = 0u64;
    let txs: Vec<mpsc::UnboundedSender<Update>> = clients.iter().map(|c| c.tx.clone()).collect();
    let ends: Vec<usize> = clients.iter().map(|c| c.range.end).collect();
    // Clients before `next` have been sent `Done` (or had gone): documents
    // are reported in order, so a piece of document `doc` means every
    // client whose documents all lie before it is complete.
    let mut next = 0;
    let mut delivered = vec![false; ends.len()];
    let mut finish_before = |doc: usize| {
        while next < ends.len() && ends[next] <= doc {
            if txs[next].send(Update::Done).is_ok() {
                delivered[next] = true;
                metrics
                    .translation_latency
                    .observe(clients[next].queued.elapsed());
            }
            next += 1;
        }
    };
    let keep = |doc: usize| !txs[owner[doc].0].is_closed();
    let result = translator.translate_documents_while(&docs, keep, |doc, event| {
        finish_before(doc);
        let (c, local) = owner[doc];
        let update = match event {
            Event::Verbatim(text) => Update::Verbatim {
                doc: local,
                text: text.to_string(),
            },
            Event::Record(record) => {
                tokens += record.output_tokens as u64;
                metrics.sentences.fetch_add(1, Ordering::Relaxed);
                metrics
                    .output_tokens
                    .fetch_add(record.output_tokens as u64, Ordering::Relaxed);
                Update::Record {
                    doc: local,
                    record: Box::new(record.clone()),
                }
            }
            Event::Translated => return Ok(()),
        };
        let _ = txs[c].send(update);
        Ok::<_, tarjoman_engine::Error>(())
    });
    drop(translator);
    metrics.running.store(0, Ordering::Relaxed);
    metrics.batch_done(tokens, start.elapsed());
    let failure = match result {
        Ok(_) => {
            finish_before(usize::MAX);
            None
        }
        Err(e) => {
            tracing::error!("translation failed: {e}");
            Some(e.to_string())
        }
    };
    for (i, c) in clients.iter_mut().enumerate() {
        c.done = delivered[i];
        if c.done {
            continue;
        }
        if c.tx.is_closed() {
            metrics.cancelled.fetch_add(1, Ordering::Relaxed);
        } else if let Some(e) = &failure {
            let _ = c.tx.send(Update::Failed(e.clone()));
            c.done = true;
        }
    }
}

/// The sentence embedder of grounded summaries, loaded on first use.
struct Embedder {
    path: Option<PathBuf>,
    loaded: Option<SentenceEmbedder>,
}

impl Embedder {
    fn get(&mut self) -> std::result::Result<Option<&SentenceEmbedder>, String> {
        if self.loaded.is_none() {
            if let Some(path) = &self.path {
                self.loaded = Some(SentenceEmbedder::load(path).map_err(|e| e.to_string())?);
            }
        }
        Ok(self.loaded.as_ref())
    }
}

/// A summary of `text`: Persian is translated first; English is
/// summarized by the prompted model, grounded when there is an embedder
/// (as `tarjoman summarize` does by default), else in one pass.
fn summary(
    model: &mut TranslationModel,
    embedder: &mut Embedder,
    opts: &TranslateOptions,
    text: &str,
) -> SummaryResult {
    let english = match detect(text) {
        Lang::Persian => model
            .translator(opts.clone())
            .and_then(|mut t| t.translate_text(text))
            .map_err(|e| e.to_string())?,
        _ => text.to_string(),
    };
    let generation = opts.generation.clone();
    let (lm, format) = model
        .gguf_mut()
        .ok_or_else(|| "this model does not write summaries".to_string())?;
    let format = format.to_string();
    let article = summarize::Article::english(&english);
    let summary = match embedder.get()? {
        Some(embedder) => {
            let grounded = summarize::GroundedOptions {
                generation,
                ..Default::default()
            };
            summarize::grounded(lm, &format, embedder, &article, &grounded)
        }
        None => summarize::abstractive(lm, &format, &article, &generation),
    }
    .map_err(|e| e.to_string())?;
    Ok((summary, english))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const LINES: &str =
        "این یک خبر کوتاه است. امروز باران آمد.\nدولت گفت که قیمت‌ها بالا رفته است.\n";

    /// Two requests in one batch, the first (shorter, so reported first)
    /// abandoned after its first sentence: the second is translated in
    /// full, and the first's remaining sentences are not.
    #[test]
    fn a_client_leaving_a_running_batch_stops_alone() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/m2m100");
        let mut model = TranslationModel::load(&fixture).unwrap();
        let metrics = Arc::new(Metrics::default());
        let queue = Arc::new(Queue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
            capacity: 4,
            metrics: Arc::clone(&metrics),
        });
        let engine = Engine {
            queue: Arc::clone(&queue),
            info: Arc::new(ModelInfo {
                name: "m2m100".into(),
                kind: "encoder_decoder",
                summarizes: false,
            }),
        };
        // 300 and 303 sentences, queued before the model's thread starts,
        // so they share one batch.
        let mut leaving = engine.translate(vec![LINES.repeat(100)]).unwrap();
        let mut staying = engine.translate(vec![LINES.repeat(101)]).unwrap();
        engine.close();
        let worker_metrics = Arc::clone(&metrics);
        let worker = std::thread::spawn(move || {
            let mut embedder = Embedder {
                path: None,
                loaded: None,
            };
            let opts = TranslateOptions::default();
            serve(
                &mut model,
                &mut embedder,
                &opts,
                &queue,
                64,
                &worker_metrics,
            );
        });
        while !matches!(leaving.blocking_recv(), Some(Update::Record { .. })) {}
        drop(leaving);
        let mut records = 0;
        let mut done = false;
        while let Some(update) = staying.blocking_recv() {
            match update {
                Update::Record { .. } => records += 1,
                Update::Done => done = true,
                Update::Verbatim { .. } => {}
                Update::Failed(e) => panic!("{e}"),
            }
        }
        worker.join().unwrap();
        assert!(done);
        assert_eq!(records, 303);
        assert_eq!(metrics.cancelled.load(Ordering::Relaxed), 1);
        // Sentences reported in all: the staying client's, and the few of
        // the leaving one's done before its hang-up was seen (not its 300).
        let reported = metrics.sentences.load(Ordering::Relaxed);
        assert!(reported < 303 + 30, "{reported} sentences reported");
    }
}
