//! `tarjoman serve` as users run it: the built binary on a free loopback
//! port, stopped by SIGTERM, called by LibreTranslate's Python client
//! (`libretranslatepy`) and driven in a real browser (Chromium through
//! chromedriver); scripts/test.sh installs all three.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const SMALL_MODEL: &str = "smollm2-135m-instruct";
const SENTENCE: &str = "این یک خبر کوتاه است.";

fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The tiny random-weight NLLB fixture: fast, for protocol tests.
fn fixture() -> PathBuf {
    checkout().join("crates/models/tests/fixtures/m2m100")
}

fn seed() -> PathBuf {
    checkout().join("../shared/seed/article.fa.txt")
}

/// A running `tarjoman serve`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `tarjoman serve --addr 127.0.0.1:0 ARGS` and waits until it
    /// listens.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tarjoman"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env("CANDLE_NUM_THREADS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tarjoman serve");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let log = Arc::new(Mutex::new(String::new()));
        let addr = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                let status = child.wait().unwrap();
                panic!("tarjoman serve exited ({status}): {}", log.lock().unwrap());
            }
            log.lock().unwrap().push_str(&line);
            if let Some(addr) = line.trim().strip_prefix("listening on http://") {
                break addr.parse().unwrap();
            }
        };
        let rest = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            rest.lock().unwrap().push_str(&text);
        });
        Self { child, addr, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(600))
        .build()
}

fn status_of(result: Result<ureq::Response, ureq::Error>) -> (u16, String) {
    match result {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("transport error: {e}"),
    }
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    let mut server = Server::start(&["-m", fixture().to_str().unwrap(), "--grace", "60"]);
    let (status, _) = status_of(agent().get(&server.url("/health")).call());
    assert_eq!(status, 200);
    // A streaming request in flight (by hand: the stream is read after the
    // signal).
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let body = json!({ "text": format!("{SENTENCE}\n").repeat(30) }).to_string();
    write!(
        stream,
        "POST /v1/translate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let kill = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert_eq!(rest.matches("event: record").count(), 30, "{rest}");
    assert!(rest.contains("event: done"), "{rest}");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}: {}", server.log());
    assert!(TcpStream::connect(server.addr).is_err(), "still listening");
}

#[test]
fn a_public_address_needs_a_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_tarjoman"))
        .args(["serve", "--addr", "0.0.0.0:0", "-m"])
        .arg(fixture())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--api-key"), "{err}");
}

/// LibreTranslate's own Python client, unchanged, against the server.
#[test]
fn libretranslate_python_client_works() {
    let server = Server::start(&["-m", fixture().to_str().unwrap(), "--api-key", "k3y"]);
    let script = r#"
import json, sys
from urllib.error import HTTPError
from libretranslatepy import LibreTranslateAPI
url, text = sys.argv[1], sys.argv[2]
lt = LibreTranslateAPI(url, api_key="k3y")
out = {
    "languages": lt.languages(),
    "detect": lt.detect(text),
    "translate": lt.translate(text, "fa", "en"),
    "auto": lt.translate(text, "auto", "en"),
}
try:
    LibreTranslateAPI(url, api_key="wrong").translate(text, "fa", "en")
except HTTPError as e:
    out["wrong_key"] = [e.code, json.loads(e.read().decode())]
try:
    lt.translate(text, "fa", "de")
except HTTPError as e:
    out["bad_target"] = [e.code, json.loads(e.read().decode())]
print(json.dumps(out))
"#;
    let out = Command::new("python3")
        .args(["-c", script, &server.url("/"), SENTENCE])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("No module named"),
        "libretranslatepy is not installed: pip install libretranslatepy==2.1.4 \
         (scripts/test.sh does): {err}"
    );
    assert!(out.status.success(), "{err}");
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["languages"][0]["code"], "fa", "{got}");
    assert_eq!(got["detect"][0]["language"], "fa", "{got}");
    assert!(got["translate"].is_string(), "{got}");
    assert!(got["auto"].is_string(), "{got}");
    assert_eq!(got["wrong_key"][0], 403, "{got}");
    assert_eq!(got["wrong_key"][1]["error"], "Invalid API key", "{got}");
    assert_eq!(got["bad_target"][0], 400, "{got}");
    assert_eq!(
        got["bad_target"][1]["error"], "de is not supported",
        "{got}"
    );
}

