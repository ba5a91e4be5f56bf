#!/usr/bin/env bash
# The whole test suite, on a fresh machine: builds, fetches the models the
# tests need (the smallest real ones), then runs every test in release mode
# (candle's kernels are too slow unoptimized for end-to-end runs).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pkg-config >/dev/null || ! pkg-config --exists openssl 2>/dev/null; then
  echo "installing OpenSSL headers (native TLS uses the system's root store)" >&2
  apt-get update -qq && apt-get install -y -qq pkg-config libssl-dev >/dev/null
fi

# tests/slurm.rs checks scripts/k8s-indexed-job.yaml against the published
# Job schema: kubernetes-validate ships the schemas, so it runs offline.
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  echo "installing kubernetes-validate (Kubernetes schemas, for tests/slurm.rs)" >&2
  python3 -m pip install -q --root-user-action=ignore kubernetes-validate==1.37.0
fi
# tests/serve.rs calls `tarjoman serve` with LibreTranslate's own Python
# client, and drives its page in Chromium through chromedriver.
if ! python3 -c 'import libretranslatepy' 2>/dev/null; then
  echo "installing libretranslatepy (LibreTranslate's client, for tests/serve.rs)" >&2
  python3 -m pip install -q --root-user-action=ignore libretranslatepy==2.1.4
fi
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing Chromium and chromedriver (for tests/serve.rs)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "warning: chromium and chromedriver are missing (apt-get install chromium chromium-driver): tests/serve.rs will fail" >&2
  fi
fi
# tests/slurm.rs runs a real one-node Slurm cluster; it starts one itself
# (as root), but installing Slurm first keeps that out of the test's time.
if [ "$(id -u)" -eq 0 ]; then
  scripts/slurm_setup.sh || echo "warning: Slurm did not start: tests/slurm.rs will fail" >&2
fi

cargo build --release --locked
# gemma-3-270m and qwen2.5-coder-1.5b-instruct: their GGUF-built tokenizers
# are checked against their tokenizer.json files
# (crates/models/tests/gguf_tokenizers.rs). cldr-names-48: the built-in
# place names; lilak-fa-words: the word list that tells possible names.
for model in smollm2-135m-instruct all-minilm-l6-v2 gemma-3-270m qwen2.5-coder-1.5b-instruct cldr-names-48 lilak-fa-words; do
  target/release/tarjoman models pull "$model"
done
# Tests run several models at once (parallel test threads, CLI
# subprocesses): one kernel thread per model keeps both cores busy without
# candle's spin-waiting thread pools fighting over them (which made runs
# several times slower).
export CANDLE_NUM_THREADS=1 RAYON_NUM_THREADS=1
cargo test --workspace --release --locked
# The hub over HTTPS with a CA that only the system store holds: the test
# installs it with update-ca-certificates and removes it after, so it needs
# root and runs on its own, after everything else.
if [ "$(id -u)" -eq 0 ]; then
  cargo test --release --locked -p tarjoman-registry --test hub_tls -- --ignored
else
  echo "warning: not root: the system-store HTTPS test (crates/registry/tests/hub_tls.rs) did not run" >&2
fi
scripts/test_neon.sh
