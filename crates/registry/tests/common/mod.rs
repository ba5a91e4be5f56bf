//! A small HTTP/1.1 server on 127.0.0.1 (HTTPS when given a TLS handshake,
//! [`Server::start_with`]) serving a PEP 691 index, wheels, an npm registry,
//! a stand-in for the Hugging Face Hub and plain files built in the test,
//! with scripted failures and a log of every request. No test touches a
//! real registry.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Cursor, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256, Sha512};
use tarjoman_registry::{
    FetchConfig, HubConfig, Manifest, ModelEntry, ModelFiles, Progress, Resolver, Store,
};

/// What the server does instead of answering normally, once per request.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// Answer with this status and a short body.
    Status(u16),
    /// Send the full headers, then this many body bytes, then close.
    DropAfter(usize),
}

#[derive(Default)]
struct Route {
    body: Arc<Vec<u8>>,
    content_type: String,
    failures: VecDeque<Failure>,
    /// Extra response headers (the hub's `X-Repo-Commit`, `ETag`...).
    headers: Vec<(String, String)>,
    /// Answer with this redirect status and `Location` instead of the body.
    redirect: Option<(u16, String)>,
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    hits: Vec<Hit>,
    /// Project name -> PEP 691 file entries, to rebuild the project page.
    projects: HashMap<String, Vec<serde_json::Value>>,
}

pub struct Server {
    pub base: String,
    state: Arc<Mutex<State>>,
}

/// A connection the server answers on: plain TCP, or TLS over it.
pub trait Conn: Read + Write {
    /// Closes the connection now (a download cut short).
    fn close(&mut self);
}

