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

cargo build --release --locked
# gemma-3-270m and qwen2.5-coder-1.5b-instruct: their GGUF-built tokenizers
# are checked against their tokenizer.json files
# (crates/models/tests/gguf_tokenizers.rs).
for model in smollm2-135m-instruct all-minilm-l6-v2 gemma-3-270m qwen2.5-coder-1.5b-instruct; do
  target/release/tarjoman models pull "$model"
done
# Tests run several models at once (parallel test threads, CLI
# subprocesses): one kernel thread per model keeps both cores busy without
# candle's spin-waiting thread pools fighting over them (which made runs
# several times slower).
export CANDLE_NUM_THREADS=1 RAYON_NUM_THREADS=1
cargo test --workspace --release --locked
