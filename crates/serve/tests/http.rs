//! The server over real HTTP on a free loopback port, with the tiny
//! random-weight NLLB fixture of `tarjoman-models` (fast; its English is
//! noise, so these tests check the protocol, not the translation).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tarjoman_engine::{TranslateOptions, TranslationModel};
use tarjoman_serve::{start, Running, ServeConfig};

const SENTENCE: &str = "این یک خبر کوتاه است.";
const TWO_LINES: &str =
    "این یک خبر کوتاه است. امروز باران آمد.\nدولت گفت که قیمت‌ها بالا رفته است.\n";
/// The shared server's body limit.
const LIMIT: usize = 16 * 1024;

fn server(config: ServeConfig) -> Running {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/m2m100");
    let loader = Box::new(move || TranslationModel::load(&fixture).map_err(|e| e.to_string()));
    let config = ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..config
    };
    start(config, loader, TranslateOptions::default()).expect("server starts")
}

/// One server for the tests that need no special settings.
fn shared() -> SocketAddr {
    static SERVER: OnceLock<Running> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            server(ServeConfig {
                body_limit: LIMIT,
                ..ServeConfig::default()
            })
        })
        .addr()
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
}

/// Status, headers' `Retry-After` and body of any answer (ureq makes
/// errors of 4xx and 5xx).
fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, Option<String>, String) {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = response.status();
    let retry = response.header("Retry-After").map(str::to_string);
    (status, retry, response.into_string().unwrap())
}

fn post_json(addr: SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    let (status, _, text) = answer(
        agent()
            .post(&format!("http://{addr}{path}"))
            .send_json(body.clone()),
    );
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn post_raw(addr: SocketAddr, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let (status, _, text) = answer(
        agent()
            .post(&format!("http://{addr}{path}"))
            .set("Content-Type", content_type)
            .send_string(body),
    );
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, text) = answer(agent().get(&format!("http://{addr}{path}")).call());
    (status, text)
}

fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

#[test]
fn languages_list_persian_into_english() {
    let (status, body) = get(shared(), "/languages");
    assert_eq!(status, 200);
    let langs: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(langs[0]["code"], "fa");
    assert_eq!(langs[0]["targets"], json!(["en"]));
    assert_eq!(langs[1]["code"], "en");
}