impl Conn for TcpStream {
    fn close(&mut self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Server {
    /// Starts the server on a free port; it lives until the test exits.
    pub fn start() -> Server {
        Server::start_with("http", Some)
    }

    /// Starts the server with URLs of this `scheme`, answering on what
    /// `accept` makes of each TCP connection (a TLS handshake, for
    /// `https`); a connection it returns `None` for is dropped.
    pub fn start_with<C, A>(scheme: &str, accept: A) -> Server
    where
        C: Conn + 'static,
        A: Fn(TcpStream) -> Option<C> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("{scheme}://{}", listener.local_addr().expect("local addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let accept = Arc::new(accept);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                let accept = Arc::clone(&accept);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    if let Some(conn) = accept(stream) {
                        handle(conn, &state);
                    }
                });
            }
        });
        Server { base, state }
    }

    /// The fetch settings that point a store at this server, with quick retries.
    pub fn fetch_config(&self) -> FetchConfig {
        FetchConfig {
            pypi_index: format!("{}/simple", self.base),
            npm_registry: format!("{}/npm", self.base),
            hf_endpoint: format!("{}/hf", self.base),
            attempts: 3,
            backoff: Duration::from_millis(5),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
        }
    }

    pub fn store(&self, root: &Path) -> Store {
        Store::new(root).with_fetch_config(self.fetch_config())
    }

    pub fn add(&self, path: &str, body: Vec<u8>, content_type: &str) {
        self.add_with_headers(path, body, content_type, &[]);
    }

    /// Serves `body` at `path` with these extra headers (on GET and HEAD).
    pub fn add_with_headers(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
        headers: &[(&str, &str)],
    ) {
        let mut state = self.state.lock().expect("lock");
        state.routes.insert(
            path.to_owned(),
            Route {
                body: Arc::new(body),
                content_type: content_type.to_owned(),
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                ..Route::default()
            },
        );
    }

    /// Answers requests for `path` with a 302 to `location`, with these
    /// extra headers.
    pub fn redirect(&self, path: &str, location: &str, headers: &[(&str, &str)]) {
        self.add_with_headers(path, Vec::new(), "text/plain", headers);
        let mut state = self.state.lock().expect("lock");
        if let Some(route) = state.routes.get_mut(path) {
            route.redirect = Some((302, location.to_owned()));
        }
    }

    /// Every request so far, in order.
    pub fn all_hits(&self) -> Vec<Hit> {
        self.state.lock().expect("lock").hits.clone()
    }

    /// Publishes a Hugging Face model repo at `commit` under `/hf` (the
    /// endpoint is `{base}/hf`), in the hub's URL layout: the revision API
    /// for `main` and the commit, and `resolve/{commit}/{file}` for each
    /// file. Files marked LFS answer with a redirect to `/cdn/{sha256}`
    /// carrying `X-Linked-Etag` and `X-Linked-Size`, as the hub does; the
    /// others carry their git blob hash as `ETag`. `served` overrides what
    /// the CDN sends for a file (a corrupt download).
    pub fn publish_hf_repo(
        &self,
        repo: &str,
        commit: &str,
        files: &[(&str, &[u8], bool)],
        served: &[(&str, &[u8])],
    ) {
        let siblings: Vec<serde_json::Value> = files
            .iter()
            .map(|(name, _, _)| serde_json::json!({ "rfilename": name }))
            .collect();
        let info = serde_json::json!({ "id": repo, "sha": commit, "siblings": siblings });
        for revision in ["main", commit] {
            self.add(
                &format!("/hf/api/models/{repo}/revision/{revision}"),
                info.to_string().into_bytes(),
                "application/json",
            );
        }
        for (name, content, lfs) in files {
            let resolve = format!("/hf/{repo}/resolve/{commit}/{name}");
            let body = served
                .iter()
                .find(|(n, _)| n == name)
                .map_or(content.to_vec(), |(_, b)| b.to_vec());
            if *lfs {
                let sha = sha256_hex(content);
                let cdn = format!("/cdn/{sha}");
                let etag = format!("\"{sha}\"");
                let size = content.len().to_string();
                self.redirect(
                    &resolve,
                    &format!("{}{cdn}", self.base),
                    &[
                        ("X-Repo-Commit", commit),
                        ("X-Linked-Etag", &etag),
                        ("X-Linked-Size", &size),
                        ("ETag", "\"pointer-etag\""),
                    ],
                );
                self.add(&cdn, body, "application/octet-stream");
            } else {
                let blob = format!("blob {}\0", content.len());
                let mut hasher = sha1::Sha1::new();
                hasher.update(blob.as_bytes());
                hasher.update(content);
                let etag = format!("\"{}\"", hex::encode(hasher.finalize()));
                self.add_with_headers(
                    &resolve,
                    body,
                    "application/octet-stream",
                    &[("X-Repo-Commit", commit), ("ETag", &etag)],
                );
            }
        }
    }

    /// Points `revision` (a branch or tag; `/` allowed) of a repo that
    /// [`Server::publish_hf_repo`] published at `commit` to that commit, in
    /// the hub's revision API.
    pub fn name_hf_revision(&self, repo: &str, revision: &str, commit: &str) {
        let info = {
            let state = self.state.lock().expect("lock");
            let route = &state.routes[&format!("/hf/api/models/{repo}/revision/{commit}")];
            route.body.to_vec()
        };
        self.add(
            &format!("/hf/api/models/{repo}/revision/{revision}"),
            info,
            "application/json",
        );
    }

    /// Makes the next requests for `path` fail, in order.
    pub fn fail(&self, path: &str, failures: &[Failure]) {
        let mut state = self.state.lock().expect("lock");
        let route = state.routes.get_mut(path).expect("route exists");
        route.failures.extend(failures.iter().copied());
    }

    /// How many requests `path` got.
    pub fn hits(&self, path: &str) -> usize {
        let state = self.state.lock().expect("lock");
        state.hits.iter().filter(|h| h.path == path).count()
    }

    /// The `Range` headers of the requests for `path`, in order.
    pub fn ranges(&self, path: &str) -> Vec<Option<String>> {
        let state = self.state.lock().expect("lock");
        state
            .hits
            .iter()
            .filter(|h| h.path == path)
            .map(|h| h.range.clone())
            .collect()
    }

    /// Publishes a wheel of `package` `version` holding `member` (plus a
    /// METADATA file), lists it on the package's PEP 691 page next to an
    /// sdist of the same version, and returns the wheel's URL path.
    pub fn publish_wheel(
        &self,
        package: &str,
        version: &str,
        member: &str,
        content: &[u8],
    ) -> String {
        let dist = package.replace('-', "_");
        let filename = format!("{dist}-{version}-py3-none-any.whl");
        let wheel = wheel(&[
            (member, content),
            (
                &format!("{dist}-{version}.dist-info/METADATA"),
                b"Name: x\n",
            ),
        ]);
        self.publish_wheel_bytes(package, &filename, wheel, None)
    }

    /// Lists arbitrary wheel bytes on the index; `claimed_sha256` overrides
    /// the digest the index publishes.
    pub fn publish_wheel_bytes(
        &self,
        package: &str,
        filename: &str,
        wheel: Vec<u8>,
        claimed_sha256: Option<&str>,
    ) -> String {
        let path = format!("/files/{filename}");
        let sha = claimed_sha256.map_or_else(|| sha256_hex(&wheel), str::to_owned);
        let entries = vec![
            serde_json::json!({
                "filename": filename.replace(".whl", ".tar.gz").replace("-py3-none-any", ""),
                "url": format!("{}/files/sdist.tar.gz", self.base),
                "hashes": { "sha256": "00".repeat(32) },
            }),
            serde_json::json!({
                "filename": filename,
                // A host-relative link, as an index may give.
                "url": path,
                "hashes": { "sha256": sha },
                "size": wheel.len(),
                "yanked": false,
            }),
        ];
        self.add(&path, wheel, "application/octet-stream");
        let project = package.to_lowercase();
        let page = {
            let mut state = self.state.lock().expect("lock");
            let files = state.projects.entry(project.clone()).or_default();
            files.extend(entries);
            serde_json::json!({
                "meta": { "api-version": "1.1" },
                "name": project,
                "files": files,
            })
        };
        self.add(
            &format!("/simple/{project}/"),
            page.to_string().into_bytes(),
            "application/vnd.pypi.simple.v1+json",
        );
        path
    }

    /// Publishes an npm package version whose tarball holds `member`;
    /// returns the tarball's URL path. `integrity` false publishes only the
    /// SHA-1 `shasum`, as old packages have.
    pub fn publish_npm(
        &self,
        package: &str,
        version: &str,
        member: &str,
        content: &[u8],
        integrity: bool,
    ) -> String {
        let tarball = tgz(&[("package/package.json", b"{}"), (member, content)]);
        let short = package.rsplit('/').next().unwrap_or(package);
        let tar_path = format!("/npm/{package}/-/{short}-{version}.tgz");
        let mut dist = serde_json::json!({
            "tarball": format!("{}{tar_path}", self.base),
            "shasum": hex::encode(sha1::Sha1::digest(&tarball)),
        });
        if integrity {
            let b64 = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&tarball));
            dist["integrity"] = format!("sha512-{b64}").into();
        }
        let doc = serde_json::json!({ "name": package, "version": version, "dist": dist });
        self.add(&tar_path, tarball, "application/octet-stream");
        self.add(
            &format!("/npm/{}/{version}", package.replace('/', "%2F")),
            doc.to_string().into_bytes(),
            "application/json",
        );
        tar_path
    }
}

