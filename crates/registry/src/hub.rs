//! Files of a Hugging Face Hub repository, in the hub's own cache.
//!
//! As of 2026-12-07 the network part is the `hf-hub` crate, 1.0.0, through
//! its async API, driven by a current-thread tokio runtime that [`Hub`]
//! owns (this crate's API blocks). It replaced a hand-written client of the
//! same protocol, kept while hf-hub 0.4's blocking API took its metadata
//! requests through bundled webpki roots. What it asks the hub:
//!
//! - the revision's commit and file list: `GET
//!   {endpoint}/api/models/{repo}/revision/{revision}` (`HFRepository::info`);
//! - each missing file, at that commit (`download_file`, cache mode): a
//!   `HEAD` of `{endpoint}/{repo}/resolve/{commit}/{file}` following only
//!   redirects within the hub (`X-Repo-Commit`, `X-Linked-Etag` or `ETag`,
//!   `X-Linked-Size` or `Content-Length`), then a `GET` of it that follows
//!   the redirect to the CDN, or hf-xet's transfer where the `HEAD` names an
//!   `X-Xet-Hash`.
//!
//! TLS: hf-hub's HTTP client is reqwest 0.13, and the workspace turns on
//! reqwest's `native-tls` feature, which makes native TLS (OpenSSL on
//! Linux) the backend of every reqwest client in the build, hf-hub's and
//! hf-xet's included. Certificates are checked against the system's store
//! (and what `SSL_CERT_FILE` and `SSL_CERT_DIR` name), never a bundled root
//! list; reqwest's rustls backend on aws-lc-rs, which hf-hub turns on, is
//! compiled but not used. `tests/hub_tls.rs` checks that a CA only the store
//! holds is trusted, and that without it the download fails as an unknown
//! issuer. Tries come from [`HubConfig::fetch`], and so do the timeouts of
//! the client handed to hf-hub; the one it builds itself for the `HEAD`s
//! (redirects not followed) has none.
//!
//! hf-hub does not check what it downloads, so this module does: a new blob
//! whose ETag is a SHA-256 (an LFS file) is hashed, any other compared in
//! size with what the hub announced, and one that does not match is removed
//! with the snapshot's link to it. hf-hub retries failed requests but not a
//! transfer that breaks off; that one is started over.
//!
//! The cache is `huggingface_hub`'s, so the Python tools and this one share
//! downloads (hf-hub writes it the same way, with its `.locks/` beside it):
//!
//! ```text
//! $HF_HUB_CACHE (default $HF_HOME/hub, default ~/.cache/huggingface/hub)
//!   models--{org}--{name}/
//!     blobs/{etag}                      file contents, named by ETag
//!     snapshots/{commit}/{file}  ->  ../../blobs/{etag}
//!     refs/{revision}                   the commit a branch or tag named
//!     .tarjoman/{commit}.files.json     the hub's file list (this crate's)
//! ```
//!
//! Resolution is cache first: a revision whose snapshot already holds every
//! file needed is used without a request. `HF_HUB_OFFLINE=1` forbids the
//! network; a file not in the cache is then an error naming the repo and
//! the file. `HF_TOKEN` is sent as a bearer token; without it hf-hub falls
//! back to `HF_TOKEN_PATH` and the token `huggingface-cli login` stored.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};

use hf_hub::progress::{DownloadEvent, ProgressEvent, ProgressHandler};
use hf_hub::{HFClient, HFError};
use tokio::sync::mpsc;

use crate::config::{FetchConfig, HF_ENDPOINT_ENV};
use crate::digest::hash_file;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Root of Hugging Face's local files (`$HF_HOME/hub` is the cache).
pub const HF_HOME_ENV: &str = "HF_HOME";
/// The hub cache directory itself, overriding `$HF_HOME/hub`.
pub const HF_HUB_CACHE_ENV: &str = "HF_HUB_CACHE";
/// `1` (or `true`, `yes`, `on`): never touch the network.
pub const HF_HUB_OFFLINE_ENV: &str = "HF_HUB_OFFLINE";
/// Access token for gated or private repos.
pub const HF_TOKEN_ENV: &str = "HF_TOKEN";

