//! Folder runs of the built `tarjoman` binary: crash safety under SIGKILL,
//! resume, redo, shards and merge, links leading out of the folder, and
//! both summarization methods, with the smallest real model
//! (SmolLM2-135M) and all-MiniLM-L6-v2, fetched by `scripts/test.sh`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod folders;
use folders::{files_under, manifest, write};

const SMALL_MODEL: &str = "smollm2-135m-instruct";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tarjoman"))
}

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel)
}

fn lines(rel: &str) -> Vec<String> {
    std::fs::read_to_string(shared(rel))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `summarize DIR -o OUT` with the small model, zero-shot translation (the
/// tests check plumbing, not quality) and two workers.
fn summarize(dir: &Path, out: &Path, method: &str) -> Command {
    let mut cmd = bin();
    cmd.arg("summarize")
        .arg(dir)
        .arg("-o")
        .arg(out)
        .args(["--method", method, "--model", SMALL_MODEL, "--shots", "0"])
        .args(["--jobs", "2"]);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run tarjoman");
    assert!(
        !stderr(&out).contains("panicked"),
        "tarjoman panicked: {}",
        stderr(&out)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The final line: `N ok, N failed, N skipped (...)`.
fn final_line(out: &Output) -> String {
    let err = stderr(out);
    err.lines()
        .rev()
        .find(|l| l.contains(" ok, "))
        .unwrap_or_else(|| panic!("no final line in {err}"))
        .to_string()
}

fn by_path(records: &[serde_json::Value]) -> BTreeMap<String, serde_json::Value> {
    let map: BTreeMap<_, _> = records
        .iter()
        .map(|r| (r["path"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    assert_eq!(map.len(), records.len(), "one record per path");
    map
}

/// A folder of articles for the kill test, and what each should become.
struct Corpus {
    /// Inputs expected to succeed: relative path -> language.
    good: BTreeMap<String, &'static str>,
    /// Inputs expected to fail: relative path -> a word of the reason.
    bad: BTreeMap<String, &'static str>,
}

/// Builds `english` English articles and `persian` Persian ones from
/// TICO-19 lines (4 English or 2 Persian lines each), the seed article,
/// and the awkward files: empty, binary, Latin-1, French, UTF-16 with BOM,
/// CRLF, names with spaces, Persian letters and punctuation.
fn build_corpus(dir: &Path, english: usize, persian: usize) -> Corpus {
    let en = lines("data/tico19/test.en");
    let fa = lines("data/tico19/test.fa");
    let mut good = BTreeMap::new();
    let mut bad = BTreeMap::new();
    for i in 0..english {
        let rel = format!("english/part {}/article-{i:03}.txt", i % 4);
        let text = en[i * 4..i * 4 + 4].join(" ");
        write(&dir.join(&rel), format!("{text}\n"));
        good.insert(rel, "english");
    }
    for i in 0..persian {
        let rel = format!("فارسی/خبر {i:02}.txt");
        let text = fa[1000 + i * 2..1000 + i * 2 + 2].join("\n");
        write(&dir.join(&rel), format!("{text}\n"));
        good.insert(rel, "persian");
    }
    let seed = std::fs::read(shared("seed/article.fa.txt")).unwrap();
    write(&dir.join("فارسی/seed article.md"), &seed);
    good.insert("فارسی/seed article.md".to_string(), "persian");

    let english_text = en[1500..1504].join(" ");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(english_text.encode_utf16().flat_map(u16::to_le_bytes));
    write(&dir.join("odd/utf16 with bom.txt"), utf16);
    good.insert("odd/utf16 with bom.txt".to_string(), "english");
    write(
        &dir.join("odd/crlf.md"),
        en[1510..1514].join("\r\n") + "\r\n",
    );
    good.insert("odd/crlf.md".to_string(), "english");
    let odd_name = "odd/گزارش #1 (final) & 'quotes'.txt";
    write(&dir.join(odd_name), en[1520..1524].join(" "));
    good.insert(odd_name.to_string(), "english");

    write(&dir.join("bad/empty.txt"), "");
    bad.insert("bad/empty.txt".to_string(), "empty");
    write(
        &dir.join("bad/binary.txt"),
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00binary zip data",
    );
    bad.insert("bad/binary.txt".to_string(), "binary");
    // "Les négociations ont été reportées à Genève." in Latin-1.
    write(
        &dir.join("bad/latin1.txt"),
        b"Les n\xe9gociations ont \xe9t\xe9 report\xe9es \xe0 Gen\xe8ve.\n",
    );
    bad.insert("bad/latin1.txt".to_string(), "UTF-8");
    write(
        &dir.join("bad/french.txt"),
        "Les négociations sur le climat ont repris à Genève après une pause de plusieurs \
         mois. Les délégués espèrent parvenir à un accord avant la fin de l'année.\n",
    );
    bad.insert("bad/french.txt".to_string(), "French");
    // Not an input: wrong extension.
    write(&dir.join("odd/notes.pdf"), "not taken");
    Corpus { good, bad }
}

/// Checks a finished folder run against the corpus: one record per input,
/// one complete summary per good input, a failure with a reason per bad one,
/// nothing else in the output folder.
fn check_finished(corpus: &Corpus, out: &Path, method: &str) {
    let records = by_path(&manifest(&out.join("manifest.jsonl")));
    let inputs: BTreeSet<&String> = corpus.good.keys().chain(corpus.bad.keys()).collect();
    assert_eq!(
        records.keys().collect::<BTreeSet<_>>(),
        inputs,
        "one record per input"
    );
    let mut expected_files = BTreeSet::from(["manifest.jsonl".to_string()]);
    for (rel, language) in &corpus.good {
        let r = &records[rel];
        assert_eq!(r["status"], "ok", "{rel}: {r}");
        assert_eq!(r["language"], *language, "{rel}: {r}");
        assert_eq!(r["settings"]["method"], method);
        assert_eq!(r["sha256"].as_str().unwrap().len(), 64);
        let summary = r["outputs"]["summary"].as_str().unwrap();
        assert_eq!(summary, format!("{rel}.summary.txt"));
        expected_files.insert(summary.to_string());
        let text = std::fs::read_to_string(out.join(summary)).unwrap();
        // Complete: written whole, one sentence per line, 1-5 of them.
        assert!(text.ends_with('\n'), "{rel}: truncated summary {text:?}");
        let n = text.lines().count();
        assert!((1..=5).contains(&n), "{rel}: {n} lines: {text}");
        assert!(text.lines().all(|l| !l.trim().is_empty()), "{rel}: {text}");
    }
    for (rel, reason) in &corpus.bad {
        let r = &records[rel];
        assert_eq!(r["status"], "failed", "{rel}: {r}");
        let error = r["error"].as_str().unwrap();
        assert!(
            error.contains(reason),
            "{rel}: reason {error:?} lacks {reason}"
        );
        assert!(r["outputs"].get("summary").is_none(), "{rel}: {r}");
    }
    // Exactly one summary per good input; no temporaries left behind.
    assert_eq!(files_under(out), expected_files);
}

/// A tiny xorshift generator: three kill delays need no dependency. The
/// seed comes from the clock and is printed, so a failing run can be
/// repeated with TARJOMAN_KILL_SEED.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The acceptance test of a crash-safe batch: 200 inputs, SIGKILL at random
/// moments three times, then a run to completion; the result must be
/// complete and equal, input for input, to an uninterrupted run.
#[test]
fn survives_sigkill_at_random_moments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("articles");
    let out = tmp.path().join("summaries");
    // 186 English + 6 Persian + seed + 3 odd good files + 4 bad = 200.
    // Few Persian articles: SmolLM2 translates them slowly (and badly), and
    // the test is about bookkeeping.
    let corpus = build_corpus(&dir, 186, 6);
    assert_eq!(corpus.good.len() + corpus.bad.len(), 200);

    let seed = std::env::var("TARJOMAN_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill delays from TARJOMAN_KILL_SEED={seed}");
    let mut rng = XorShift(seed);
    let mut kills = 0;
    for round in 0..3 {
        // 1 to 6 s, then up to 16 and 26 s: during model loading, a
        // translation, a write; later rounds start with work already done.
        let delay = Duration::from_millis(1000 + rng.next() % (5000 + 10_000 * round));
        let mut child = summarize(&dir, &out, "extractive")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if start.elapsed() >= delay {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match finished {
            None => {
                child.kill().unwrap(); // SIGKILL on Unix
                child.wait().unwrap();
                kills += 1;
                eprintln!("round {round}: killed after {delay:?}");
            }
            Some(status) => eprintln!("round {round}: finished before the kill ({status})"),
        }
        // Whatever the moment, the manifest reads back.
        let path = out.join("manifest.jsonl");
        if path.exists() {
            let c = tarjoman_batch::manifest::read(&path).unwrap();
            assert_eq!(c.bad_lines, 0, "only the last line may be torn");
        }
    }
    assert!(kills >= 1, "no run was killed: the test proved nothing");

    let done = run(&mut summarize(&dir, &out, "extractive"));
    assert_eq!(done.status.code(), Some(1), "bad files fail the run");
    eprintln!("{}", final_line(&done));
    check_finished(&corpus, &out, "extractive");

    // Uninterrupted run of a subset (a Persian article, English ones, the
    // odd files): the same bytes.
    let subset_dir = tmp.path().join("subset");
    let subset_out = tmp.path().join("subset-out");
    let subset: Vec<&String> = corpus
        .good
        .keys()
        .filter(|r| r.starts_with("odd/") || r.ends_with("خبر 00.txt") || r.contains("/article-01"))
        .collect();
    assert!(subset.len() >= 8, "{subset:?}");
    for rel in &subset {
        write(&subset_dir.join(rel), std::fs::read(dir.join(rel)).unwrap());
    }
    let clean = run(&mut summarize(&subset_dir, &subset_out, "extractive"));
    assert!(clean.status.success(), "{}", stderr(&clean));
    for rel in &subset {
        let name = format!("{rel}.summary.txt");
        assert_eq!(
            std::fs::read_to_string(out.join(&name)).unwrap(),
            std::fs::read_to_string(subset_out.join(&name)).unwrap(),
            "{rel}: the killed-and-resumed run differs from an uninterrupted one"
        );
    }

    // Running the finished batch again does nothing and changes nothing.
    let before = std::fs::read(out.join("manifest.jsonl")).unwrap();
    let again = run(&mut summarize(&dir, &out, "extractive"));
    assert!(
        final_line(&again).starts_with("0 ok, 4 failed, 196 skipped (196 already done"),
        "{}",
        final_line(&again)
    );
    assert_eq!(std::fs::read(out.join("manifest.jsonl")).unwrap(), before);
}

/// English articles only: extractive runs that never load the language
/// model, for the bookkeeping tests.
fn english_folder(dir: &Path, n: usize) -> Vec<String> {
    let en = lines("data/tico19/test.en");
    (0..n)
        .map(|i| {
            let rel = format!("sub {}/a{i}.txt", i % 2);
            write(&dir.join(&rel), en[i * 5..i * 5 + 5].join(" ") + "\n");
            rel
        })
        .collect()
}

#[test]
fn resume_skips_done_inputs_redoes_changed_ones_and_settings_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    let out = tmp.path().join("out");
    let rels = english_folder(&dir, 6);
    let first = run(&mut summarize(&dir, &out, "extractive"));
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(final_line(&first).starts_with("6 ok, 0 failed, 0 skipped"));
    let before = by_path(&manifest(&out.join("manifest.jsonl")));

    // One changed, one new, one turned bad, one deleted.
    let en = lines("data/tico19/test.en");
    write(&dir.join(&rels[0]), en[900..905].join(" "));
    write(&dir.join("new.md"), en[910..915].join(" "));
    write(&dir.join(&rels[1]), b"\x00\x01binary");
    std::fs::remove_file(dir.join(&rels[2])).unwrap();
    let second = run(&mut summarize(&dir, &out, "extractive"));
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(
        final_line(&second).starts_with("2 ok, 1 failed, 3 skipped (3 already done"),
        "{}",
        final_line(&second)
    );
    let after = by_path(&manifest(&out.join("manifest.jsonl")));
    assert_eq!(after.len(), 6, "deleted input dropped, new one added");
    assert!(!after.contains_key(&rels[2]));
    assert_ne!(after[&rels[0]]["sha256"], before[&rels[0]]["sha256"]);
    assert_eq!(after[&rels[1]]["status"], "failed");
    assert!(
        !out.join(format!("{}.summary.txt", rels[1])).exists(),
        "a failed input keeps no stale summary"
    );
    for rel in &rels[3..] {
        assert_eq!(
            after[rel], before[rel],
            "{rel}: untouched input, same record"
        );
    }
    let summary = std::fs::read_to_string(out.join(format!("{}.summary.txt", rels[0]))).unwrap();
    let new_text = en[900..905].join(" ");
    for line in summary.lines() {
        assert!(new_text.contains(line), "redone from the new text: {line}");
    }

    // Other settings: everything good is redone.
    let third = run(summarize(&dir, &out, "extractive").args(["--seed", "7"]));
    assert!(
        final_line(&third).starts_with("5 ok, 1 failed, 0 skipped"),
        "{}",
        final_line(&third)
    );
    let records = manifest(&out.join("manifest.jsonl"));
    assert_eq!(records.len(), 6, "compacted: one record per input");
    assert!(records.iter().all(|r| r["settings"]["seed"] == 7));
}

#[test]
fn a_torn_manifest_line_is_dropped_and_its_input_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    let out = tmp.path().join("out");
    english_folder(&dir, 3);
    assert!(run(&mut summarize(&dir, &out, "extractive"))
        .status
        .success());
    let path = out.join("manifest.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    // Tear the last record in half, as a crash mid-write would.
    let cut = text.trim_end().rfind('\n').unwrap() + 1 + 30;
    std::fs::write(&path, &text[..cut]).unwrap();
    let again = run(&mut summarize(&dir, &out, "extractive"));
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        final_line(&again).starts_with("1 ok, 0 failed, 2 skipped"),
        "{}",
        final_line(&again)
    );
    assert_eq!(manifest(&path).len(), 3);
}

#[test]
fn shards_partition_the_folder_and_merge_into_one_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    let out = tmp.path().join("out");
    let rels = english_folder(&dir, 9);
    write(&dir.join("empty.txt"), "");
    let mut seen = BTreeMap::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let o = run(summarize(&dir, &out, "extractive").args(["--shard", &shard]));
        let manifest_path = out.join(format!("manifest.shard-{k}-of-3.jsonl"));
        for r in manifest(&manifest_path) {
            let path = r["path"].as_str().unwrap().to_string();
            assert!(
                seen.insert(path.clone(), k).is_none(),
                "{path} in two shards"
            );
        }
        assert!(o.status.code().is_some(), "{}", stderr(&o));
    }
    let all: BTreeSet<String> = rels.iter().cloned().chain(["empty.txt".into()]).collect();
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), all);
    // Stable: the same partition a second time.
    let again = run(summarize(&dir, &out, "extractive").args(["--shard", "1/3"]));
    assert!(
        final_line(&again).starts_with("0 ok"),
        "{}",
        final_line(&again)
    );

    let merged = out.join("manifest.jsonl");
    let shards: Vec<PathBuf> = (0..3)
        .map(|k| out.join(format!("manifest.shard-{k}-of-3.jsonl")))
        .collect();
    let m = run(bin()
        .args(["manifest", "merge"])
        .args(&shards)
        .arg("-o")
        .arg(&merged));
    assert!(m.status.success(), "{}", stderr(&m));
    assert!(
        stderr(&m).contains("10 records (9 ok, 1 failed, 0 skipped)"),
        "{}",
        stderr(&m)
    );
    let records = by_path(&manifest(&merged));
    assert_eq!(records.keys().cloned().collect::<BTreeSet<_>>(), all);
    assert_eq!(records["empty.txt"]["status"], "failed");
}

#[cfg(unix)]
#[test]
fn links_leading_outside_the_folder_are_not_followed() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    let dir = tmp.path().join("in");
    let out = tmp.path().join("out");
    let en = lines("data/tico19/test.en");
    write(&outside.join("secret.txt"), en[100..105].join(" "));
    write(&dir.join("a.txt"), en[110..115].join(" "));
    symlink(outside.join("secret.txt"), dir.join("leak.txt")).unwrap();
    symlink(&outside, dir.join("leak-dir")).unwrap();
    symlink(dir.join("a.txt"), dir.join("alias.txt")).unwrap();
    let before = files_under(&outside);
    let o = run(&mut summarize(&dir, &out, "extractive"));
    assert!(o.status.success(), "skips are not failures: {}", stderr(&o));
    let records = by_path(&manifest(&out.join("manifest.jsonl")));
    assert_eq!(records["a.txt"]["status"], "ok");
    assert_eq!(
        records["alias.txt"]["status"], "ok",
        "a link inside is followed"
    );
    for link in ["leak.txt", "leak-dir"] {
        assert_eq!(records[link]["status"], "skipped", "{link}");
        assert!(records[link]["error"].as_str().unwrap().contains("outside"));
        assert!(records[link].get("sha256").is_none(), "{link} was read");
    }
    assert!(!records.keys().any(|k| k.contains("secret")));
    assert_eq!(files_under(&outside), before, "nothing written outside");
    assert!(!files_under(&out)
        .iter()
        .any(|f| f.contains("secret") || f.contains("leak")));
}

