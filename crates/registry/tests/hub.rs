//! The Hugging Face path end to end against a local stand-in for the hub
//! (`common::Server::publish_hf_repo`): pull, cache hit, offline mode with
//! and without a cached copy, sharded and Marian layouts, corrupt
//! downloads. No test touches the real hub.

mod common;

use std::fs;
use std::path::Path;

use common::{chain, content, hub_config, resolve, sha256_hex, Failure, Recorder, Server};
use tarjoman_registry::{
    HubConfig, Manifest, ModelSpec, Provenance, Resolver, Store, TokenizerFiles, WeightsFormat,
};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

struct TinyRepo {
    config: Vec<u8>,
    weights: Vec<u8>,
    tokenizer: Vec<u8>,
}

fn publish_tiny(server: &Server, repo: &str) -> TinyRepo {
    let tiny = TinyRepo {
        config: br#"{"model_type": "qwen2", "vocab_size": 16}"#.to_vec(),
        weights: content(70_000, 11),
        tokenizer: br#"{"version": "1.0"}"#.to_vec(),
    };
    server.publish_hf_repo(
        repo,
        COMMIT,
        &[
            ("config.json", &tiny.config, false),
            ("model.safetensors", &tiny.weights, true),
            ("tokenizer.json", &tiny.tokenizer, false),
            ("README.md", b"# tiny", false),
        ],
        &[],
    );
    tiny
}

#[test]
fn pulls_then_hits_the_cache_then_works_offline() {
    let server = Server::start();
    let tiny = publish_tiny(&server, "org/tiny");
    let cache = tempfile::tempdir().expect("tempdir");

    // Pull: listing, metadata, downloads.
    let files = resolve(hub_config(&server, cache.path(), false), "org/tiny").expect("pull");
    assert_eq!(files.format, WeightsFormat::Safetensors);
    assert_eq!(fs::read(&files.weights[0]).expect("weights"), tiny.weights);
    assert_eq!(
        fs::read(files.config.as_ref().expect("config")).expect("config"),
        tiny.config
    );
    let TokenizerFiles::Json { path } = &files.tokenizer else {
        panic!("expected tokenizer.json, got {:?}", files.tokenizer);
    };
    assert_eq!(fs::read(path).expect("tokenizer"), tiny.tokenizer);
    match &files.provenance {
        Provenance::Hub {
            repo,
            revision,
            commit,
            downloaded,
            contacted_hub,
            ..
        } => {
            assert_eq!((repo.as_str(), revision.as_str()), ("org/tiny", "main"));
            assert_eq!(commit, COMMIT);
            assert_eq!(
                downloaded,
                &["config.json", "model.safetensors", "tokenizer.json"]
            );
            assert!(contacted_hub);
        }
        other => panic!("expected hub provenance, got {other:?}"),
    }
    // huggingface_hub's layout: blobs by ETag, snapshot symlinks, refs.
    let repo_dir = cache.path().join("models--org--tiny");
    let blob = repo_dir.join("blobs").join(sha256_hex(&tiny.weights));
    assert_eq!(fs::read(&blob).expect("blob"), tiny.weights);
    let link = repo_dir
        .join("snapshots")
        .join(COMMIT)
        .join("model.safetensors");
    assert_eq!(
        fs::read_link(&link).expect("symlink"),
        Path::new("../../blobs").join(sha256_hex(&tiny.weights))
    );
    assert_eq!(
        fs::read_to_string(repo_dir.join("refs/main")).expect("ref"),
        COMMIT
    );
    assert!(
        !fs::read_dir(repo_dir.join("blobs"))
            .expect("blobs")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".incomplete")),
        "no temporary file is left behind"
    );
    // The metadata came from a HEAD that did not follow the CDN redirect,
    // and the README was not fetched.
    let hits = server.all_hits();
    assert!(hits.iter().any(|h| h.method == "HEAD"
        && h.path == format!("/hf/org/tiny/resolve/{COMMIT}/model.safetensors")));
    assert!(!hits.iter().any(|h| h.path.ends_with("README.md")));
    assert_eq!(
        server.hits(&format!("/cdn/{}", sha256_hex(&tiny.weights))),
        1
    );

    // Cache hit: the server gets no request at all.
    let before = server.all_hits().len();
    let again = resolve(hub_config(&server, cache.path(), false), "org/tiny").expect("cache hit");
    assert_eq!(again.weights, files.weights);
    assert!(matches!(
        again.provenance,
        Provenance::Hub { contacted_hub: false, ref downloaded, .. } if downloaded.is_empty()
    ));
    assert_eq!(server.all_hits().len(), before);

    // Offline with a cached copy: works, still no request; a pinned commit
    // resolves through the snapshot directly.
    let offline = resolve(hub_config(&server, cache.path(), true), "org/tiny").expect("offline");
    assert_eq!(offline.weights, files.weights);
    let pinned = resolve(
        hub_config(&server, cache.path(), true),
        &format!("org/tiny@{COMMIT}"),
    )
    .expect("offline, pinned commit");
    assert_eq!(pinned.weights, files.weights);
    assert_eq!(server.all_hits().len(), before);

    // Offline with a cached copy that lacks a file: the error names it.
    fs::remove_file(
        repo_dir
            .join("snapshots")
            .join(COMMIT)
            .join("tokenizer.json"),
    )
    .expect("remove");
    let err = resolve(hub_config(&server, cache.path(), true), "org/tiny").unwrap_err();
    let text = chain(&err);
    assert!(
        text.contains("tokenizer.json")
            && text.contains("org/tiny")
            && text.contains("HF_HUB_OFFLINE"),
        "{text}"
    );
    // Online again, only the missing file is fetched.
    let refetched = resolve(hub_config(&server, cache.path(), false), "org/tiny").expect("refetch");
    assert!(matches!(
        refetched.provenance,
        Provenance::Hub { ref downloaded, .. } if downloaded == &["tokenizer.json"]
    ));
    assert_eq!(
        server.hits(&format!("/cdn/{}", sha256_hex(&tiny.weights))),
        1
    );
}