/// Where the hub is and where its files are cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// e.g. `https://huggingface.co`.
    pub endpoint: String,
    /// The cache directory (holding `models--org--name/`).
    pub cache_dir: PathBuf,
    pub offline: bool,
    pub token: Option<String>,
    /// Timeouts and retries (its `hf_endpoint` is not used).
    pub fetch: FetchConfig,
}

impl HubConfig {
    /// From `HF_ENDPOINT`, `HF_HUB_CACHE`, `HF_HOME`, `HF_HUB_OFFLINE` and
    /// `HF_TOKEN`, as `huggingface_hub` reads them.
    pub fn from_env() -> HubConfig {
        HubConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`HubConfig::from_env`], reading variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> HubConfig {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let endpoint = var(HF_ENDPOINT_ENV)
            .unwrap_or_else(|| "https://huggingface.co".to_owned())
            .trim_end_matches('/')
            .to_owned();
        let cache_dir = match (var(HF_HUB_CACHE_ENV), var(HF_HOME_ENV)) {
            (Some(cache), _) => PathBuf::from(cache),
            (None, Some(home)) => PathBuf::from(home).join("hub"),
            (None, None) => dirs::cache_dir()
                .unwrap_or_else(|| PathBuf::from(".cache"))
                .join("huggingface")
                .join("hub"),
        };
        let offline = var(HF_HUB_OFFLINE_ENV).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        HubConfig {
            endpoint,
            cache_dir,
            offline,
            token: var(HF_TOKEN_ENV),
            fetch: FetchConfig::default(),
        }
    }
}

/// A repository at a revision: `org/name[@revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoId {
    pub repo: String,
    /// A branch, tag or commit; `main` unless given.
    pub revision: String,
}

impl RepoId {
    /// Parses `org/name` or `org/name@revision`; `None` if `spec` is not of
    /// that shape (names are ASCII letters, digits, `-`, `_`, `.`).
    pub fn parse(spec: &str) -> Option<RepoId> {
        let (repo, revision) = match spec.split_once('@') {
            Some((repo, rev)) => (repo, rev),
            None => (spec, "main"),
        };
        let (org, name) = repo.split_once('/')?;
        let part_ok = |p: &str| {
            !p.is_empty()
                && !p.starts_with(['.', '-'])
                && !p.contains("..")
                && !p.contains("--")
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        let revision_ok = !revision.is_empty()
            && !revision.contains("..")
            && !revision.starts_with('/')
            && revision
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        (part_ok(org) && part_ok(name) && revision_ok).then(|| RepoId {
            repo: repo.to_owned(),
            revision: revision.to_owned(),
        })
    }

    /// `models--org--name`, the repo's folder in the cache.
    pub fn cache_folder(&self) -> String {
        format!("models--{}", self.repo.replace('/', "--"))
    }
}

impl std::fmt::Display for RepoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.repo, self.revision)
    }
}

/// A repo's files at one commit, as far as they are cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub repo: RepoId,
    pub commit: String,
    /// `.../snapshots/{commit}`.
    pub dir: PathBuf,
    /// Every file of the repo at this commit (from the hub when online,
    /// else those in the cached snapshot).
    pub files: Vec<String>,
    /// Whether the listing came from the hub (`false`: from the cache).
    pub listed_online: bool,
}

/// Files downloaded by [`Hub::ensure`], for provenance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    pub downloaded: Vec<String>,
    pub cached: Vec<String>,
}

/// The hub client and cache.
pub struct Hub {
    config: HubConfig,
    remote: Option<Remote>,
}