fn handle(conn: impl Conn, state: &Mutex<State>) {
    let mut reader = BufReader::new(conn);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or("").to_owned();
    let path = words.next().unwrap_or("").to_owned();
    let mut range = None;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("range") {
                        range = Some(value.trim().to_owned());
                    }
                }
            }
        }
    }
    let stream = reader.get_mut();
    let (route, failure) = {
        let mut state = state.lock().expect("lock");
        state.hits.push(Hit {
            method: method.clone(),
            path: path.clone(),
            range: range.clone(),
        });
        // The path as sent, else percent-decoded (the hub decodes an
        // encoded revision such as `refs%2Fpr%2F1`).
        let key = if state.routes.contains_key(&path) {
            path.clone()
        } else {
            percent_decode(&path)
        };
        match state.routes.get_mut(&key) {
            Some(route) => {
                let failure = route.failures.pop_front();
                (
                    Some((
                        Arc::clone(&route.body),
                        route.content_type.clone(),
                        route.headers.clone(),
                        route.redirect.clone(),
                    )),
                    failure,
                )
            }
            None => (None, None),
        }
    };
    let Some((body, content_type, headers, redirect)) = route else {
        let _ = write_response(stream, "404 Not Found", "text/plain", b"not found", &[]);
        return;
    };
    let mut extra: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if let Some((code, location)) = &redirect {
        extra.push(("Location", location));
        let _ = write_response(stream, &format!("{code} Found"), "text/plain", b"", &extra);
        return;
    }
    if method == "HEAD" {
        let mut head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (name, value) in &extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.flush();
        return;
    }
    match failure {
        Some(Failure::Status(code)) => {
            let _ = write_response(
                stream,
                &format!("{code} Failing"),
                "text/plain",
                b"scripted failure",
                &[],
            );
        }
        Some(Failure::DropAfter(n)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body[..n.min(body.len())]);
            let _ = stream.flush();
            stream.close();
        }
        None => {
            let start = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.strip_suffix('-'))
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n < body.len());
            match start {
                Some(start) => {
                    let content_range = format!("bytes {start}-{}/{}", body.len() - 1, body.len());
                    extra.push(("Content-Range", &content_range));
                    let _ = write_response(
                        stream,
                        "206 Partial Content",
                        &content_type,
                        &body[start..],
                        &extra,
                    );
                }
                None => {
                    let _ = write_response(stream, "200 OK", &content_type, &body, &extra);
                }
            }
        }
    }
}

