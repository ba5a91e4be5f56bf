//! Scale-out under real schedulers, with the built `tarjoman` binary and
//! all-MiniLM-L6-v2 (extractive summaries; fetched by `scripts/test.sh`):
//!
//! - the Slurm job array of `scripts/slurm_summarize.sh`, on a one-node
//!   cluster that `scripts/slurm_setup.sh` brings up on this machine (it
//!   installs and starts Slurm, so these tests must run as root, as CI
//!   does; they fail, never skip, when they cannot);
//! - the Kubernetes Indexed Job of `scripts/k8s-indexed-job.yaml`, checked
//!   against the published Job schema by `kubernetes-validate` (from PyPI;
//!   it ships the schemas, so it works offline) and run pod by pod, each
//!   with the index Kubernetes would give it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod folders;
use folders::{files_under, manifest, write};

const SHARDS: usize = 4;
/// Enough that a shard takes seconds: the cancel must land mid-shard.
const ARTICLES: usize = 120;
const BAD: [&str; 2] = ["bad/empty.txt", "bad/binary.txt"];

/// The Slurm tests share one cluster of two cores: one at a time.
static CLUSTER: Mutex<()> = Mutex::new(());

fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tarjoman"))
}

/// The model store the tests use: `$TARJOMAN_HOME`, else the checkout's.
fn models() -> PathBuf {
    std::env::var_os("TARJOMAN_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| checkout().join("models"), PathBuf::from)
}

/// PATH with the built binary's folder first.
fn path_with_bin() -> std::ffi::OsString {
    let mut dirs = vec![bin().parent().unwrap().to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

/// The environment every tarjoman run here gets, one machine or Slurm: the
/// model store, and one kernel thread per process (two tasks share the two
/// cores; the same setting everywhere keeps the outputs comparable).
fn tarjoman_env(cmd: &mut Command) -> &mut Command {
    cmd.env("TARJOMAN_HOME", models())
        .env("CANDLE_NUM_THREADS", "1")
        .env("RAYON_NUM_THREADS", "1")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// `n` English articles of five TICO-19 lines and the two bad inputs;
/// returns every input's relative path.
fn corpus(dir: &Path, n: usize) -> BTreeSet<String> {
    let en: Vec<String> = std::fs::read_to_string(checkout().join("../shared/data/tico19/test.en"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut inputs = BTreeSet::new();
    for i in 0..n {
        let rel = format!("part {}/article-{i:03}.txt", i % 3);
        write(&dir.join(&rel), en[i * 5..i * 5 + 5].join(" ") + "\n");
        inputs.insert(rel);
    }
    write(&dir.join(BAD[0]), "");
    write(
        &dir.join(BAD[1]),
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00binary zip data",
    );
    inputs.extend(BAD.map(String::from));
    inputs
}

/// Records by path, without what differs from run to run (timings).
fn by_path(records: &[serde_json::Value]) -> BTreeMap<String, serde_json::Value> {
    let map: BTreeMap<_, _> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let fields = r.as_object_mut().unwrap();
            fields.remove("timings_ms");
            fields.remove("finished_unix");
            (r["path"].as_str().unwrap().to_string(), r)
        })
        .collect();
    assert_eq!(map.len(), records.len(), "one record per path");
    map
}

/// `tarjoman manifest merge OUT/manifest.shard-*-of-N.jsonl -o
/// OUT/manifest.jsonl`, the shard manifests found as the shell's glob
/// would find them.
fn merge(out: &Path, n: usize) -> String {
    let suffix = format!("-of-{n}.jsonl");
    let mut shards: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("manifest.shard-") && name.ends_with(&suffix)
        })
        .collect();
    shards.sort();
    assert_eq!(shards.len(), n, "one manifest per shard: {shards:?}");
    let o = output(
        Command::new(bin())
            .args(["manifest", "merge"])
            .args(&shards)
            .arg("-o")
            .arg(out.join("manifest.jsonl")),
    );
    assert!(o.status.success(), "merge: {}", text(&o.stderr));
    text(&o.stderr)
}

/// Checks a merged scale-out run against the one-machine run of the same
/// folder: one record per input, the same records (bad inputs failed), and
/// byte-identical output files, nothing more, nothing less.
fn assert_same_as_one_machine(out: &Path, one: &Path, inputs: &BTreeSet<String>) {
    let merged = by_path(&manifest(&out.join("manifest.jsonl")));
    let reference = by_path(&manifest(&one.join("manifest.jsonl")));
    assert_eq!(
        merged.keys().collect::<BTreeSet<_>>(),
        inputs.iter().collect(),
        "one record per input"
    );
    for bad in BAD {
        assert_eq!(merged[bad]["status"], "failed", "{}", merged[bad]);
    }
    let ok = merged.values().filter(|r| r["status"] == "ok").count();
    assert_eq!(ok, inputs.len() - BAD.len());
    for (path, record) in &merged {
        assert_eq!(record, &reference[path], "{path}: differs from one machine");
    }
    let outputs = |dir: &Path| -> BTreeSet<String> {
        files_under(dir)
            .into_iter()
            .filter(|f| !f.starts_with("manifest."))
            .collect()
    };
    let files = outputs(out);
    assert_eq!(files, outputs(one), "the same output files");
    assert_eq!(files.len(), ok, "one summary per good input");
    for f in &files {
        assert!(
            std::fs::read(out.join(f)).unwrap() == std::fs::read(one.join(f)).unwrap(),
            "{f}: not byte-identical to the one-machine run"
        );
    }
}

/// The one-node cluster, brought up by `scripts/slurm_setup.sh`; jobs are
/// submitted under a name of their own and cancelled when dropped.
struct Slurm {
    job_name: String,
    logs: PathBuf,
}

impl Slurm {
    fn start(work: &Path) -> Slurm {
        let uid = output(Command::new("id").arg("-u"));
        assert_eq!(
            text(&uid.stdout).trim(),
            "0",
            "tests/slurm.rs must run as root: scripts/slurm_setup.sh installs Slurm \
             and starts its daemons (CI runs as root; run `sudo cargo test --test slurm`)"
        );
        let setup = output(&mut Command::new(checkout().join("scripts/slurm_setup.sh")));
        assert!(
            setup.status.success(),
            "Slurm could not be started by scripts/slurm_setup.sh (exit {:?}):\n{}{}",
            setup.status.code(),
            text(&setup.stdout),
            text(&setup.stderr)
        );
        let logs = work.join("slurm-logs");
        std::fs::create_dir_all(&logs).unwrap();
        Slurm {
            job_name: format!("tarjoman-test-{}", std::process::id()),
            logs,
        }
    }

    /// `sbatch --array=ARRAY [--wait] scripts/slurm_summarize.sh ARGS`,
    /// sized for the two-core node (the script's defaults ask for 4 CPUs
    /// and 8G), bounded by `timeout`.
    fn sbatch(&self, array: &str, wait: bool, args: &[&Path], extra: &[&str]) -> Command {
        let limit = if wait { "180" } else { "30" };
        let mut cmd = Command::new("timeout");
        cmd.args([limit, "sbatch", "--parsable"])
            .arg(format!("--job-name={}", self.job_name))
            .arg(format!("--array={array}"))
            .args(["--cpus-per-task=1", "--mem=1G", "--time=00:10:00"])
            .arg(format!("--output={}/%A_%a.log", self.logs.display()))
            .current_dir(&self.logs);
        if wait {
            cmd.arg("--wait");
        }
        cmd.arg(checkout().join("scripts/slurm_summarize.sh"))
            .args(args)
            .args(extra);
        tarjoman_env(&mut cmd);
        cmd
    }

    /// Runs an sbatch command; returns the job id.
    fn submit(&self, cmd: &mut Command) -> String {
        let o = output(cmd);
        assert_ne!(o.status.code(), Some(124), "sbatch timed out: {cmd:?}");
        assert!(
            o.status.success(),
            "{cmd:?}: exit {:?}: {}\nlogs:\n{}",
            o.status.code(),
            text(&o.stderr),
            self.all_logs()
        );
        let id = text(&o.stdout).trim().to_string();
        assert!(id.parse::<u64>().is_ok(), "sbatch printed {id:?}");
        id
    }

    fn all_logs(&self) -> String {
        let mut all = String::new();
        for f in files_under(&self.logs) {
            let body = std::fs::read_to_string(self.logs.join(&f)).unwrap_or_default();
            all += &format!("--- {f}\n{body}");
        }
        all
    }

    /// The array's tasks still queued or running: task index -> state.
    fn tasks(&self, job: &str) -> BTreeMap<usize, String> {
        let o = output(Command::new("squeue").args(["-h", "-r", "-o", "%i %T", "-j", job]));
        text(&o.stdout)
            .lines()
            .filter_map(|l| {
                let (id, state) = l.split_once(' ')?;
                let task = id.rsplit_once('_')?.1.parse().ok()?;
                Some((task, state.to_string()))
            })
            .collect()
    }

    fn wait_gone(&self, job: &str, limit: Duration) {
        let start = Instant::now();
        while !self.tasks(job).is_empty() {
            assert!(
                start.elapsed() < limit,
                "job {job} still queued after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        let _ = Command::new("scancel")
            .arg(format!("--name={}", self.job_name))
            .output();
    }
}

fn lines_in(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.matches('\n').count())
}

/// The acceptance test of scale-out: a real Slurm job array of four tasks
/// gives byte for byte what one machine gives; an array task cancelled
/// mid-shard and submitted again loses and duplicates nothing.
#[test]
fn slurm_job_array_matches_one_machine_and_survives_a_cancelled_task() {
    let _one_at_a_time = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("news");
    let inputs = corpus(&input, ARTICLES);
    let slurm = Slurm::start(tmp.path());
    eprintln!("slurm up in {:?}", started.elapsed());

    // One machine.
    let one = tmp.path().join("one-machine");
    let t = Instant::now();
    let o = output(
        tarjoman_env(&mut Command::new(bin()))
            .arg("summarize")
            .arg(&input)
            .arg("-o")
            .arg(&one)
            .args(["--method", "extractive"]),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "bad inputs fail the run: {}",
        text(&o.stderr)
    );
    eprintln!("one machine: {:?}", t.elapsed());

    // The array: four tasks, binary found on PATH.
    let out = tmp.path().join("slurm");
    let t = Instant::now();
    slurm.submit(
        slurm
            .sbatch("0-3", true, &[&input, &out], &[])
            .env("PATH", path_with_bin()),
    );
    eprintln!("job array: {:?}", t.elapsed());
    let merged = merge(&out, SHARDS);
    let expected = format!(
        "{} records ({} ok, 2 failed, 0 skipped)",
        ARTICLES + 2,
        ARTICLES
    );
    assert!(merged.contains(&expected), "{merged}");
    assert_same_as_one_machine(&out, &one, &inputs);

    // Cancel the largest shard's task once it has written some records.
    let sizes: Vec<usize> = (0..SHARDS)
        .map(|k| lines_in(&out.join(format!("manifest.shard-{k}-of-{SHARDS}.jsonl"))))
        .collect();
    let k = (0..SHARDS).max_by_key(|&k| sizes[k]).unwrap();
    let out2 = tmp.path().join("slurm-cancelled");
    let shard_manifest = out2.join(format!("manifest.shard-{k}-of-{SHARDS}.jsonl"));
    let t = Instant::now();
    let job = slurm.submit(
        slurm
            .sbatch("0-3", false, &[&input, &out2], &[])
            .env("PATH", path_with_bin()),
    );
    let task = format!("{job}_{k}");
    let mut seen = false;
    loop {
        let state = slurm.tasks(&job).get(&k).cloned();
        match state.as_deref() {
            Some("RUNNING") if lines_in(&shard_manifest) >= 2 => break,
            Some(_) => seen = true,
            None if seen => panic!(
                "task {task} ended before it could be cancelled ({} of {} records): \
                 make its shard larger",
                lines_in(&shard_manifest),
                sizes[k]
            ),
            None => {}
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "task {task} never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = output(Command::new("scancel").arg(&task));
    assert!(o.status.success(), "scancel {task}: {}", text(&o.stderr));
    let cancelled = Instant::now();
    loop {
        let o = output(Command::new("scontrol").args(["show", "job", &task]));
        let info = text(&o.stdout);
        if info.contains("JobState=CANCELLED") {
            break;
        }
        assert!(
            cancelled.elapsed() < Duration::from_secs(30),
            "{task} not cancelled: {info}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    slurm.wait_gone(&job, Duration::from_secs(120));
    let done: Vec<serde_json::Value> = std::fs::read_to_string(&shard_manifest)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        (2..sizes[k]).contains(&done.len()),
        "cancelled mid-shard: {} of {} records",
        done.len(),
        sizes[k]
    );
    let done_ok = done.iter().filter(|r| r["status"] == "ok").count();
    eprintln!(
        "cancelled {task} after {} of {} records: {:?}",
        done.len(),
        sizes[k],
        t.elapsed()
    );

    // Submit that task again: the binary from TARJOMAN_BIN this time, N as
    // the third argument (a one-task array cannot tell it).
    let t = Instant::now();
    let n = SHARDS.to_string();
    let again = slurm.submit(
        slurm
            .sbatch(&k.to_string(), true, &[&input, &out2], &[&n])
            .env("TARJOMAN_BIN", bin()),
    );
    eprintln!("resubmitted task {k}: {:?}", t.elapsed());
    let log = std::fs::read_to_string(slurm.logs.join(format!("{again}_{k}.log"))).unwrap();
    let last = log
        .lines()
        .rev()
        .find(|l| l.contains(" ok, "))
        .unwrap_or("");
    let skipped = format!("skipped ({done_ok} already done");
    assert!(
        last.contains(&skipped) && last.contains(&format!("of {} in", sizes[k])),
        "the resubmitted task resumes its shard: {log}"
    );
    let merged = merge(&out2, SHARDS);
    assert!(merged.contains(&expected), "{merged}");
    assert_same_as_one_machine(&out2, &one, &inputs);
    eprintln!("slurm test: {:?}", started.elapsed());
}

/// `python3 -m kubernetes_validate`, installed by scripts/test.sh.
fn kubernetes_validate(file: &Path) -> Output {
    let o = output(
        Command::new("python3")
            .args(["-m", "kubernetes_validate", "--strict"])
            .arg(file),
    );
    let err = text(&o.stderr);
    assert!(
        !err.contains("No module named"),
        "kubernetes-validate is not installed: pip install kubernetes-validate==1.37.0 \
         (scripts/test.sh does): {err}"
    );
    o
}

/// The Indexed Job is a valid `batch/v1` Job by the published schema, and
/// the validator does reject what is not (so its pass means something).
#[test]
fn k8s_indexed_job_is_valid_by_the_published_job_schema() {
    let job = checkout().join("scripts/k8s-indexed-job.yaml");
    let o = kubernetes_validate(&job);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let yaml = std::fs::read_to_string(&job).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("completionMode:", "completionMod:"),
        ("completions: 8", "completions: eight"),
        ("restartPolicy: Never", "restartPolicy: [Never]"),
    ] {
        assert!(yaml.contains(from), "{from}");
        let bad = tmp.path().join("bad.yaml");
        std::fs::write(&bad, yaml.replacen(from, to, 1)).unwrap();
        let o = kubernetes_validate(&bad);
        assert_eq!(o.status.code(), Some(1), "{to}: {}", text(&o.stdout));
    }
}

/// The YAML as JSON (PyYAML, which kubernetes-validate brings).
fn yaml_to_json(file: &Path) -> serde_json::Value {
    let o = output(
        Command::new("python3")
            .args([
                "-c",
                "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            ])
            .arg(file),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Pod K of the Indexed Job runs shard K of `completions`: each pod's
/// command, run as its container would run it (JOB_COMPLETION_INDEX=K, the
/// env of the manifest, the volume at a temporary folder), and the shards
/// merged give one record per input.
#[test]
fn k8s_pod_index_k_runs_shard_k_of_completions() {
    let job = yaml_to_json(&checkout().join("scripts/k8s-indexed-job.yaml"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap() as usize;
    assert!(spec["parallelism"].as_u64().unwrap() as usize <= n);
    let pod = &spec["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["command"], serde_json::json!(["/bin/sh", "-c"]));
    let script = container["args"][0].as_str().unwrap();
    assert!(
        script.contains(&format!("--shard \"${{JOB_COMPLETION_INDEX}}/{n}\"")),
        "shard count = completions: {script}"
    );
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let volume = tmp.path().join("volume");
    // The input folder the script names, under the mount.
    let news = script
        .split_whitespace()
        .find(|w| w.starts_with(mount))
        .unwrap();
    let inputs = corpus(
        &volume.join(news[mount.len()..].trim_start_matches('/')),
        24,
    );
    let script = script.replace(mount, volume.to_str().unwrap());
    let mut env: Vec<(String, String)> = Vec::new();
    for var in container["env"].as_array().unwrap() {
        let (name, value) = (
            var["name"].as_str().unwrap(),
            var["value"].as_str().unwrap(),
        );
        let value = value.replace(mount, volume.to_str().unwrap());
        if name == "TARJOMAN_HOME" {
            std::fs::create_dir_all(Path::new(&value).parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(models(), &value).unwrap();
        }
        env.push((name.to_string(), value));
    }
    let pod_run = |index: usize| {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(&script);
        tarjoman_env(&mut cmd)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .env("PATH", path_with_bin());
        output(&mut cmd)
    };
    for k in 0..n {
        let o = pod_run(k);
        // Failed inputs are recorded; the pod itself succeeds.
        assert!(o.status.success(), "pod {k}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(&format!("shard {k}/{n}")),
            "pod {k}: {}",
            text(&o.stderr)
        );
    }
    // An index past the last is refused, not silently run.
    let o = pod_run(n);
    assert!(!o.status.success(), "index {n} of {n}: {}", text(&o.stderr));

    let out = script
        .split_whitespace()
        .skip_while(|w| *w != "-o")
        .nth(1)
        .unwrap();
    let out = Path::new(out);
    merge(out, n);
    let records = by_path(&manifest(&out.join("manifest.jsonl")));
    assert_eq!(
        records.keys().collect::<BTreeSet<_>>(),
        inputs.iter().collect(),
        "one record per input"
    );
    for bad in BAD {
        assert_eq!(records[bad]["status"], "failed", "{}", records[bad]);
    }
}