/// hf-hub's client, and the runtime that drives its futures for the
/// blocking API of this crate.
struct Remote {
    client: HFClient,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

const USER_AGENT: &str = concat!("tarjoman/", env!("CARGO_PKG_VERSION"));

fn is_commit_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Hub {
    pub fn new(config: HubConfig) -> Hub {
        Hub {
            config,
            remote: None,
        }
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    fn repo_dir(&self, repo: &RepoId) -> PathBuf {
        self.config.cache_dir.join(repo.cache_folder())
    }

    /// Where the hub's file list of `repo` at `commit` is kept (beside
    /// `huggingface_hub`'s folders, which it does not read).
    fn listing_path(&self, repo: &RepoId, commit: &str) -> PathBuf {
        self.repo_dir(repo)
            .join(".tarjoman")
            .join(format!("{commit}.files.json"))
    }

    fn remote(&mut self) -> Result<&Remote> {
        let remote = match self.remote.take() {
            Some(remote) => remote,
            None => Remote::new(&self.config)?,
        };
        Ok(self.remote.insert(remote))
    }

    /// The cached snapshot of `repo`, if its revision resolves to one.
    pub fn cached_snapshot(&self, repo: &RepoId) -> Option<Snapshot> {
        let dir = self.repo_dir(repo);
        let commit = if is_commit_hash(&repo.revision) {
            repo.revision.clone()
        } else {
            fs::read_to_string(dir.join("refs").join(&repo.revision))
                .ok()?
                .trim()
                .to_owned()
        };
        let snapshot = dir.join("snapshots").join(&commit);
        if !snapshot.is_dir() {
            return None;
        }
        // The repo's file list as the hub gave it, when we downloaded; a
        // snapshot directory alone may miss a file whose download failed.
        let files = match fs::read(self.listing_path(repo, &commit))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Vec<String>>(&bytes).ok())
        {
            Some(files) => files,
            None => {
                let mut files = Vec::new();
                list_files(&snapshot, "", &mut files);
                files.sort();
                files
            }
        };
        Some(Snapshot {
            repo: repo.clone(),
            commit,
            dir: snapshot,
            files,
            listed_online: false,
        })
    }

    /// Asks the hub for the commit of `repo`'s revision and its file list.
    pub fn list(&mut self, repo: &RepoId, _progress: &dyn Progress) -> Result<Snapshot> {
        if self.config.offline {
            return Err(Error::HubOffline {
                repo: repo.to_string(),
                file: "the file list".to_owned(),
                cache: self.repo_dir(repo),
            });
        }
        let what = format!(
            "GET {}/api/models/{}/revision/{}",
            self.config.endpoint, repo.repo, repo.revision
        );
        let remote = self.remote()?;
        let model = remote.model(&repo.repo);
        let info = remote
            .run(
                model.info().revision(repo.revision.clone()).send(),
                None,
                |_| {},
            )
            .map_err(|source| Error::Hub {
                what: what.clone(),
                source: Box::new(source),
            })?;
        let sha = info.sha.unwrap_or_default();
        if !is_commit_hash(&sha) {
            return Err(Error::Resolve {
                what,
                message: format!("`sha` is {sha:?}, not a commit hash"),
            });
        }
        let mut files: Vec<String> = info
            .siblings
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.rfilename)
            .collect();
        files.sort();
        let listing = serde_json::to_string(&files).map_err(|e| Error::Resolve {
            what,
            message: e.to_string(),
        })?;
        write_atomically(&self.listing_path(repo, &sha), &listing)?;
        Ok(Snapshot {
            repo: repo.clone(),
            dir: self.repo_dir(repo).join("snapshots").join(&sha),
            commit: sha,
            files,
            listed_online: true,
        })
    }

