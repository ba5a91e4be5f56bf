#!/usr/bin/env bash
# What a summary of the seed article costs on top of its translation, per
# method: translates the seed once with the default model, then summarizes
# that English translation with each method in turn, alternating, RUNS times
# (default 3), and prints one JSON object: the summarize milliseconds of
# every run (model loading excluded), their medians and the ratio of each
# method's median to the abstractive one's, and the machine.
#
# usage: scripts/bench_summary.sh [METHODS]   (default: abstractive,grounded)
set -euo pipefail
cd "$(dirname "$0")/.."
methods=${1:-abstractive,grounded}
runs=${RUNS:-3}
bin=target/release/tarjoman
[ -x "$bin" ] || cargo build --release --locked >&2
outdir=target/bench
mkdir -p "$outdir"
english="$outdir/seed.summary-input.en.txt"
"$bin" translate ../shared/seed/article.fa.txt >"$english"

results="$outdir/summary-runs.jsonl"
: >"$results"
for ((i = 1; i <= runs; i++)); do
  for m in ${methods//,/ }; do
    "$bin" summarize --json --method "$m" "$english" 2>/dev/null |
      python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({"method": r["method"], "summarize_ms": r["timings_ms"]["summarize"], "words": r["words"], "sentences": len(r["sentences"]), "replacements": r["replacements"]}))' \
      >>"$results"
  done
done
python3 - "$results" <<'PY'
import json, platform, statistics, subprocess, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in runs:
    by.setdefault(r["method"], []).append(r)
cpu = next((l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines() if l.startswith("Model name")), platform.processor())
medians = {m: statistics.median(r["summarize_ms"] for r in rs) for m, rs in by.items()}
base = medians.get("abstractive")
print(json.dumps({
    "machine": cpu,
    "runs": runs,
    "median_summarize_ms": medians,
    "ratio_to_abstractive": {m: round(v / base, 2) for m, v in medians.items()} if base else None,
}, indent=1))
PY