#[test]
fn resolves_pinned_commits_tags_and_branches() {
    let server = Server::start();
    let tiny = publish_tiny(&server, "org/tiny");
    server.name_hf_revision("org/tiny", "v1.0", COMMIT);
    server.name_hf_revision("org/tiny", "refs/pr/1", COMMIT);
    let cache = tempfile::tempdir().expect("tempdir");
    let repo_dir = cache.path().join("models--org--tiny");

    // A pinned commit is fetched as such, and names no ref.
    let pinned = resolve(
        hub_config(&server, cache.path(), false),
        &format!("org/tiny@{COMMIT}"),
    )
    .expect("pinned commit");
    assert_eq!(fs::read(&pinned.weights[0]).expect("read"), tiny.weights);
    assert!(matches!(
        &pinned.provenance,
        Provenance::Hub { revision, commit, contacted_hub: true, .. }
            if revision == COMMIT && commit == COMMIT
    ));
    assert!(!repo_dir.join("refs").exists());

    // A tag, and a branch whose name holds `/`: the hub says which commit
    // they name, whose snapshot is complete, so nothing is downloaded; the
    // refs are recorded for later runs.
    for revision in ["v1.0", "refs/pr/1"] {
        let files = resolve(
            hub_config(&server, cache.path(), false),
            &format!("org/tiny@{revision}"),
        )
        .expect(revision);
        assert!(
            matches!(
                &files.provenance,
                Provenance::Hub { revision: named, commit, downloaded, contacted_hub: true, .. }
                    if named == revision && commit == COMMIT && downloaded.is_empty()
            ),
            "{:?}",
            files.provenance
        );
        assert_eq!(
            fs::read_to_string(repo_dir.join("refs").join(revision)).expect("ref"),
            COMMIT
        );
    }
    // Offline, each resolves through its ref without a request.
    let before = server.all_hits().len();
    for revision in ["v1.0", "refs/pr/1"] {
        resolve(
            hub_config(&server, cache.path(), true),
            &format!("org/tiny@{revision}"),
        )
        .expect(revision);
    }
    assert_eq!(server.all_hits().len(), before);

    // A revision the hub does not know: its answer names it.
    let err =
        chain(&resolve(hub_config(&server, cache.path(), false), "org/tiny@v2.0").unwrap_err());
    assert!(err.contains("org/tiny") && err.contains("v2.0"), "{err}");
}

#[test]
fn offline_without_a_cached_copy_names_the_repo() {
    let server = Server::start();
    publish_tiny(&server, "org/tiny");
    let cache = tempfile::tempdir().expect("tempdir");
    let err = resolve(hub_config(&server, cache.path(), true), "org/tiny").unwrap_err();
    let text = chain(&err);
    assert!(
        text.contains("org/tiny@main") && text.contains("HF_HUB_OFFLINE"),
        "{text}"
    );
    assert!(server.all_hits().is_empty(), "offline sends no request");
}