    /// Makes sure `files` of the snapshot are in the cache, downloading the
    /// missing ones (with progress), and records the revision's commit.
    pub fn ensure(
        &mut self,
        snapshot: &Snapshot,
        files: &[String],
        progress: &dyn Progress,
    ) -> Result<Fetched> {
        let mut fetched = Fetched::default();
        for file in files {
            let target = snapshot.dir.join(file);
            if target.is_file() {
                fetched.cached.push(file.clone());
                continue;
            }
            if self.config.offline {
                return Err(Error::HubOffline {
                    repo: snapshot.repo.to_string(),
                    file: file.clone(),
                    cache: self.repo_dir(&snapshot.repo),
                });
            }
            self.download(snapshot, file, &target, progress)
                .map_err(|source| Error::Fetch {
                    model: snapshot.repo.repo.clone(),
                    file: file.clone(),
                    from: format!("Hugging Face {}", self.config.endpoint),
                    source: Box::new(source),
                })?;
            fetched.downloaded.push(file.clone());
        }
        // Remember which commit the branch or tag named, for later runs
        // (and offline ones) to find the snapshot without asking.
        if !is_commit_hash(&snapshot.repo.revision) && snapshot.listed_online {
            let refs = self.repo_dir(&snapshot.repo).join("refs");
            write_atomically(&refs.join(&snapshot.repo.revision), &snapshot.commit)?;
        }
        Ok(fetched)
    }

    /// Downloads `file` into the cache with hf-hub, trying again (from the
    /// start) when the transfer breaks off, then checks it.
    fn download(
        &mut self,
        snapshot: &Snapshot,
        file: &str,
        target: &Path,
        progress: &dyn Progress,
    ) -> Result<()> {
        let what = format!(
            "GET {}/{}/resolve/{}/{file}",
            self.config.endpoint, snapshot.repo.repo, snapshot.commit
        );
        let label = format!("{}/{file}", snapshot.repo.repo);
        let blobs = self.repo_dir(&snapshot.repo).join("blobs");
        let attempts = self.config.fetch.attempts.max(1);
        let backoff = self.config.fetch.backoff;
        let had = blob_names(&blobs);
        let remote = self.remote()?;
        let model = remote.model(&snapshot.repo.repo);
        let mut attempt = 1;
        let (path, announced) = loop {
            let (handler, events) = forward_progress();
            let mut tally = Tally::default();
            let result = remote.run(
                model
                    .download_file()
                    .filename(file)
                    .revision(snapshot.commit.clone())
                    .progress(handler)
                    .send(),
                Some(events),
                |event| tally.on(&event, &label, progress),
            );
            if tally.begun {
                progress.end();
            }
            match result {
                Ok(path) => break (path, tally.announced),
                Err(err) if attempt < attempts && broke_off(&err) => {
                    let failure = format!("{label}: {err}");
                    crate::http::pause(backoff, attempt, attempts, &failure, progress);
                    attempt += 1;
                }
                Err(err) => {
                    return Err(Error::Hub {
                        what,
                        source: Box::new(err),
                    })
                }
            }
        };
        if path != target {
            return Err(Error::Resolve {
                what,
                message: format!(
                    "the hub's X-Repo-Commit put the file at {}, not in the snapshot {}",
                    path.display(),
                    snapshot.commit
                ),
            });
        }
        // The blob the snapshot names: the symlink's target, or where there
        // are no symlinks (copies), the one blob this download added.
        let etag = fs::read_link(target)
            .ok()
            .and_then(|link| link.file_name().map(|n| n.to_string_lossy().into_owned()))
            .or_else(|| {
                let mut added = blob_names(&blobs)
                    .difference(&had)
                    .cloned()
                    .collect::<Vec<_>>();
                (added.len() == 1)
                    .then(|| added.pop())
                    .flatten()
                    .map(|n| n.to_string_lossy().into_owned())
            });
        let Some(etag) = etag else {
            return Ok(());
        };
        // A blob the cache held before this download is taken as it is, as
        // the rest of the cache is.
        if had.contains(&OsString::from(&etag)) {
            return Ok(());
        }
        let blob = blobs.join(&etag);
        check_download(&blob, &etag, announced, file, &label, progress).inspect_err(|_| {
            // Not installed: neither the snapshot's file nor the blob stays.
            let _ = fs::remove_file(target);
            let _ = fs::remove_file(&blob);
        })
    }
}

