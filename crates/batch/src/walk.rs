//! Finding the inputs of a batch: the files under a folder whose path
//! matches the patterns (`*.txt` and `*.md` by default).
//!
//! Symbolic links are followed only while they stay inside the folder; one
//! that leads outside is reported as skipped, not read. Hidden files and
//! folders (name starting with `.`) are left out, as are folders to exclude
//! (the output folder, when it lies inside the input folder).

use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

use crate::{Error, Result};

/// Patterns used when none are given: matched case-insensitively.
pub const DEFAULT_PATTERNS: [&str; 2] = ["*.txt", "*.md"];

/// What to walk and what to take.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Glob patterns matched against the path relative to the folder (`*`
    /// crosses `/`, so `*.txt` takes `a/b.txt`); empty: [`DEFAULT_PATTERNS`].
    pub patterns: Vec<String>,
    /// Folders not to enter.
    pub exclude: Vec<PathBuf>,
}

/// One file found by [`discover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Relative to the folder walked, `/` separated.
    pub rel: String,
    /// Where to read it.
    pub path: PathBuf,
    /// What to do with it.
    pub kind: FoundKind,
}

/// Whether a found file is an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundKind {
    /// A file to summarize.
    Input,
    /// Not to be read; the reason says why.
    Skipped(String),
    /// Could not be taken; the reason says why.
    Failed(String),
}

fn matcher(patterns: &[String]) -> Result<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    let glob_err = |pattern: &str, source| Error::Glob {
        pattern: pattern.to_string(),
        source,
    };
    if patterns.is_empty() {
        for p in DEFAULT_PATTERNS {
            let glob = GlobBuilder::new(p)
                .case_insensitive(true)
                .build()
                .map_err(|e| glob_err(p, e))?;
            builder.add(glob);
        }
    } else {
        for p in patterns {
            builder.add(Glob::new(p).map_err(|e| glob_err(p, e))?);
        }
    }
    builder
        .build()
        .map_err(|e| glob_err(&patterns.join(" "), e))
}

/// `path` relative to `root`, `/` separated, if it is under `root` and
/// valid UTF-8.
fn relative(root: &Path, path: &Path) -> std::result::Result<String, String> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut parts = Vec::new();
    for c in rel.components() {
        match c.as_os_str().to_str() {
            Some(s) => parts.push(s),
            None => return Err(rel.to_string_lossy().into_owned()),
        }
    }
    Ok(parts.join("/"))
}

/// Whether `path` (a symbolic link) resolves to somewhere inside `root`.
fn stays_inside(root: &Path, path: &Path) -> std::io::Result<bool> {
    Ok(path.canonicalize()?.starts_with(root))
}