#[test]
fn translate_takes_json_and_forms() {
    let addr = shared();
    let (status, body) = post_json(
        addr,
        "/translate",
        &json!({"q": SENTENCE, "source": "fa", "target": "en", "format": "text"}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["translatedText"].is_string(), "{body}");
    assert!(body.get("detectedLanguage").is_none());

    let form = format!(
        "q={}&source=auto&target=en",
        SENTENCE
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    );
    let (status, body) = post_raw(
        addr,
        "/translate",
        "application/x-www-form-urlencoded",
        &form,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["translatedText"].is_string(), "{body}");
    assert_eq!(body["detectedLanguage"]["language"], "fa");
}

#[test]
fn translate_takes_an_array_and_keeps_lines() {
    let (status, body) = post_json(
        shared(),
        "/translate",
        &json!({"q": [SENTENCE, TWO_LINES, ""], "source": "auto", "target": "en"}),
    );
    assert_eq!(status, 200, "{body}");
    let texts = body["translatedText"].as_array().expect("an array");
    assert_eq!(texts.len(), 3);
    assert_eq!(texts[1].as_str().unwrap().lines().count(), 2, "{body}");
    assert_eq!(texts[2], "");
    assert_eq!(body["detectedLanguage"].as_array().unwrap().len(), 3);
}

#[test]
fn translate_html_keeps_the_markup() {
    let (status, body) = post_json(
        shared(),
        "/translate",
        &json!({"q": format!("<p class=\"x\"><b>{SENTENCE}</b></p>"), "source": "fa", "target": "en", "format": "html"}),
    );
    assert_eq!(status, 200, "{body}");
    let html = body["translatedText"].as_str().unwrap();
    assert!(
        html.starts_with("<p class=\"x\"><b>") && html.ends_with("</b></p>"),
        "{html}"
    );
}

#[test]
fn detect_names_persian_and_english() {
    let addr = shared();
    let (status, body) = post_json(addr, "/detect", &json!({"q": SENTENCE}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["language"], "fa");
    assert!(body[0]["confidence"].as_f64().unwrap() > 50.0);
    let (_, body) = post_raw(
        addr,
        "/detect",
        "application/x-www-form-urlencoded",
        "q=This+is+the+news+of+the+day",
    );
    assert_eq!(body[0]["language"], "en", "{body}");
}

#[test]
fn bad_requests_get_clear_errors() {
    let addr = shared();
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            "/translate",
            "application/json",
            "{\"q\": ".into(),
            400,
            "malformed JSON",
        ),
        (
            "/translate",
            "application/json",
            "[1, 2]".into(),
            400,
            "JSON object",
        ),
        (
            "/translate",
            "application/json",
            json!({"q": 5, "source": "fa", "target": "en"}).to_string(),
            400,
            "q must be",
        ),
        (
            "/translate",
            "application/json",
            json!({"q": [SENTENCE, 1], "source": "fa", "target": "en"}).to_string(),
            400,
            "q must be",
        ),
        (
            "/translate",
            "application/json",
            json!({"q": "x", "source": 1, "target": "en"}).to_string(),
            400,
            "source must be",
        ),
        (
            "/translate",
            "application/json",
            json!({"q": "", "source": "fa", "target": "en"}).to_string(),
            400,
            "missing q",
        ),
        (
            "/translate",
            "application/json",
            json!({"q": [], "source": "fa", "target": "en"}).to_string(),
            400,
            "missing q",
        ),
        (
            "/translate",
            "application/json",
            json!({"q": "x", "target": "en"}).to_string(),
            400,
            "missing source",
        ),
        (
            "/translate",
            "application/json",
            json!({"q": "x", "source": "xx", "target": "en"}).to_string(),
            400,
            "xx is not supported",
        ),
        (
            "/translate",
            "application/json",
            json!({"q": "x", "source": "fa", "target": "de"}).to_string(),
            400,
            "de is not supported",
        ),
        (
            "/translate",
            "application/json",
            json!({"q": "x", "source": "fa", "target": "en", "format": "pdf"}).to_string(),
            400,
            "format",
        ),
        (
            "/detect",
            "application/json",
            json!({}).to_string(),
            400,
            "missing q",
        ),
        (
            "/v1/translate",
            "application/json",
            json!({"text": ""}).to_string(),
            400,
            "missing text",
        ),
        (
            "/v1/translate",
            "application/json",
            json!({"text": ["a"]}).to_string(),
            400,
            "must be a string",
        ),
        (
            "/v1/summarize",
            "application/json",
            json!({"text": "Some news."}).to_string(),
            501,
            "summaries",
        ),
        (
            "/translate",
            "application/x-www-form-urlencoded",
            "q=%E0%A4".into(),
            400,
            "form",
        ),
    ];
    for (path, content_type, body, status, needle) in cases {
        let (got, answer) = post_raw(addr, path, content_type, &body);
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert!(
            error_of(&answer).contains(needle),
            "{path} {body}: {answer}"
        );
    }
    // Over the body limit: 413 in the same shape. A client that writes the
    // whole body before it reads (as ureq does) gets the answer, not a
    // reset connection.
    let over = json!({"q": "x".repeat(2 * LIMIT), "source": "fa", "target": "en"});
    let (status, answer) = post_json(addr, "/translate", &over);
    assert_eq!(status, 413, "{answer}");
    assert_eq!(error_of(&answer), "Request body too large");
    // The same when the body comes slowly: the server still reads it all
    // before it answers (a server that hung up after the headers would
    // reset the connection under the second half).
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = "x".repeat(2 * LIMIT);
    write!(
        stream,
        "POST /translate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..LIMIT / 2]
    )
    .unwrap();
    for part in body.as_bytes()[LIMIT / 2..].chunks(LIMIT / 2) {
        std::thread::sleep(Duration::from_millis(100));
        stream.write_all(part).expect("the server reads the body");
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Far over it: refused as soon as the headers announce it (sent by
    // hand, without the body).
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /translate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        100 * LIMIT
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("{\"error\":\"Request body too large\"}"),
        "{answer}"
    );
    // No such route, wrong method.
    let (status, body) = get(addr, "/nope");
    assert_eq!(status, 404);
    assert!(body.contains("\"error\""), "{body}");
    let (status, body) = get(addr, "/translate");
    assert_eq!(status, 405);
    assert!(body.contains("\"error\""), "{body}");
    assert_eq!(get(addr, "/health").0, 200);
}

/// Reads Server-Sent Events until the stream ends: (event, data) pairs.
fn events(reader: impl Read) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut event, mut data) = (String::new(), String::new());
    for line in BufReader::new(reader).lines() {
        let line = line.unwrap();
        if let Some(e) = line.strip_prefix("event:") {
            event = e.trim().to_string();
        } else if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
        } else if line.is_empty() && !data.is_empty() {
            out.push((std::mem::take(&mut event), std::mem::take(&mut data)));
        }
    }
    out
}

