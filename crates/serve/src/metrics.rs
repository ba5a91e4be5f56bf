//! Counters for `GET /metrics`, written out in Prometheus' text format
//! (version 0.0.4) by hand: requests by route and status, the queue,
//! sentences and tokens translated, throughput, and latency histograms.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histograms' buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A latency histogram with [`BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// The sum in microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            if secs <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            let n = count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Everything `/metrics` reports; shared by the handlers and the model's
/// worker thread.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests answered, by route and status.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Requests waiting for the model.
    pub queue_depth: AtomicUsize,
    /// Documents being translated now.
    pub running: AtomicUsize,
    /// Requests turned away because the queue was full.
    pub rejected: AtomicU64,
    /// Requests whose client left before their translation ended.
    pub cancelled: AtomicU64,
    pub sentences: AtomicU64,
    pub output_tokens: AtomicU64,
    /// Wall time the model spent on batches, in microseconds.
    pub busy_us: AtomicU64,
    /// Output tokens per second of the last batch, times 1000.
    pub last_rate_milli: AtomicU64,
    /// From a request's arrival to its answer's last byte being ready
    /// (for the streaming endpoint: its last record).
    pub request_latency: Histogram,
    /// From a document's queueing to its translation's end.
    pub translation_latency: Histogram,
}

impl Metrics {
    pub fn count_request(&self, route: &str, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests.entry((route.to_string(), status)).or_default() += 1;
    }

    /// Records a finished batch: its output tokens over its wall time.
    pub fn batch_done(&self, tokens: u64, wall: Duration) {
        self.busy_us
            .fetch_add(wall.as_micros() as u64, Ordering::Relaxed);
        if wall > Duration::ZERO {
            let rate = tokens as f64 / wall.as_secs_f64();
            self.last_rate_milli
                .store((rate * 1000.0) as u64, Ordering::Relaxed);
        }
    }

    /// The exposition, in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP tarjoman_http_requests_total HTTP requests answered, by route and status.\n",
        );
        out.push_str("# TYPE tarjoman_http_requests_total counter\n");
        {
            let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            for ((route, status), n) in requests.iter() {
                let route = route.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(
                    out,
                    "tarjoman_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let gauge = |out: &mut String, name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        gauge(
            &mut out,
            "tarjoman_queue_depth",
            "gauge",
            "Requests waiting for the model.",
            self.queue_depth.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "tarjoman_documents_running",
            "gauge",
            "Documents being translated now.",
            self.running.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "tarjoman_rejected_total",
            "counter",
            "Requests answered 503 because the queue was full.",
            load(&self.rejected).to_string(),
        );
        gauge(
            &mut out,
            "tarjoman_cancelled_total",
            "counter",
            "Requests whose client left before their translation ended.",
            load(&self.cancelled).to_string(),
        );
        gauge(
            &mut out,
            "tarjoman_sentences_total",
            "counter",
            "Sentences translated.",
            load(&self.sentences).to_string(),
        );
        gauge(
            &mut out,
            "tarjoman_output_tokens_total",
            "counter",
            "Tokens generated.",
            load(&self.output_tokens).to_string(),
        );
        gauge(
            &mut out,
            "tarjoman_model_busy_seconds_total",
            "counter",
            "Wall time the model spent translating.",
            (load(&self.busy_us) as f64 / 1e6).to_string(),
        );
        gauge(
            &mut out,
            "tarjoman_tokens_per_second",
            "gauge",
            "Tokens generated per second by the last batch.",
            (load(&self.last_rate_milli) as f64 / 1000.0).to_string(),
        );
        self.request_latency.render(
            &mut out,
            "tarjoman_request_duration_seconds",
            "Time from a translation request's arrival to its last result.",
        );
        self.translation_latency.render(
            &mut out,
            "tarjoman_translation_duration_seconds",
            "Time from a document's queueing to the end of its translation.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_family() {
        let m = Metrics::default();
        m.count_request("/translate", 200);
        m.request_latency.observe(Duration::from_millis(30));
        m.batch_done(100, Duration::from_secs(2));
        let text = m.render();
        assert!(
            text.contains("tarjoman_http_requests_total{route=\"/translate\",status=\"200\"} 1")
        );
        assert!(text.contains("tarjoman_request_duration_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("tarjoman_request_duration_seconds_bucket{le=\"0.025\"} 0"));
        assert!(text.contains("tarjoman_request_duration_seconds_count 1"));
        assert!(text.contains("tarjoman_tokens_per_second 50"));
        assert!(text.contains("tarjoman_queue_depth 0"));
    }
}
