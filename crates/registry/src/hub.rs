//! Files of a Hugging Face Hub repository, in the hub's own cache.
//!
//! Why not the `hf-hub` crate: its blocking API (0.4) makes the metadata
//! request of every download with a second `ureq` agent built without its
//! TLS connector, so that request goes through rustls with the bundled
//! webpki roots, never the platform's store; and its `native-tls` feature
//! also compiles reqwest and tokio. A certificate chain that ends in a CA
//! only the system trusts (a corporate proxy, our CI) fails there. 1.0.0
//! (tried 2026-12-07) is async first (a `blocking` feature wraps it) and
//! has no `native-tls` feature: it takes reqwest 0.13's default TLS, rustls
//! on aws-lc-rs (a C build) with `rustls-platform-verifier`, and always
//! pulls `hf-xet`. A scratch program (`HFClient::builder().endpoint(..)`,
//! `model(org, name).download_file().filename(..).send()`) fetched a file
//! from a stand-in hub over HTTP into this cache layout, and over HTTPS
//! with a CA installed only in the system store (update-ca-certificates):
//! it passed, and failed with `UnknownIssuer` once the CA was removed. It
//! was not run against this crate's stand-in hub tests (revisions, offline
//! mode, cache first), so the switch is still to be made.
//! So this module speaks the hub's small HTTP
//! protocol itself with the crate's client ([`crate::http`], native TLS):
//!
//! - `GET {endpoint}/api/models/{repo}/revision/{revision}`: the commit
//!   (`sha`) and the file list (`siblings[].rfilename`);
//! - `HEAD {endpoint}/{repo}/resolve/{commit}/{file}`, not following
//!   redirects to another host: `X-Repo-Commit`, `X-Linked-Etag` or `ETag`
//!   (an LFS file's ETag is its SHA-256), `X-Linked-Size` or
//!   `Content-Length`;
//! - `GET` of the same URL, following redirects, streamed to disk.
//!
//! and keeps `huggingface_hub`'s cache layout, so the Python tools and this
//! one share downloads:
//!
//! ```text
//! $HF_HUB_CACHE (default $HF_HOME/hub, default ~/.cache/huggingface/hub)
//!   models--{org}--{name}/
//!     blobs/{etag}                      file contents, named by ETag
//!     snapshots/{commit}/{file}  ->  ../../blobs/{etag}
//!     refs/{revision}                   the commit a branch or tag named
//! ```
//!
//! Resolution is cache first: a revision whose snapshot already holds every
//! file needed is used without a request. `HF_HUB_OFFLINE=1` forbids the
//! network; a file not in the cache is then an error naming the repo and
//! the file.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{FetchConfig, HF_ENDPOINT_ENV};
use crate::error::{Error, Result};
use crate::http::{Check, Client};
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
    client: Option<Client>,
}

