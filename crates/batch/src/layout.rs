//! Where outputs go: the input tree mirrored under the output folder, each
//! file written atomically, never outside the output folder.
//!
//! `DIR/news/a b.txt` gives `OUTDIR/news/a b.txt.summary.txt` (and
//! `OUTDIR/news/a b.txt.en.txt` for the translation). The input's whole
//! name is kept, so `x.txt` and `x.md` never share an output.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// Suffix of a summary's file name.
pub const SUMMARY_SUFFIX: &str = ".summary.txt";
/// Suffix of a translation's file name.
pub const TRANSLATION_SUFFIX: &str = ".en.txt";
/// Suffix of temporary files (beside their target, renamed when complete).
pub const TEMP_SUFFIX: &str = ".tarjoman-tmp";

/// The output folder.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

/// The summary's path for the input at `rel`, relative to the output folder.
pub fn summary_rel(rel: &str) -> String {
    format!("{rel}{SUMMARY_SUFFIX}")
}

/// The translation's path for the input at `rel`.
pub fn translation_rel(rel: &str) -> String {
    format!("{rel}{TRANSLATION_SUFFIX}")
}

/// `rel` as relative path components, refusing anything that could leave
/// the folder it is joined to (`..`, absolute paths, empty components).
fn safe_components(rel: &str) -> Result<Vec<&str>> {
    let unsafe_path = || Error::UnsafePath {
        path: rel.to_string(),
    };
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts {
        let mut comps = Path::new(part).components();
        match (comps.next(), comps.next()) {
            (Some(Component::Normal(_)), None) if !part.contains('\0') => {}
            _ => return Err(unsafe_path()),
        }
    }
    Ok(parts)
}

impl Layout {
    /// Creates the output folder if needed.
    pub fn create(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| Error::io("create", root, e))?;
        let root = root
            .canonicalize()
            .map_err(|e| Error::io("resolve", root, e))?;
        Ok(Self { root })
    }

    /// The output folder (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of `rel`, which must stay inside the output folder.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf> {
        let mut path = self.root.clone();
        for part in safe_components(rel)? {
            path.push(part);
        }
        Ok(path)
    }

    /// Whether the output `rel` exists as a file.
    pub fn exists(&self, rel: &str) -> bool {
        self.resolve(rel).is_ok_and(|p| p.is_file())
    }

    /// Writes `contents` to `rel` atomically, creating folders as needed;
    /// refuses a folder that (through a symbolic link) leads outside the
    /// output folder.
    pub fn write(&self, rel: &str, contents: &[u8]) -> Result<()> {
        let path = self.resolve(rel)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            let real = parent
                .canonicalize()
                .map_err(|e| Error::io("resolve", parent, e))?;
            if !real.starts_with(&self.root) {
                return Err(Error::UnsafePath {
                    path: rel.to_string(),
                });
            }
        }
        write_file_atomic(&path, contents)
    }

    /// Removes temporary files left beside the outputs `rels` by a run that
    /// was killed; returns how many. Only temporaries of these outputs are
    /// touched, so shards sharing the folder leave each other's alone.
    pub fn remove_stale_temps<'a>(&self, rels: impl IntoIterator<Item = &'a str>) -> usize {
        use std::collections::{BTreeMap, BTreeSet};
        let mut by_dir: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
        for rel in rels {
            let Ok(path) = self.resolve(rel) else {
                continue;
            };
            if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
                by_dir
                    .entry(dir.to_path_buf())
                    .or_default()
                    .insert(name.to_string_lossy().into_owned());
            }
        }
        let mut removed = 0;
        for (dir, names) in by_dir {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let file_name = entry.file_name();
                let Some(name) = file_name.to_str() else {
                    continue;
                };
                if let Some(target) = temp_target(name) {
                    if names.contains(target) && std::fs::remove_file(entry.path()).is_ok() {
                        removed += 1;
                    }
                }
            }
        }
        removed
    }
}

/// The target name of a temporary file name `.{target}.{random}.tarjoman-tmp`.
fn temp_target(name: &str) -> Option<&str> {
    let inner = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let (target, _random) = inner.rsplit_once('.')?;
    Some(target)
}

/// Writes `contents` to `path` through a temporary file in the same folder,
/// synced, then renamed over `path`; the folder is synced too, so the rename
/// survives a power cut.
pub fn write_file_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a file in", dir, e))?;
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| Error::io("write", temp.path(), e))?;
    // tempfile makes 0600 files; outputs get the usual 0644 (before umask).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = temp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    temp.persist(path)
        .map_err(|e| Error::io("rename into place", path, e.error))?;
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_mirror_the_tree_and_keep_odd_names() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(&dir.path().join("out")).unwrap();
        for rel in ["a b/c d.txt", "خبرها/گزارش ۱.md", "x/#%&'!.txt", "-rf.txt"] {
            let s = summary_rel(rel);
            layout.write(&s, b"one.\n").unwrap();
            let path = layout.resolve(&s).unwrap();
            assert!(path.starts_with(layout.root()));
            assert_eq!(std::fs::read(&path).unwrap(), b"one.\n");
        }
    }

    #[test]
    fn paths_leaving_the_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        for rel in ["../x", "a/../../x", "/etc/passwd", "a//b", "", "./a", "a/."] {
            assert!(
                matches!(layout.resolve(rel), Err(Error::UnsafePath { .. })),
                "{rel:?}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_folder_leading_outside_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let layout = Layout::create(&dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path(), layout.root().join("sub")).unwrap();
        let err = layout.write("sub/a.txt.summary.txt", b"x").unwrap_err();
        assert!(matches!(err, Error::UnsafePath { .. }), "{err}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn stale_temporaries_of_named_outputs_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        std::fs::write(
            dir.path().join(".a.txt.summary.txt.Xy12.tarjoman-tmp"),
            "half",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".b.txt.summary.txt.Zz99.tarjoman-tmp"),
            "other",
        )
        .unwrap();
        assert_eq!(layout.remove_stale_temps(["a.txt.summary.txt"]), 1);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "the other shard's temporary stays");
    }
}