#[test]
fn honors_hf_endpoint_hf_home_and_hf_hub_offline() {
    // The only test in this binary that reads the environment.
    let server = Server::start();
    let tiny = publish_tiny(&server, "org/env");
    let home = tempfile::tempdir().expect("tempdir");
    std::env::set_var("HF_ENDPOINT", format!("{}/hf", server.base));
    std::env::set_var("HF_HOME", home.path());
    std::env::remove_var("HF_HUB_CACHE");
    std::env::remove_var("HF_HUB_OFFLINE");
    let mut hub = HubConfig::from_env();
    hub.fetch = server.fetch_config();
    let files = resolve(hub, "org/env").expect("pull through HF_ENDPOINT");
    assert_eq!(fs::read(&files.weights[0]).expect("read"), tiny.weights);
    assert!(home
        .path()
        .join("hub/models--org--env/snapshots")
        .join(COMMIT)
        .join("model.safetensors")
        .is_file());

    std::env::set_var("HF_HUB_OFFLINE", "1");
    let offline = HubConfig::from_env();
    assert!(offline.offline);
    let before = server.all_hits().len();
    resolve(offline.clone(), "org/env").expect("offline from the cache");
    let err = resolve(offline, "org/other").unwrap_err();
    assert!(chain(&err).contains("org/other"), "{}", chain(&err));
    assert_eq!(server.all_hits().len(), before);
    for var in ["HF_ENDPOINT", "HF_HOME", "HF_HUB_OFFLINE"] {
        std::env::remove_var(var);
    }
}