/// The abstractive path (and `--translate`): the language model summarizes
/// English directly and Persian after translating it.
#[test]
fn abstractive_folder_run_with_translations() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    let out = tmp.path().join("out");
    let en = lines("data/tico19/test.en");
    let fa = lines("data/tico19/test.fa");
    write(&dir.join("en.txt"), en[200..204].join(" "));
    write(&dir.join("fa.txt"), fa[300..302].join("\n"));
    let o = run(summarize(&dir, &out, "abstractive").arg("--translate"));
    assert!(o.status.success(), "{}", stderr(&o));
    let records = by_path(&manifest(&out.join("manifest.jsonl")));
    assert_eq!(records["en.txt"]["status"], "ok", "{}", records["en.txt"]);
    assert_eq!(records["fa.txt"]["status"], "ok", "{}", records["fa.txt"]);
    assert_eq!(records["fa.txt"]["outputs"]["translation"], "fa.txt.en.txt");
    assert!(records["en.txt"]["outputs"].get("translation").is_none());
    let translation = std::fs::read_to_string(out.join("fa.txt.en.txt")).unwrap();
    assert_eq!(
        translation.lines().count(),
        2,
        "line for line: {translation}"
    );
    for name in ["en.txt.summary.txt", "fa.txt.summary.txt"] {
        let s = std::fs::read_to_string(out.join(name)).unwrap();
        assert!(s.ends_with('\n') && !s.trim().is_empty(), "{name}: {s:?}");
    }
}