impl Remote {
    fn new(config: &HubConfig) -> Result<Remote> {
        let what = || format!("set up the Hugging Face client for {}", config.endpoint);
        let fail = |source: HFError| Error::Hub {
            what: what(),
            source: Box::new(source),
        };
        let http = reqwest::Client::builder()
            .tls_backend_native()
            .connect_timeout(config.fetch.connect_timeout)
            .read_timeout(config.fetch.read_timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| fail(e.into()))?;
        let mut builder = HFClient::builder()
            .client(http)
            .user_agent(USER_AGENT)
            .endpoint(config.endpoint.as_str())
            .cache_dir(&config.cache_dir)
            // hf-hub counts retries after the first try, and waits up to
            // twice its base delay before the first retry.
            .retry_max_attempts(config.fetch.attempts.saturating_sub(1) as usize)
            .retry_base_delay(config.fetch.backoff / 2);
        if let Some(token) = &config.token {
            builder = builder.token(token.as_str());
        }
        let client = builder.build().map_err(fail)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(e.into()))?;
        Ok(Remote {
            client,
            runtime: Some(runtime),
        })
    }

    fn model(&self, repo: &str) -> hf_hub::HFRepository<hf_hub::RepoTypeModel> {
        let (owner, name) = hf_hub::split_id(repo);
        self.client.model(owner, name)
    }

    /// Runs `future` to completion, handing the progress events that
    /// `events` receives meanwhile to `on_event` on this thread. From inside
    /// another tokio runtime (where blocking on one panics), it runs on a
    /// scoped thread of its own.
    fn run<F>(
        &self,
        future: F,
        events: Option<mpsc::UnboundedReceiver<ProgressEvent>>,
        mut on_event: impl FnMut(ProgressEvent) + Send,
    ) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as Remote");
        let driven = async move {
            let Some(mut events) = events else {
                return future.await;
            };
            tokio::pin!(future);
            loop {
                tokio::select! {
                    biased;
                    Some(event) = events.recv() => on_event(event),
                    out = &mut future => {
                        while let Ok(event) = events.try_recv() {
                            on_event(event);
                        }
                        return out;
                    }
                }
            }
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| runtime.block_on(driven))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        } else {
            runtime.block_on(driven)
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Passes hf-hub's progress events (from whichever thread emits them) to a
/// channel.
struct Forward(mpsc::UnboundedSender<ProgressEvent>);

impl ProgressHandler for Forward {
    fn on_progress(&self, event: &ProgressEvent) {
        let _ = self.0.send(event.clone());
    }
}

fn forward_progress() -> (
    hf_hub::progress::Progress,
    mpsc::UnboundedReceiver<ProgressEvent>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    (hf_hub::progress::Progress::new(Forward(tx)), rx)
}

/// One file's download, as hf-hub's events report it, turned into this
/// crate's `begin`/`advance`/`end`.
#[derive(Default)]
struct Tally {
    begun: bool,
    /// The size the hub announced (`X-Linked-Size` or `Content-Length`).
    announced: Option<u64>,
    done: u64,
}

impl Tally {
    fn on(&mut self, event: &ProgressEvent, label: &str, progress: &dyn Progress) {
        let ProgressEvent::Download(event) = event else {
            return;
        };
        let done = match event {
            DownloadEvent::Start { total_bytes, .. } => {
                self.announced = (*total_bytes > 0).then_some(*total_bytes);
                if !self.begun {
                    progress.begin(label, self.announced);
                    self.begun = true;
                }
                return;
            }
            DownloadEvent::Progress { files } => {
                files.iter().map(|f| f.bytes_completed).max().unwrap_or(0)
            }
            DownloadEvent::AggregateProgress {
                bytes_completed, ..
            } => *bytes_completed,
            _ => return,
        };
        if done > self.done {
            progress.advance(done - self.done);
            self.done = done;
        }
    }
}

/// Whether a download failed because the transfer broke off (a reset or a
/// read timeout in the body), which starting over may cure. hf-hub retries
/// failed requests itself, but not a body cut short.
fn broke_off(err: &HFError) -> bool {
    matches!(err, HFError::Request { source, .. } if source.is_body() || source.is_decode())
}

/// Checks a freshly downloaded blob against what the hub announced: its
/// SHA-256 where the ETag is one (LFS files), else its size.
fn check_download(
    blob: &Path,
    etag: &str,
    announced: Option<u64>,
    file: &str,
    label: &str,
    progress: &dyn Progress,
) -> Result<()> {
    let len = fs::metadata(blob)
        .map_err(|e| Error::io("read", blob, e))?
        .len();
    if is_sha256(etag) {
        progress.begin(&format!("checking {label}"), Some(len));
        let hashed = hash_file(blob, progress);
        progress.end();
        let (_, actual) = hashed?;
        if !actual.eq_ignore_ascii_case(etag) {
            return Err(Error::HubContent {
                file: file.to_owned(),
                check: "SHA-256",
                expected: etag.to_ascii_lowercase(),
                actual,
            });
        }
    } else if let Some(size) = announced.filter(|&size| size != len) {
        return Err(Error::HubContent {
            file: file.to_owned(),
            check: "size",
            expected: format!("{size} bytes"),
            actual: format!("{len} bytes"),
        });
    }
    Ok(())
}

/// The names in a repo's `blobs/` folder.
fn blob_names(blobs: &Path) -> HashSet<OsString> {
    fs::read_dir(blobs)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

fn write_atomically(path: &Path, content: &str) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::io("write", path, std::io::ErrorKind::InvalidInput.into()))?;
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io("write", path, e))?;
    std::io::Write::write_all(&mut tmp, content.as_bytes())
        .map_err(|e| Error::io("write", path, e))?;
    tmp.persist(path)
        .map(drop)
        .map_err(|e| Error::io("write", path, e.error))
}