#[test]
fn fetches_every_shard_and_marian_tokenizer_files() {
    let server = Server::start();
    let shard1 = content(30_000, 21);
    let shard2 = content(20_000, 22);
    let index = br#"{"metadata": {"total_size": 50000}, "weight_map": {
        "a.weight": "model-00001-of-00002.safetensors",
        "b.weight": "model-00002-of-00002.safetensors"}}"#;
    server.publish_hf_repo(
        "Helsinki-NLP/opus-mt-xx-en",
        COMMIT,
        &[
            ("config.json", br#"{"model_type": "marian"}"#, false),
            ("model.safetensors.index.json", index, false),
            ("model-00001-of-00002.safetensors", &shard1, true),
            ("model-00002-of-00002.safetensors", &shard2, true),
            ("source.spm", b"spm-src", true),
            ("target.spm", b"spm-tgt", true),
            ("vocab.json", br#"{"</s>": 0}"#, false),
            ("generation_config.json", b"{}", false),
        ],
        &[],
    );
    let cache = tempfile::tempdir().expect("tempdir");
    let files = resolve(
        hub_config(&server, cache.path(), false),
        "Helsinki-NLP/opus-mt-xx-en",
    )
    .expect("pull");
    assert_eq!(files.weights.len(), 2);
    assert_eq!(fs::read(&files.weights[0]).expect("read"), shard1);
    assert_eq!(fs::read(&files.weights[1]).expect("read"), shard2);
    assert!(matches!(files.tokenizer, TokenizerFiles::Marian { .. }));
    assert_eq!(files.extras.len(), 1);
    // Cached now, shards included.
    let before = server.all_hits().len();
    resolve(
        hub_config(&server, cache.path(), true),
        "Helsinki-NLP/opus-mt-xx-en",
    )
    .expect("offline");
    assert_eq!(server.all_hits().len(), before);
}

#[test]
fn a_download_that_does_not_match_its_etag_is_not_installed() {
    let server = Server::start();
    let weights = content(10_000, 31);
    server.publish_hf_repo(
        "org/bad",
        COMMIT,
        &[
            ("config.json", b"{}", false),
            ("model.safetensors", &weights, true),
        ],
        &[("model.safetensors", b"tampered bytes")],
    );
    let cache = tempfile::tempdir().expect("tempdir");
    let err = resolve(hub_config(&server, cache.path(), false), "org/bad").unwrap_err();
    let text = chain(&err);
    assert!(
        text.contains("model.safetensors") && text.contains("SHA-256"),
        "{text}"
    );
    let snapshot = cache.path().join("models--org--bad/snapshots").join(COMMIT);
    assert!(!snapshot.join("model.safetensors").exists());
}

#[test]
fn a_download_cut_short_is_fetched_again() {
    let server = Server::start();
    let tiny = publish_tiny(&server, "org/tiny");
    let cdn = format!("/cdn/{}", sha256_hex(&tiny.weights));
    server.fail(&cdn, &[Failure::DropAfter(1_000)]);
    let cache = tempfile::tempdir().expect("tempdir");
    let files = resolve(hub_config(&server, cache.path(), false), "org/tiny").expect("pull");
    assert_eq!(fs::read(&files.weights[0]).expect("weights"), tiny.weights);
    assert_eq!(server.hits(&cdn), 2);
}

#[test]
fn pulls_from_inside_an_async_runtime() {
    // The registry's API blocks; a caller on a tokio runtime's thread must
    // not make it panic (blocking on a runtime there does).
    let server = Server::start();
    let tiny = publish_tiny(&server, "org/tiny");
    let cache = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let files = runtime
        .block_on(async { resolve(hub_config(&server, cache.path(), false), "org/tiny") })
        .expect("pull");
    assert_eq!(fs::read(&files.weights[0]).expect("weights"), tiny.weights);
}

#[test]
fn specs_are_paths_then_manifest_names_then_repo_ids() {
    let manifest = Manifest::builtin().expect("manifest");
    let store = Store::new("/nonexistent");
    let resolver = Resolver {
        manifest: &manifest,
        store: &store,
        hub: HubConfig::from_vars(|_| None),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().to_string_lossy().into_owned();
    assert_eq!(
        resolver.parse(&spec).expect("path"),
        ModelSpec::Path(dir.path().to_path_buf())
    );
    assert_eq!(
        resolver.parse("smollm2-135m-instruct").expect("name"),
        ModelSpec::Manifest("smollm2-135m-instruct".into())
    );
    assert!(matches!(
        resolver.parse("Qwen/Qwen2.5-1.5B-Instruct-GGUF:qwen2.5-1.5b-instruct-q4_k_m.gguf"),
        Ok(ModelSpec::Hub { ref file, .. }) if file.as_deref() == Some("qwen2.5-1.5b-instruct-q4_k_m.gguf")
    ));
    let err = resolver.parse("no-such-model").unwrap_err().to_string();
    assert!(err.contains("smollm2-135m-instruct"), "{err}");
}

#[test]
fn resolves_local_directories_and_gguf_files() {
    let manifest = Manifest::builtin().expect("manifest");
    let store = Store::new("/nonexistent");
    let resolver = Resolver {
        manifest: &manifest,
        store: &store,
        hub: HubConfig::from_vars(|_| None),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("config.json"), "{}").expect("write");
    fs::write(
        dir.path().join("model.safetensors.index.json"),
        r#"{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#,
    )
    .expect("write");
    fs::write(dir.path().join("model-00001-of-00002.safetensors"), "x").expect("write");
    let spec = dir.path().to_string_lossy().into_owned();
    let err = chain(&resolver.resolve(&spec, &Recorder::default()).unwrap_err());
    assert!(err.contains("model-00002-of-00002.safetensors"), "{err}");
    fs::write(dir.path().join("model-00002-of-00002.safetensors"), "x").expect("write");
    let files = resolver
        .resolve(&spec, &Recorder::default())
        .expect("resolve");
    assert_eq!(files.weights.len(), 2);
    assert_eq!(files.tokenizer, TokenizerFiles::Missing);
    assert!(matches!(files.provenance, Provenance::Local { .. }));

    let gguf = dir.path().join("m.gguf");
    fs::write(&gguf, "GGUF").expect("write");
    let files = resolver
        .resolve(&gguf.to_string_lossy(), &Recorder::default())
        .expect("gguf");
    assert_eq!(files.format, WeightsFormat::Gguf);
    assert_eq!(files.tokenizer, TokenizerFiles::InGguf);
}

#[test]
fn a_gguf_repo_needs_the_file_named_when_it_holds_several() {
    let server = Server::start();
    let q4 = content(5_000, 41);
    server.publish_hf_repo(
        "org/gguf",
        COMMIT,
        &[
            ("m-q4_k_m.gguf", &q4, true),
            ("m-q8_0.gguf", b"other", true),
            ("README.md", b"#", false),
        ],
        &[],
    );
    let cache = tempfile::tempdir().expect("tempdir");
    let err = chain(&resolve(hub_config(&server, cache.path(), false), "org/gguf").unwrap_err());
    assert!(
        err.contains("m-q4_k_m.gguf, m-q8_0.gguf") && err.contains("REPO:FILE"),
        "{err}"
    );
    let files = resolve(
        hub_config(&server, cache.path(), false),
        "org/gguf:m-q4_k_m.gguf",
    )
    .expect("named file");
    assert_eq!(files.format, WeightsFormat::Gguf);
    assert_eq!(files.tokenizer, TokenizerFiles::InGguf);
    assert_eq!(fs::read(&files.weights[0]).expect("read"), q4);
    // Only the named file was downloaded.
    assert_eq!(server.hits(&format!("/cdn/{}", sha256_hex(b"other"))), 0);
}