#[test]
fn grounded_folder_run_records_method_and_replacements() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    let out = tmp.path().join("out");
    let en = lines("data/tico19/test.en");
    write(&dir.join("en.txt"), en[1054..1060].join("\n"));
    let o = run(&mut summarize(&dir, &out, "grounded"));
    assert!(o.status.success(), "{}", stderr(&o));
    let records = by_path(&manifest(&out.join("manifest.jsonl")));
    let r = &records["en.txt"];
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["settings"]["method"], "grounded");
    assert_eq!(r["settings"]["summarizer"], SMALL_MODEL);
    let replaced = r["replacements"].as_u64().expect("replacements recorded");
    let summary = std::fs::read_to_string(out.join("en.txt.summary.txt")).unwrap();
    let n = summary.lines().count();
    assert!((3..=5).contains(&n), "{summary}");
    assert!(replaced as usize <= n, "{r}");
}

#[test]
fn folder_options_are_refused_for_a_file_and_bad_shards_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a.txt");
    write(
        &file,
        "The talks resumed in Muscat after a pause, officials said.",
    );
    let o = run(bin().args(["summarize", "--jobs", "2"]).arg(&file));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--jobs applies to a folder"),
        "{}",
        stderr(&o)
    );
    let o = run(bin().args(["summarize", "--shard", "3/3"]).arg(tmp.path()));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("expected K/N"), "{}", stderr(&o));
}
