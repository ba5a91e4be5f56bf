#!/usr/bin/env bash
# candle (tarjoman) against llama.cpp on the same GGUF, the same token ids and the same thread
# count. For each model, runs `tarjoman bench --model M --json` and
# scripts/bench_peer.py alternately RUNS times (which one goes first alternates too), then
# prints the medians of both and their candle/llama.cpp ratios as JSON and as a Markdown table
# for BENCHMARKS.md (scripts/bench_aggregate.py does the arithmetic).
#
# usage: scripts/bench_compare.sh MODEL...   (default: gemma-3-270m qwen2.5-coder-1.5b-instruct)
# env:   RUNS=5        alternating runs per engine and model
#        THREADS=2     threads for llama.cpp; tarjoman bench picks its own and reports it
#                      (the summary shows both, and warns when they differ)
#        CANDLE_ARGS=  extra flags for `tarjoman bench`
#        PEER_ONLY=1   run llama.cpp only (the candle columns stay empty; nothing is made up)
#        OUT=DIR       where raw results go (default target/bench/compare/<date>)
#        ISA=avx2      both engines on AVX2 + FMA only: tarjoman with TARJOMAN_KERNELS=avx2,
#                      llama.cpp from target/peer-venv-avx2 (ISA=avx2 scripts/bench_peer_setup.sh:
#                      -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
#                      -DGGML_AVX512=OFF). `tarjoman bench` reports the kernels that ran.
#        OMP_WAIT_POLICY=PASSIVE  (passed on to llama.cpp) its OpenMP threads sleep at barriers
#                      instead of spinning. Unset is llama.cpp's default and right on an idle
#                      machine; with more runnable threads than cores, spinning collapses
#                      llama.cpp's speed (measured at load average ~16 on 2 cores, gemma-3-270m:
#                      decode 1.8 tok/s spinning vs 38 tok/s passive), so on a loaded machine
#                      compare against PASSIVE too. Each run records the policy it used.
# Needs: scripts/bench_peer_setup.sh run once (llama-cpp-python in target/peer-venv) and,
# unless PEER_ONLY=1, target/release/tarjoman with the `bench` command.
# Raw runs: $OUT/results.jsonl (one JSON object per run), load averages: $OUT/loadavg.txt,
# summary: $OUT/summary.json and $OUT/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-5}
threads=${THREADS:-2}
peer_only=${PEER_ONLY:-0}
bin=target/release/tarjoman
isa=${ISA:-native}
case "$isa" in
  native) peer_py=${PEER_PYTHON:-target/peer-venv/bin/python} ;;
  avx2) peer_py=${PEER_PYTHON:-target/peer-venv-avx2/bin/python}
        export TARJOMAN_KERNELS=avx2 ;;
  *) echo "bench_compare: ISA=$isa is not native or avx2" >&2; exit 2 ;;
esac
out=${OUT:-target/bench/compare/$(date +%Y%m%d-%H%M%S)}
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(gemma-3-270m qwen2.5-coder-1.5b-instruct)

[ -x "$peer_py" ] || { echo "bench_compare: $peer_py missing; run ISA=$isa scripts/bench_peer_setup.sh" >&2; exit 1; }
if [ "$peer_only" != 1 ]; then
  [ -x "$bin" ] || { echo "bench_compare: $bin missing; cargo build --release" >&2; exit 1; }
fi
mkdir -p "$out"
results=$out/results.jsonl
loadavg=$out/loadavg.txt
: >"$results"
: >"$loadavg"

# The prompts: token ids written by tarjoman itself, so both engines see the same input.
# With PEER_ONLY=1 and a tarjoman without `bench --dump-prompts`, llama.cpp's tokenizer makes
# an equivalent file (same text and lengths; see bench_peer.py --dump-prompts).
# The GGUF the peer runs: the model's file under models/ (or MODEL itself if it is a path);
# used when the prompts file does not name one.
gguf_for() {
  local model=$1
  if [ -f "$model" ]; then
    echo "$model"
  else
    ls models/"$model"/*.gguf 2>/dev/null | head -n1 || true
  fi
}

prompts_for() {
  local model=$1 file
  file=$out/$(basename "$1" .gguf).prompts.json
  local err=$file.err
  if [ -x "$bin" ] && "$bin" bench --model "$model" --dump-prompts "$file" >/dev/null 2>"$err"; then
    echo "$file"
  elif [ "$peer_only" = 1 ]; then
    local gguf
    gguf=$(gguf_for "$model")
    [ -n "$gguf" ] || { echo "bench_compare: no GGUF for $model in models/$model/" >&2; exit 1; }
    echo "bench_compare: tarjoman bench --dump-prompts unavailable; prompts from llama.cpp's tokenizer" >&2
    "$peer_py" scripts/bench_peer.py --dump-prompts "$file" --name "$model" --gguf "$gguf" >&2
    echo "$file"
  else
    echo "bench_compare: '$bin bench --model $model --dump-prompts $file' failed:" >&2
    cat "$err" >&2
    exit 1
  fi
}

run_candle() {
  local model=$1
  [ "$peer_only" = 1 ] && return 0
  echo "  candle    $model" >&2
  # shellcheck disable=SC2086  # CANDLE_ARGS is a list of extra flags
  "$bin" bench --model "$model" --json ${CANDLE_ARGS:-} | tr -d '\n' >>"$results"
  echo >>"$results"
  cat /proc/loadavg >>"$loadavg"
}

run_peer() {
  local prompts=$1 gguf=$2
  echo "  llama.cpp $(basename "$prompts" .prompts.json)" >&2
  "$peer_py" scripts/bench_peer.py --prompts "$prompts" ${gguf:+--gguf "$gguf"} --threads "$threads" >>"$results"
  cat /proc/loadavg >>"$loadavg"
}

read -r load1 _ </proc/loadavg
if awk -v l="$load1" -v c="$(nproc)" 'BEGIN { exit !(l > c) }'; then
  echo "bench_compare: warning: load average $load1 is above $(nproc) cores; timings will be noisy" \
    "(and llama.cpp's spinning threads slow; see OMP_WAIT_POLICY above)" >&2
fi

for model in "${models[@]}"; do
  prompts=$(prompts_for "$model")
  gguf=$(gguf_for "$model")
  for ((i = 1; i <= runs; i++)); do
    echo "run $i/$runs: $model (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    cat /proc/loadavg >>"$loadavg"
    if ((i % 2)); then
      run_candle "$model"
      run_peer "$prompts" "$gguf"
    else
      run_peer "$prompts" "$gguf"
      run_candle "$model"
    fi
  done
done

python3 scripts/bench_aggregate.py --loadavg "$loadavg" --format json "$results" >"$out/summary.json"
python3 scripts/bench_aggregate.py --loadavg "$loadavg" --format md "$results" >"$out/summary.md"
cat "$out/summary.json"
echo
{
  echo "Command: RUNS=$runs THREADS=$threads${ISA:+ ISA=$ISA}${PEER_ONLY:+ PEER_ONLY=$PEER_ONLY}${OMP_WAIT_POLICY:+ OMP_WAIT_POLICY=$OMP_WAIT_POLICY} scripts/bench_compare.sh ${models[*]}"
  echo
  cat "$out/summary.md"
}
echo "raw results in $out" >&2