/// Files under `dir` (following the snapshot's symlinks), as
/// `/`-separated paths relative to it.
fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if path.is_dir() {
            list_files(&path, &rel, out);
        } else if path.is_file() {
            out.push(rel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repo_ids() {
        assert_eq!(
            RepoId::parse("Helsinki-NLP/opus-mt-fa-en"),
            Some(RepoId {
                repo: "Helsinki-NLP/opus-mt-fa-en".into(),
                revision: "main".into()
            })
        );
        let pinned = RepoId::parse("google/gemma-3-1b-it@v1.0").expect("parses");
        assert_eq!(pinned.revision, "v1.0");
        assert_eq!(pinned.cache_folder(), "models--google--gemma-3-1b-it");
        for bad in [
            "gemma",
            "a/b/c",
            "../x",
            "a/..",
            "/abs/path",
            "a/b@",
            "a b/c",
            "./x",
            "a/b@../x",
        ] {
            assert_eq!(RepoId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_the_environment_like_huggingface_hub() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = HubConfig::from_vars(vars(&[
            ("HF_HOME", "/h"),
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_HUB_OFFLINE", "1"),
        ]));
        assert_eq!(c.cache_dir, PathBuf::from("/h/hub"));
        assert_eq!(c.endpoint, "http://127.0.0.1:9");
        assert!(c.offline);
        let c = HubConfig::from_vars(vars(&[
            ("HF_HOME", "/h"),
            ("HF_HUB_CACHE", "/c"),
            ("HF_HUB_OFFLINE", "0"),
        ]));
        assert_eq!(c.cache_dir, PathBuf::from("/c"));
        assert_eq!(c.endpoint, "https://huggingface.co");
        assert!(!c.offline);
    }
}