/// Lists the files under `root` (sorted by relative path). Errors only if
/// the root itself cannot be walked; trouble with single entries becomes a
/// [`FoundKind::Failed`] or [`FoundKind::Skipped`] entry.
pub fn discover(root: &Path, opts: &WalkOptions) -> Result<Vec<Found>> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io("read", root, e))?;
    if !meta.is_dir() {
        return Err(Error::NotADirectory(root.to_path_buf()));
    }
    let root = root
        .canonicalize()
        .map_err(|e| Error::io("resolve", root, e))?;
    let exclude: Vec<PathBuf> = opts
        .exclude
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let matcher = matcher(&opts.patterns)?;
    let mut found = Vec::new();
    let mut refused = Vec::new();
    let walker = WalkDir::new(&root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            if entry.depth() == 0 {
                return true;
            }
            if entry.file_name().to_string_lossy().starts_with('.') {
                return false;
            }
            if entry.file_type().is_dir() && exclude.iter().any(|x| x == entry.path()) {
                return false;
            }
            if entry.path_is_symlink() {
                let rel = relative(&root, entry.path()).unwrap_or_else(|lossy| lossy);
                match stays_inside(&root, entry.path()) {
                    Ok(true) => {}
                    Ok(false) => {
                        refused.push(Found {
                            rel,
                            path: entry.path().to_path_buf(),
                            kind: FoundKind::Skipped(
                                "a symbolic link leading outside the input folder; not followed"
                                    .to_string(),
                            ),
                        });
                        return false;
                    }
                    Err(e) => {
                        refused.push(Found {
                            rel,
                            path: entry.path().to_path_buf(),
                            kind: FoundKind::Failed(format!("cannot resolve symbolic link: {e}")),
                        });
                        return false;
                    }
                }
            }
            true
        });
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.depth() == 0 => {
                return Err(Error::Walk {
                    path: root.clone(),
                    source: e,
                })
            }
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_default();
                let rel = relative(&root, &path).unwrap_or_else(|lossy| lossy);
                found.push(Found {
                    rel,
                    path,
                    kind: FoundKind::Failed(format!("cannot list: {e}")),
                });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        match relative(&root, path) {
            Ok(rel) => {
                if matcher.is_match(&rel) {
                    found.push(Found {
                        rel,
                        path: path.to_path_buf(),
                        kind: FoundKind::Input,
                    });
                }
            }
            Err(lossy) => {
                if matcher.is_match(&lossy) {
                    found.push(Found {
                        rel: lossy,
                        path: path.to_path_buf(),
                        kind: FoundKind::Failed(
                            "the file name is not valid UTF-8; rename the file".to_string(),
                        ),
                    });
                }
            }
        }
    }
    // Refused links are reported whatever their name: a link to a folder
    // has no extension to match.
    found.extend(refused);
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    found.dedup_by(|a, b| a.rel == b.rel);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(found: &[Found]) -> Vec<&str> {
        found
            .iter()
            .filter(|f| f.kind == FoundKind::Input)
            .map(|f| f.rel.as_str())
            .collect()
    }

    #[test]
    fn takes_txt_and_md_recursively_and_honours_globs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("sub dir/خبر")).unwrap();
        std::fs::create_dir_all(d.join(".git")).unwrap();
        for f in [
            "a.txt",
            "b.MD",
            "c.pdf",
            "sub dir/خبر/گزارش ۱.txt",
            ".git/x.txt",
            ".hidden.txt",
        ] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        let found = discover(d, &WalkOptions::default()).unwrap();
        assert_eq!(inputs(&found), ["a.txt", "b.MD", "sub dir/خبر/گزارش ۱.txt"]);
        let opts = WalkOptions {
            patterns: vec!["sub dir/**".to_string()],
            ..Default::default()
        };
        assert_eq!(
            inputs(&discover(d, &opts).unwrap()),
            ["sub dir/خبر/گزارش ۱.txt"]
        );
        let bad = WalkOptions {
            patterns: vec!["a[".to_string()],
            ..Default::default()
        };
        assert!(matches!(discover(d, &bad), Err(Error::Glob { .. })));
    }

    #[test]
    fn excluded_folders_are_not_entered() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        std::fs::write(dir.path().join("out/a.txt.summary.txt"), "x").unwrap();
        std::fs::write(dir.path().join("a.txt"), "x").unwrap();
        let opts = WalkOptions {
            exclude: vec![dir.path().join("out")],
            ..Default::default()
        };
        assert_eq!(inputs(&discover(dir.path(), &opts).unwrap()), ["a.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn links_leading_outside_are_skipped_links_inside_followed() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.txt"), "x").unwrap();
        symlink(outside.path().join("secret.txt"), d.join("leak.txt")).unwrap();
        symlink(outside.path(), d.join("leakdir")).unwrap();
        symlink(d.join("a.txt"), d.join("alias.txt")).unwrap();
        symlink(d.join("missing.txt"), d.join("broken.txt")).unwrap();
        let found = discover(d, &WalkOptions::default()).unwrap();
        assert_eq!(inputs(&found), ["a.txt", "alias.txt"]);
        let kind = |rel: &str| found.iter().find(|f| f.rel == rel).map(|f| f.kind.clone());
        assert!(matches!(kind("leak.txt"), Some(FoundKind::Skipped(_))));
        assert!(matches!(kind("leakdir"), Some(FoundKind::Skipped(_))));
        assert!(matches!(kind("broken.txt"), Some(FoundKind::Failed(_))));
        assert!(!found.iter().any(|f| f.rel.contains("secret")));
    }

    #[test]
    fn a_file_is_not_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "x").unwrap();
        assert!(matches!(
            discover(&dir.path().join("a.txt"), &WalkOptions::default()),
            Err(Error::NotADirectory(_))
        ));
    }
}