#[test]
fn v1_translate_streams_the_json_records() {
    let response = agent()
        .post(&format!("http://{}/v1/translate", shared()))
        .send_json(json!({"text": TWO_LINES}))
        .unwrap();
    assert_eq!(response.header("Content-Type"), Some("text/event-stream"));
    let events = events(response.into_reader());
    let records: Vec<Value> = events
        .iter()
        .filter(|(e, _)| e == "record")
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(records.len(), 3, "{events:?}");
    for (i, r) in records.iter().enumerate() {
        // The fields of `tarjoman translate --json`.
        assert_eq!(r["index"], i);
        for field in [
            "line",
            "kind",
            "source",
            "translation",
            "span",
            "source_tokens",
            "output_tokens",
            "ms",
            "warnings",
        ] {
            assert!(r.get(field).is_some(), "{field} missing: {r}");
        }
    }
    assert_eq!(records[2]["line"], 1);
    assert_eq!(records[0]["source"], "این یک خبر کوتاه است.");
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "done", "{events:?}");
    assert_eq!(serde_json::from_str::<Value>(data).unwrap()["records"], 3);
}

#[test]
fn health_metrics_and_page() {
    let addr = shared();
    let (status, body) = get(addr, "/health");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["kind"], "encoder_decoder");
    post_json(
        addr,
        "/translate",
        &json!({"q": SENTENCE, "source": "fa", "target": "en"}),
    );
    let (status, metrics) = get(addr, "/metrics");
    assert_eq!(status, 200);
    for family in [
        "tarjoman_http_requests_total{route=\"/translate\",status=\"200\"}",
        "tarjoman_queue_depth ",
        "tarjoman_tokens_per_second ",
        "tarjoman_sentences_total ",
        "tarjoman_request_duration_seconds_bucket{le=\"+Inf\"}",
        "tarjoman_translation_duration_seconds_count ",
    ] {
        assert!(metrics.contains(family), "{family} missing:\n{metrics}");
    }
    let (status, page) = get(addr, "/");
    assert_eq!(status, 200);
    assert!(page.contains("id=\"source-text\" dir=\"rtl\""));
    // Self-contained: nothing from elsewhere.
    for asset in [
        page.as_str(),
        &get(addr, "/app.js").1,
        &get(addr, "/style.css").1,
    ] {
        assert!(
            !asset.contains("http://") && !asset.contains("https://"),
            "external reference"
        );
    }
    let response = agent().get(&format!("http://{addr}/")).call().unwrap();
    assert!(response
        .header("Content-Security-Policy")
        .unwrap()
        .contains("default-src 'none'"));
}

#[test]
fn the_api_key_is_required_when_set() {
    let server = server(ServeConfig {
        api_key: Some("sesame".into()),
        ..ServeConfig::default()
    });
    let addr = server.addr();
    let ask = |extra: Value| {
        let mut body = json!({"q": SENTENCE, "source": "fa", "target": "en"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        post_json(addr, "/translate", &body)
    };
    let (status, body) = ask(json!({}));
    assert_eq!(status, 403);
    assert_eq!(error_of(&body), "Invalid API key");
    assert_eq!(ask(json!({"api_key": "wrong"})).0, 403);
    assert_eq!(ask(json!({"api_key": "sesame"})).0, 200);
    let (status, _, _) = answer(
        agent()
            .post(&format!("http://{addr}/v1/translate"))
            .set("Authorization", "Bearer sesame")
            .send_json(json!({"text": SENTENCE})),
    );
    assert_eq!(status, 200);
    assert_eq!(post_json(addr, "/detect", &json!({"q": "x"})).0, 403);
    // What every client may see; `/health` tells only the status.
    assert_eq!(get(addr, "/languages").0, 200);
    let (status, body) = get(addr, "/health");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"status": "ok"})
    );
    let (status, body) = get(addr, "/health?api_key=sesame");
    assert_eq!(status, 200);
    assert!(body.contains("\"model\""), "{body}");
    // Metrics need the key, as Prometheus sends it or in the query.
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 403);
    assert_eq!(
        error_of(&serde_json::from_str(&body).unwrap()),
        "Invalid API key"
    );
    let (status, _, body) = answer(
        agent()
            .get(&format!("http://{addr}/metrics"))
            .set("Authorization", "Bearer sesame")
            .call(),
    );
    assert_eq!(status, 200);
    assert!(body.contains("tarjoman_queue_depth"), "{body}");
    assert_eq!(get(addr, "/metrics?api_key=sesame").0, 200);
    server.stop().unwrap();
}

