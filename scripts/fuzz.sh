#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after another, SECONDS_PER_TARGET each
# (default 600), with small seed corpora made here (never committed), and
# prints libFuzzer's final statistics for RELIABILITY.md.
#
#   cargo install cargo-fuzz --locked
#   scripts/fuzz.sh                 # text manifest gguf tokenizer_json
#   SECONDS_PER_TARGET=60 scripts/fuzz.sh text
#
# cargo-fuzz needs nightly compiler flags; on a stable toolchain
# RUSTC_BOOTSTRAP=1 allows them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-600}
TARGETS=${*:-text manifest gguf tokenizer_json}
shared=../../shared

mkdir -p corpus/text corpus/manifest corpus/gguf corpus/tokenizer_json
cp "$shared/seed/article.fa.txt" corpus/text/seed 2>/dev/null || true
head -c 2000 "$shared/data/tico19/test.fa" >corpus/text/tico-fa 2>/dev/null || true
printf '%s\n' '{"path":"a b/خبر.txt","sha256":"00","status":"ok","model":"m","settings":{"seed":1},"settings_sha256":"ff","outputs":{"summary":"a b/خبر.txt.summary.txt"},"timings_ms":{"total":5},"finished_unix":1}' \
  '{"path":"x.txt","status":"failed","error":"the input is empty"}' >corpus/manifest/sample
gguf=$(ls ../models/smollm2-135m-instruct/*.gguf 2>/dev/null | head -n 1 || true)
[ -n "$gguf" ] && head -c 4096 "$gguf" >corpus/gguf/smollm2-head
tok=$(ls ../models/gemma-3-270m/tokenizer.json 2>/dev/null || true)
[ -n "$tok" ] && head -c 4096 "$tok" >corpus/tokenizer_json/gemma-head
printf '{"version":"1.0","model":{"type":"WordLevel","vocab":{"a":0,"[UNK]":1},"unk_token":"[UNK]"}}' >corpus/tokenizer_json/tiny

for target in $TARGETS; do
  echo "== $target: cargo fuzz run -O $target -- -max_total_time=$SECONDS_PER_TARGET -rss_limit_mb=4096"
  rc=0
  features=()
  case $target in gguf | tokenizer_json) features=(--features models) ;; esac
  cargo fuzz run -O "${features[@]}" "$target" "corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -print_final_stats=1 \
    >"/tmp/fuzz-$target.log" 2>&1 || rc=$?
  grep -E "^(stat::|Done|SUMMARY)|panicked|ERROR|crash-" "/tmp/fuzz-$target.log" || true
  echo "== $target: exit status $rc (full log /tmp/fuzz-$target.log)"
done
