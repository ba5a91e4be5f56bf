//! `manifest.jsonl`: one JSON record per input, appended as each input is
//! done.
//!
//! Crash safety rests on three rules:
//!
//! - a record is appended only after the outputs it names were renamed into
//!   place, as one `write` of the line and its `\n`, then `fsync`;
//! - the reader keeps only lines that end in `\n` and parse as a record, so a
//!   line torn by `kill -9` or a full disk is ignored (its input is redone),
//!   and later records for a path replace earlier ones;
//! - the writer cuts a torn last line off before appending, so a torn line
//!   never glues itself to the next record.
//!
//! When a run completes, the manifest is rewritten (atomically) with exactly
//! one record per input ([`rewrite`]).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The manifest's file name in the output folder (for a whole run).
pub const MANIFEST_NAME: &str = "manifest.jsonl";

/// The manifest's file name for one shard of a run, so that shards writing
/// to a shared output folder never write the same file.
pub fn shard_manifest_name(shard: &crate::Shard) -> String {
    if shard.is_all() {
        MANIFEST_NAME.to_string()
    } else {
        format!("manifest.shard-{}-of-{}.jsonl", shard.index, shard.count)
    }
}

/// What became of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Summarized; the outputs are in place.
    Ok,
    /// Not summarized; `error` says why.
    Failed,
    /// Deliberately not read (e.g. a symbolic link leading outside the
    /// input folder); `error` says why.
    Skipped,
}

/// Output files of an input, relative to the output folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// The summary, one sentence per line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The full English translation (Persian input with `--translate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<String>,
}

impl Outputs {
    /// The paths named, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.summary
            .as_deref()
            .into_iter()
            .chain(self.translation.as_deref())
    }
}

/// Milliseconds spent on an input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Reading, decoding, hashing and language detection.
    #[serde(default)]
    pub read: u64,
    /// Translation to English (Persian input).
    #[serde(default)]
    pub translate: u64,
    /// Summarization.
    #[serde(default)]
    pub summarize: u64,
    /// All of it, writing the outputs included.
    #[serde(default)]
    pub total: u64,
}

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The input, relative to the input folder, `/` separated.
    pub path: String,
    /// SHA-256 of the input's bytes (absent when it could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Size of the input in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// What became of it.
    pub status: Status,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The detected language (`persian`, `english`, or another name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The language model named by the settings.
    #[serde(default)]
    pub model: String,
    /// Every setting that changes the outputs.
    #[serde(default)]
    pub settings: serde_json::Value,
    /// SHA-256 of the settings' canonical JSON: an input is redone when it
    /// changes.
    #[serde(default)]
    pub settings_sha256: String,
    /// Output files, relative to the output folder.
    #[serde(default)]
    pub outputs: Outputs,
    /// How many chunks a long input was cut into (1 for most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
    /// Generated summary sentences the faithfulness guard replaced by
    /// article sentences (the method is in `settings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacements: Option<usize>,
    /// Where the time went.
    #[serde(default)]
    pub timings_ms: Timings,
    /// When the record was made, in seconds since the Unix epoch.
    #[serde(default)]
    pub finished_unix: u64,
}

/// What [`read`] found.
#[derive(Debug, Default)]
pub struct Contents {
    /// The last record for each path, by path.
    pub records: BTreeMap<String, Record>,
    /// Complete lines that are not records (corrupt, or written by
    /// something else); their inputs are redone.
    pub bad_lines: usize,
    /// Whether the file ended in a torn line (no `\n`), which is ignored.
    pub torn_tail: bool,
}

/// Reads a manifest from bytes; never fails. See the [module docs](self).
pub fn parse(bytes: &[u8]) -> Contents {
    let mut contents = Contents::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            contents.torn_tail = true;
            break;
        };
        let (line, tail) = rest.split_at(end);
        rest = tail.get(1..).unwrap_or_default();
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(record) => {
                contents.records.insert(record.path.clone(), record);
            }
            Err(_) => contents.bad_lines += 1,
        }
    }
    contents
}