#[test]
fn concurrent_clients_get_answers_or_503_with_retry_after() {
    let server = server(ServeConfig {
        queue_capacity: 3,
        ..ServeConfig::default()
    });
    let addr = server.addr();
    let start = Instant::now();
    let clients: Vec<_> = (0..16)
        .map(|c| {
            std::thread::spawn(move || {
                (0..2)
                    .map(|r| {
                        let body = json!({"q": format!("{SENTENCE} {c} {r}"), "source": "fa", "target": "en"});
                        answer(
                            agent()
                                .post(&format!("http://{addr}/translate"))
                                .send_json(body),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ok = 0;
    for client in clients {
        for (status, retry, body) in client.join().unwrap() {
            match status {
                200 => ok += 1,
                503 => {
                    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
                    assert!(secs >= 1);
                    assert!(body.contains("\"error\""), "{body}");
                }
                other => panic!("{other}: {body}"),
            }
        }
    }
    assert!(ok > 0, "no request was served");
    assert!(start.elapsed() < Duration::from_secs(120));
    assert_eq!(get(addr, "/health").0, 200);
    server.stop().unwrap();
}

/// Sends a request by hand and returns the connection, its status line
/// read.
fn raw_post(addr: SocketAddr, path: &str, body: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    reader
}

#[test]
fn a_client_leaving_mid_stream_leaves_the_server_healthy() {
    let server = server(ServeConfig::default());
    let addr = server.addr();
    // Long enough that it cannot be done before the hang-up is noticed.
    let long = TWO_LINES.repeat(400);
    let mut reader = raw_post(addr, "/v1/translate", &json!({"text": long}).to_string());
    // Read up to the first record, then hang up.
    let mut line = String::new();
    while !line.starts_with("event: record") {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "stream ended early"
        );
    }
    drop(reader);
    let (status, _) = get(addr, "/health");
    assert_eq!(status, 200);
    // The model is free again: a new request is served.
    let (status, body) = post_json(
        addr,
        "/translate",
        &json!({"q": SENTENCE, "source": "fa", "target": "en"}),
    );
    assert_eq!(status, 200, "{body}");
    // The stream's remaining sentences were dropped, not translated.
    let (_, metrics) = get(addr, "/metrics");
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} missing"))
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(value("tarjoman_cancelled_total "), 1, "{metrics}");
    assert!(value("tarjoman_sentences_total ") < 1200, "{metrics}");
    server.stop().unwrap();
}

#[test]
fn stopping_finishes_the_stream_in_flight() {
    let server = server(ServeConfig::default());
    let addr = server.addr();
    let reader = raw_post(
        addr,
        "/v1/translate",
        &json!({"text": TWO_LINES}).to_string(),
    );
    let stopper = std::thread::spawn(move || server.stop());
    let events = events(reader);
    assert_eq!(
        events.iter().filter(|(e, _)| e == "record").count(),
        3,
        "{events:?}"
    );
    assert_eq!(events.last().unwrap().0, "done");
    stopper.join().unwrap().unwrap();
    assert!(TcpStream::connect(addr).is_err(), "still listening");
}

#[test]
fn a_client_too_slow_with_its_headers_is_cut_off() {
    let server = server(ServeConfig {
        header_timeout: Duration::from_secs(1),
        ..ServeConfig::default()
    });
    let addr = server.addr();
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    slow.write_all(b"POST /translate HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let start = Instant::now();
    let mut rest = Vec::new();
    // The server closes the connection (maybe after a 408): no hang.
    let _ = slow.read_to_end(&mut rest);
    let waited = start.elapsed();
    assert!(waited < Duration::from_secs(20), "held for {waited:?}");
    assert!(
        waited >= Duration::from_millis(500),
        "closed at once: {rest:?}"
    );
    assert_eq!(get(addr, "/health").0, 200);
    server.stop().unwrap();
}