#[derive(Deserialize)]
struct RepoInfo {
    sha: String,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

#[derive(Deserialize)]
struct Sibling {
    rfilename: String,
}

fn is_commit_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Hub {
    pub fn new(config: HubConfig) -> Hub {
        Hub {
            config,
            client: None,
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

    fn client(&mut self) -> Result<&Client> {
        let client = match self.client.take() {
            Some(client) => client,
            None => Client::new(&self.config.fetch)?.with_bearer(self.config.token.clone()),
        };
        Ok(self.client.insert(client))
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
    pub fn list(&mut self, repo: &RepoId, progress: &dyn Progress) -> Result<Snapshot> {
        if self.config.offline {
            return Err(Error::HubOffline {
                repo: repo.to_string(),
                file: "the file list".to_owned(),
                cache: self.repo_dir(repo),
            });
        }
        let url = format!(
            "{}/api/models/{}/revision/{}",
            self.config.endpoint, repo.repo, repo.revision
        );
        let (info, _): (RepoInfo, String) =
            self.client()?
                .get_json(&url, "application/json", progress)?;
        if !is_commit_hash(&info.sha) {
            return Err(Error::Resolve {
                what: format!("GET {url}"),
                message: format!("`sha` is {:?}, not a commit hash", info.sha),
            });
        }
        let mut files: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
        files.sort();
        let listing = serde_json::to_string(&files).map_err(|e| Error::Resolve {
            what: format!("GET {url}"),
            message: e.to_string(),
        })?;
        write_atomically(&self.listing_path(repo, &info.sha), &listing)?;
        Ok(Snapshot {
            repo: repo.clone(),
            dir: self.repo_dir(repo).join("snapshots").join(&info.sha),
            commit: info.sha,
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

    fn download(
        &mut self,
        snapshot: &Snapshot,
        file: &str,
        target: &Path,
        progress: &dyn Progress,
    ) -> Result<()> {
        let endpoint = self.config.endpoint.clone();
        let repo_dir = self.repo_dir(&snapshot.repo);
        let url = format!(
            "{endpoint}/{}/resolve/{}/{file}",
            snapshot.repo.repo, snapshot.commit
        );
        let client = self.client()?;
        let head = head_following_relative(client, &endpoint, &url, progress)?;
        let what = || format!("HEAD {url}");
        let etag = head
            .header("x-linked-etag")
            .or_else(|| head.header("etag"))
            .map(|e| {
                e.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .to_owned()
            })
            .filter(|e| !e.is_empty() && !e.contains(['/', '\\', '.']))
            .ok_or_else(|| Error::Resolve {
                what: what(),
                message: "no usable ETag or X-Linked-Etag header".into(),
            })?;
        let size: Option<u64> = head
            .header("x-linked-size")
            .or_else(|| head.header("content-length"))
            .and_then(|v| v.trim().parse().ok());
        if let Some(commit) = head.header("x-repo-commit") {
            if commit.trim() != snapshot.commit {
                return Err(Error::Resolve {
                    what: what(),
                    message: format!(
                        "X-Repo-Commit is {commit}, but the listing said {}",
                        snapshot.commit
                    ),
                });
            }
        }

        let blobs = repo_dir.join("blobs");
        let blob = blobs.join(&etag);
        if !blob.is_file() {
            fs::create_dir_all(&blobs).map_err(|e| Error::io("create directory", &blobs, e))?;
            // An LFS file's ETag is its SHA-256: check it.
            let check = if etag.len() == 64 && etag.bytes().all(|b| b.is_ascii_hexdigit()) {
                Check::Sha256(etag.clone())
            } else {
                Check::ComputeSha256
            };
            let mut tmp = tempfile::Builder::new()
                .prefix(".incomplete-")
                .tempfile_in(&blobs)
                .map_err(|e| Error::io("create a temporary file in", &blobs, e))?;
            let tmp_path = tmp.path().to_owned();
            let label = format!("{}/{file}", snapshot.repo.repo);
            let result = client.download(
                &url,
                tmp.as_file_mut(),
                &tmp_path,
                &check,
                Some(&label),
                progress,
            );
            progress.end();
            let done = result?;
            if let Some(size) = size {
                if done.len != size {
                    return Err(Error::Resolve {
                        what: format!("GET {url}"),
                        message: format!("received {} bytes, the hub announced {size}", done.len),
                    });
                }
            }
            tmp.as_file()
                .sync_all()
                .map_err(|e| Error::io("sync", &tmp_path, e))?;
            tmp.persist(&blob)
                .map_err(|e| Error::io("install", &blob, e.error))?;
        }
        link_into_snapshot(&blob, &etag, file, target)
    }
}

/// `HEAD url`, following redirects that stay on the endpoint (a renamed
/// repo) but not those to a CDN, whose answer lacks the hub's headers.
fn head_following_relative(
    client: &Client,
    endpoint: &str,
    url: &str,
    progress: &dyn Progress,
) -> Result<crate::http::Head> {
    let mut url = url.to_owned();
    for _ in 0..5 {
        let head = client.head(&url, progress)?;
        if !(300..400).contains(&head.status) {
            return Ok(head);
        }
        match head.header("location") {
            Some(location) if location.starts_with('/') => {
                url = format!("{}{location}", origin(endpoint));
            }
            _ => return Ok(head),
        }
    }
    Err(Error::Resolve {
        what: format!("HEAD {url}"),
        message: "too many redirects".into(),
    })
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// Points `snapshots/{commit}/{file}` at `blobs/{etag}` with a relative
/// symlink, as `huggingface_hub` does; copies where there are no symlinks.
fn link_into_snapshot(blob: &Path, etag: &str, file: &str, target: &Path) -> Result<()> {
    let parent = target
        .parent()
        .ok_or_else(|| Error::io("link", target, std::io::ErrorKind::InvalidInput.into()))?;
    fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
    let _ = fs::remove_file(target);
    #[cfg(unix)]
    {
        // Up from snapshots/{commit}/{dirs of file}/ to the repo folder.
        let mut relative = PathBuf::new();
        for _ in 0..file.split('/').count() + 1 {
            relative.push("..");
        }
        relative.push("blobs");
        relative.push(etag);
        let _ = blob; // only the copy fallback reads it
        std::os::unix::fs::symlink(&relative, target).map_err(|e| Error::io("link", target, e))
    }
    #[cfg(not(unix))]
    {
        let _ = (etag, file);
        fs::copy(blob, target)
            .map(drop)
            .map_err(|e| Error::io("copy", target, e))
    }
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

    #[test]
    fn origin_of_urls() {
        assert_eq!(origin("http://127.0.0.1:5/hf"), "http://127.0.0.1:5");
        assert_eq!(origin("https://huggingface.co"), "https://huggingface.co");
    }
}