fn write_response(
    stream: &mut impl Write,
    status: &str,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// `%XX` escapes decoded (invalid ones kept as they are).
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A zip (a wheel) holding these files, deflated.
pub fn wheel(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in files {
        zip.start_file(*name, options).expect("zip entry");
        zip.write_all(content).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

/// A gzip'd tarball holding these files.
pub fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, *content)
            .expect("tar entry");
    }
    tar.into_inner()
        .expect("tar finish")
        .finish()
        .expect("gzip finish")
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Deterministic, poorly compressible test content.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A `[[model.files]]` table for `content` with this `source`.
pub fn file_toml(path: &str, content: &[u8], source: &str) -> String {
    format!(
        "[[model.files]]\npath = \"{path}\"\nsize = {}\nsha256 = \"{}\"\nsource = {source}\n",
        content.len(),
        sha256_hex(content)
    )
}

/// A model entry with these `[[model.files]]` tables, parsed and validated
/// by the real manifest code.
pub fn model(name: &str, files: &[String]) -> ModelEntry {
    let text = format!(
        "[[model]]\nname = \"{name}\"\nfamily = \"llama\"\ntask = \"generate\"\n{}",
        files.concat()
    );
    let manifest = Manifest::parse(&text, "test manifest").expect("valid test manifest");
    manifest.models[0].clone()
}

/// Records what the library reports.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<String>>,
    pub bytes: Mutex<u64>,
}

impl Recorder {
    pub fn events(&self) -> Vec<String> {
        self.events.lock().expect("lock").clone()
    }
}

impl Progress for Recorder {
    fn begin(&self, label: &str, total_bytes: Option<u64>) {
        self.events
            .lock()
            .expect("lock")
            .push(format!("begin {label} {total_bytes:?}"));
    }
    fn advance(&self, bytes: u64) {
        *self.bytes.lock().expect("lock") += bytes;
    }
    fn end(&self) {
        self.events.lock().expect("lock").push("end".to_owned());
    }
    fn note(&self, msg: &str) {
        self.events
            .lock()
            .expect("lock")
            .push(format!("note {msg}"));
    }
}

/// The error and its causes, as `main` prints them.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A hub configuration that reads the stand-in hub of `server`, caching
/// in `cache`.
pub fn hub_config(server: &Server, cache: &Path, offline: bool) -> HubConfig {
    HubConfig {
        endpoint: format!("{}/hf", server.base),
        cache_dir: cache.to_path_buf(),
        offline,
        token: None,
        fetch: server.fetch_config(),
    }
}

/// Resolves `spec` with this hub configuration and an empty store.
pub fn resolve(hub: HubConfig, spec: &str) -> Result<ModelFiles, tarjoman_registry::Error> {
    let manifest = Manifest::builtin().expect("built-in manifest");
    let store_dir = tempfile::tempdir().expect("tempdir");
    let store = Store::new(store_dir.path());
    let resolver = Resolver {
        manifest: &manifest,
        store: &store,
        hub,
    };
    resolver.resolve(spec, &Recorder::default())
}