/// Reads the manifest at `path`; a missing file is an empty manifest.
pub fn read(path: &Path) -> Result<Contents> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(parse(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Contents::default()),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// Serializes one record as a manifest line (with its `\n`).
pub fn to_line(record: &Record) -> Result<Vec<u8>> {
    let mut line = serde_json::to_vec(record).map_err(|source| Error::Serialize {
        path: record.path.clone(),
        source,
    })?;
    line.push(b'\n');
    Ok(line)
}

/// Appends records to a manifest, each made durable before the next.
pub struct Writer {
    file: File,
    path: PathBuf,
}

impl Writer {
    /// Opens (or creates) the manifest at `path` for appending, first
    /// cutting off a torn last line.
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", path, e))?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if keep < bytes.len() {
            file.set_len(keep as u64)
                .map_err(|e| Error::io("truncate the torn last line of", path, e))?;
        }
        file.seek(SeekFrom::Start(keep as u64))
            .map_err(|e| Error::io("seek in", path, e))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends one record and waits until it is on disk.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        let line = to_line(record)?;
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io("append to", &self.path, e))
    }
}

/// Replaces the manifest at `path` with `records`, one line each, atomically
/// (a temporary file renamed over it).
pub fn rewrite<'a>(path: &Path, records: impl IntoIterator<Item = &'a Record>) -> Result<()> {
    let mut bytes = Vec::new();
    for record in records {
        bytes.extend(to_line(record)?);
    }
    crate::layout::write_file_atomic(path, &bytes)
}

/// What [`merge`] did.
#[derive(Debug, Default)]
pub struct MergeReport {
    /// Records read, over all inputs.
    pub read: usize,
    /// Paths found in more than one input (the latest record won).
    pub duplicates: Vec<String>,
    /// Corrupt lines skipped, over all inputs.
    pub bad_lines: usize,
    /// Inputs that ended in a torn line.
    pub torn: Vec<PathBuf>,
}