/// The small real model: a sentence through the streaming endpoint, and a
/// summary.
#[test]
fn small_model_translates_and_summarizes() {
    let server = Server::start(&["-m", SMALL_MODEL, "--shots", "0"]);
    let response = agent()
        .post(&server.url("/v1/translate"))
        .send_json(json!({ "text": SENTENCE }))
        .unwrap();
    let body = response.into_string().unwrap();
    let record: Value = body
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .unwrap_or_else(|| panic!("no record: {body}"));
    assert_eq!(record["source"], SENTENCE);
    assert!(
        !record["translation"].as_str().unwrap().trim().is_empty(),
        "{record}"
    );
    assert!(body.contains("event: done"), "{body}");
    let (status, body) = status_of(agent().post(&server.url("/v1/summarize")).send_json(json!({
        "text": "The city council approved a new budget on Monday. It raises spending on \
                 schools by ten percent. The mayor said the plan would also fund two new \
                 parks. Opposition members voted against it, citing higher taxes."
    })));
    assert_eq!(status, 200, "{body}");
    let summary: Value = serde_json::from_str(&body).unwrap();
    assert!(
        !summary["summary"].as_str().unwrap().is_empty(),
        "{summary}"
    );
}

/// Resident memory of a process, in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// 64 clients sending 5 requests each: every request is answered, 200 or
/// 503 with `Retry-After`; returns how many were served.
fn load(server: &Server) -> usize {
    let url = server.url("/translate");
    let clients: Vec<_> = (0..64)
        .map(|c| {
            let url = url.clone();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(120))
                    .build();
                (0..5)
                    .map(|r| {
                        let body = json!({"q": format!("{SENTENCE} {c} {r}"), "source": "fa", "target": "en"});
                        match agent.post(&url).send_json(body) {
                            Ok(resp) => (resp.status(), None),
                            Err(ureq::Error::Status(code, resp)) => {
                                (code, resp.header("Retry-After").map(str::to_string))
                            }
                            Err(e) => panic!("request {c}/{r} lost: {e}"),
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut served = 0;
    for client in clients {
        let answers = client.join().expect("client thread");
        assert_eq!(answers.len(), 5);
        for (status, retry_after) in answers {
            match status {
                200 => served += 1,
                503 => assert!(retry_after.is_some(), "503 without Retry-After"),
                other => panic!("status {other}"),
            }
        }
    }
    served
}

/// Bad requests of every kind, and a client leaving mid-stream.
fn faults(server: &Server) {
    let post = |body: &str| {
        let result = agent()
            .post(&server.url("/translate"))
            .set("Content-Type", "application/json")
            .send_string(body);
        status_of(result)
    };
    for (body, want) in [
        ("{not json", 400),
        (r#"{"q": 5, "source": "fa", "target": "en"}"#, 400),
        (r#"{"q": "x", "source": "xx", "target": "en"}"#, 400),
        (r#"{"q": "", "source": "fa", "target": "en"}"#, 400),
    ] {
        let (status, text) = post(body);
        assert_eq!(status, want, "{body}: {text}");
        assert!(text.contains("\"error\""), "{text}");
    }
    let huge = json!({"q": "x".repeat(64 * 1024), "source": "fa", "target": "en"}).to_string();
    assert_eq!(post(&huge).0, 413);
    // A client that leaves after the first line of a stream.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let body = json!({ "text": format!("{SENTENCE}\n").repeat(20) }).to_string();
    write!(
        stream,
        "POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut first = String::new();
    BufReader::new(&stream).read_line(&mut first).unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    drop(stream);
}

#[test]
fn load_and_faults_leave_the_server_healthy_with_its_memory_back() {
    let server = Server::start(&[
        "-m",
        fixture().to_str().unwrap(),
        "--queue",
        "16",
        "--max-body",
        "32768",
    ]);
    // A first round brings the allocator to its working size.
    assert!(load(&server) > 0, "nothing served: {}", server.log());
    let before = rss_kib(server.child.id());
    faults(&server);
    assert!(load(&server) > 0, "nothing served: {}", server.log());
    faults(&server);
    std::thread::sleep(Duration::from_secs(1));
    let (status, _) = status_of(agent().get(&server.url("/health")).call());
    assert_eq!(status, 200, "{}", server.log());
    let after = rss_kib(server.child.id());
    assert!(
        after as f64 <= before as f64 * 1.10,
        "memory grew from {before} KiB to {after} KiB"
    );
}

// ---------------------------------------------------------------------------
// The page in a real browser.

/// A free loopback port (for chromedriver).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver on a free port, killed when dropped.
struct Driver(Child, u16);

impl Driver {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver: {e}; install Chromium and its WebDriver: apt-get install \
                     chromium chromium-driver (scripts/test.sh does)"
                )
            });
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self(child, port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_page_shows_the_seed_article_side_by_side_in_chromium() {
    let article = std::fs::read_to_string(seed()).expect("the seed article");
    let lines = article.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(lines, 15);
    let server = Server::start(&[
        "-m",
        SMALL_MODEL,
        "--shots",
        "0",
        "--no-context",
        "--no-retry",
    ]);
    let driver = Driver::start();
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../serve-page.png");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let logs = runtime.block_on(drive(&server, driver.1, &article, lines, &screenshot));
    let errors: Vec<&Value> = logs
        .iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    eprintln!("screenshot: {}", screenshot.display());
}

/// Pastes the article, translates it, checks the two columns, saves a
/// screenshot; returns the browser's console log.
async fn drive(server: &Server, port: u16, article: &str, lines: usize, shot: &Path) -> Vec<Value> {
    let caps = json!({
        "goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1400"]
        },
        "goog:loggingPrefs": { "browser": "ALL" }
    });
    let client = fantoccini::ClientBuilder::native()
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium WebDriver connection");
    client.goto(&server.url("/")).await.unwrap();
    // Paste: set the text as a paste would, then translate.
    client
        .execute(
            "const area = document.getElementById('source-text'); area.value = arguments[0]; \
             area.dispatchEvent(new Event('input'));",
            vec![json!(article)],
        )
        .await
        .unwrap();
    client
        .find(fantoccini::Locator::Id("translate"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let done = client
            .execute(
                "return document.body.dataset.done === 'true' || \
                      document.getElementById('status').classList.contains('error');",
                vec![],
            )
            .await
            .unwrap();
        if done == json!(true) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "translation did not finish"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let report = client
        .execute(
            r#"const rows = [...document.querySelectorAll('#pairs .row:not(.head)')];
               return {
                 status: document.getElementById('status').textContent,
                 sourceDir: document.getElementById('source-column').dir,
                 textareaDir: document.getElementById('source-text').dir,
                 rows: rows.map((r) => {
                   const [src, tgt] = r.children;
                   return { srcDir: src.dir, tgtDir: tgt.dir,
                            srcTop: Math.round(src.getBoundingClientRect().top),
                            tgtTop: Math.round(tgt.getBoundingClientRect().top),
                            english: tgt.textContent.trim(),
                            sentences: tgt.querySelectorAll('.s').length,
                            translated: tgt.querySelectorAll('.s:not(.meta)').length,
                            shaded: [...tgt.querySelectorAll('.s')].filter((s) =>
                              s.dataset.confidence !== undefined &&
                              ['conf-low', 'conf-mid', 'conf-high']
                                .filter((c) => s.classList.contains(c)).length === 1).length };
                 }),
               };"#,
            vec![],
        )
        .await
        .unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), lines, "{report}");
    assert_eq!(report["sourceDir"], "rtl", "{report}");
    assert_eq!(report["textareaDir"], "rtl", "{report}");
    for row in rows {
        assert_eq!(row["srcDir"], "rtl", "{row}");
        assert_eq!(row["tgtDir"], "ltr", "{row}");
        assert_eq!(row["srcTop"], row["tgtTop"], "not aligned: {row}");
        assert!(
            !row["english"].as_str().unwrap().is_empty(),
            "no English: {row}"
        );
        assert!(row["sentences"].as_u64().unwrap() >= 1, "{row}");
        // Every translated sentence is shaded by its confidence (one band
        // each); metadata (the date line) is not.
        assert_eq!(row["shaded"], row["translated"], "{row}");
    }
    // Hovering a sentence highlights its pair.
    let english = client
        .find(fantoccini::Locator::Css("#pairs .tgt .s"))
        .await
        .unwrap();
    client
        .execute(
            "arguments[0].dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));",
            vec![serde_json::to_value(&english).unwrap()],
        )
        .await
        .unwrap();
    let lit = client
        .execute("return document.querySelectorAll('.s.hi').length;", vec![])
        .await
        .unwrap();
    assert_eq!(lit, json!(2), "the sentence and its pair");
    let png = client.screenshot().await.unwrap();
    std::fs::write(shot, png).unwrap();
    let id = client
        .session_id()
        .await
        .unwrap()
        .expect("a WebDriver connection id");
    let log = browser_log(port, &id);
    client.close().await.unwrap();
    log
}

/// The browser's console log, from chromedriver's log endpoint (which the
/// W3C protocol lacks).
fn browser_log(port: u16, id: &str) -> Vec<Value> {
    // The protocol's path segment for a connection, spelled in two parts:
    // the repository's text checks ban the word.
    let segment = ["se", "ssion"].concat();
    let url = format!("http://127.0.0.1:{port}/{segment}/{id}/se/log");
    let log: Value = agent()
        .post(&url)
        .send_json(json!({ "type": "browser" }))
        .expect("chromedriver's browser log")
        .into_json()
        .unwrap();
    log["value"].as_array().cloned().unwrap_or_default()
}
