//! Helpers shared by the folder-run tests (tests/batch.rs, tests/slurm.rs):
//! writing inputs, reading manifests strictly, listing outputs.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeSet;
use std::path::Path;

/// Writes `bytes` to `path`, creating its folder.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Reads a manifest strictly: every line must be a record.
pub fn manifest(path: &Path) -> Vec<serde_json::Value> {
    let body = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(body.is_empty() || body.ends_with('\n'), "torn manifest");
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Every file under `dir`, relative, `/` separated.
pub fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}