/// Combines shard manifests into one record per path, sorted by path. A path
/// in several manifests (shards run with different `N`, or a run repeated)
/// keeps its latest record by `finished_unix`, the later manifest on a tie.
pub fn merge(inputs: &[PathBuf]) -> Result<(Vec<Record>, MergeReport)> {
    let mut merged: BTreeMap<String, Record> = BTreeMap::new();
    let mut report = MergeReport::default();
    for input in inputs {
        let bytes = std::fs::read(input).map_err(|e| Error::io("read", input, e))?;
        let contents = parse(&bytes);
        report.bad_lines += contents.bad_lines;
        if contents.torn_tail {
            report.torn.push(input.clone());
        }
        for (path, record) in contents.records {
            report.read += 1;
            match merged.get(&path) {
                Some(old) => {
                    report.duplicates.push(path.clone());
                    if record.finished_unix >= old.finished_unix {
                        merged.insert(path, record);
                    }
                }
                None => {
                    merged.insert(path, record);
                }
            }
        }
    }
    report.duplicates.sort();
    report.duplicates.dedup();
    Ok((merged.into_values().collect(), report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn record(path: &str, status: Status, t: u64) -> Record {
        Record {
            path: path.to_string(),
            sha256: Some("ab".repeat(32)),
            bytes: Some(10),
            status,
            error: (status != Status::Ok).then(|| "why".to_string()),
            language: Some("english".to_string()),
            model: "m".to_string(),
            settings: serde_json::json!({"method": "extractive"}),
            settings_sha256: "cd".repeat(32),
            outputs: Outputs {
                summary: Some(format!("{path}.summary.txt")),
                translation: None,
            },
            chunks: Some(1),
            replacements: Some(0),
            timings_ms: Timings::default(),
            finished_unix: t,
        }
    }

    #[test]
    fn later_records_replace_earlier_ones_and_torn_tails_are_ignored() {
        let mut bytes = to_line(&record("a", Status::Failed, 1)).unwrap();
        bytes.extend(to_line(&record("b", Status::Ok, 2)).unwrap());
        bytes.extend(b"not json\n");
        bytes.extend(to_line(&record("a", Status::Ok, 3)).unwrap());
        let torn = to_line(&record("c", Status::Ok, 4)).unwrap();
        bytes.extend(&torn[..torn.len() - 1]);
        let c = parse(&bytes);
        assert_eq!(c.records.len(), 2);
        assert_eq!(c.records["a"].status, Status::Ok);
        assert_eq!(c.bad_lines, 1);
        assert!(c.torn_tail, "a record without its newline is torn");
    }

    #[test]
    fn writer_cuts_a_torn_line_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let mut bytes = to_line(&record("a", Status::Ok, 1)).unwrap();
        bytes.extend(br#"{"path":"b","sta"#);
        std::fs::write(&path, &bytes).unwrap();
        let mut w = Writer::open(&path).unwrap();
        w.append(&record("c", Status::Ok, 2)).unwrap();
        drop(w);
        let c = read(&path).unwrap();
        assert_eq!(c.records.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(c.bad_lines, 0);
        assert!(!c.torn_tail);
    }

    #[test]
    fn merge_keeps_the_latest_record_per_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jsonl");
        let b = dir.path().join("b.jsonl");
        rewrite(
            &a,
            &[record("x", Status::Failed, 5), record("y", Status::Ok, 1)],
        )
        .unwrap();
        rewrite(
            &b,
            &[record("x", Status::Ok, 6), record("z", Status::Ok, 1)],
        )
        .unwrap();
        let (records, report) = merge(&[a, b]).unwrap();
        let paths: Vec<_> = records.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["x", "y", "z"]);
        assert_eq!(records[0].status, Status::Ok);
        assert_eq!(report.duplicates, ["x"]);
        assert_eq!(report.read, 4);
    }

    fn arb_record() -> impl Strategy<Value = Record> {
        (
            "[a-z0-9 /._\u{600}-\u{6ff}\"\\\\-]{1,24}",
            prop_oneof![
                Just(Status::Ok),
                Just(Status::Failed),
                Just(Status::Skipped)
            ],
            any::<u64>(),
        )
            .prop_map(|(p, s, t)| record(&p, s, t))
    }

    proptest! {
        /// A manifest cut at any byte (a crash mid-write) yields exactly the
        /// records whose lines were complete, last per path.
        #[test]
        fn torn_manifest_keeps_every_complete_line(
            records in proptest::collection::vec(arb_record(), 0..12),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = Vec::new();
            let mut ends = Vec::new();
            for r in &records {
                bytes.extend(to_line(r).unwrap());
                ends.push(bytes.len());
            }
            let cut = if bytes.is_empty() { 0 } else { cut.index(bytes.len() + 1) };
            let complete = ends.iter().filter(|&&e| e <= cut).count();
            let mut expected = BTreeMap::new();
            for r in &records[..complete] {
                expected.insert(r.path.clone(), r.clone());
            }
            let got = parse(&bytes[..cut]);
            prop_assert_eq!(got.bad_lines, 0);
            prop_assert_eq!(got.torn_tail, cut > ends.get(complete.wrapping_sub(1)).copied().unwrap_or(0));
            prop_assert_eq!(got.records, expected);
        }

        /// Arbitrary bytes never make the reader panic, and valid lines
        /// around garbage are all recovered.
        #[test]
        fn garbage_between_records_is_skipped(
            records in proptest::collection::vec(arb_record(), 0..8),
            garbage in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8),
        ) {
            let mut bytes = Vec::new();
            let mut expected = BTreeMap::new();
            for (i, r) in records.iter().enumerate() {
                bytes.extend(to_line(r).unwrap());
                expected.insert(r.path.clone(), r.clone());
                if let Some(g) = garbage.get(i) {
                    // A garbage line: newlines inside it would make several.
                    bytes.extend(g.iter().map(|&b| if b == b'\n' { b' ' } else { b }));
                    bytes.push(b'\n');
                }
            }
            let got = parse(&bytes);
            prop_assert!(!got.torn_tail);
            // A garbage line could happen to be a valid record only if it
            // were JSON with a path and status: not with these bytes.
            for (path, r) in &expected {
                prop_assert_eq!(got.records.get(path), Some(r));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let c = parse(&bytes);
            prop_assert!(c.records.len() <= bytes.iter().filter(|&&b| b == b'\n').count());
        }
    }
}
