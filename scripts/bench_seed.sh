#!/usr/bin/env bash
# Times `tarjoman translate` on the seed article and prints one JSON object:
# cold (page cache dropped where permitted) and warm wall time, prefill and
# decode tokens/s as reported by tarjoman, and peak RSS.
#
# usage: scripts/bench_seed.sh [MODEL]   (default: the manifest's default)
# The last run's translation is left in target/bench/seed.en.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-qwen2.5-coder-1.5b-instruct}
seed=../shared/seed/article.fa.txt
bin=target/release/tarjoman
[ -x "$bin" ] || cargo build --release --locked >&2

# The translation of the last run is kept for a look.
outdir=target/bench
mkdir -p "$outdir"

run() {
  local err
  err=$(mktemp)
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f 'maxrss_kb=%M' "$bin" translate --model "$model" "$seed" >"$outdir/seed.en.txt" 2>"$err"
  end=$(date +%s.%N)
  local rss stats
  rss=$(grep -o 'maxrss_kb=[0-9]*' "$err" | cut -d= -f2)
  stats=$(grep '^translated' "$err")
  rm -f "$err"
  python3 - "$start" "$end" "$rss" "$stats" <<'PY'
import json, re, sys
start, end, rss, stats = sys.argv[1:5]
m = re.search(r"translated (\d+) sentences in ([\d.]+) s \(prefill ([\d.]+) tok/s, decode ([\d.]+) tok/s\)", stats)
print(json.dumps({
    "wall_s": round(float(end) - float(start), 2),
    "translate_s": float(m.group(2)),
    "sentences": int(m.group(1)),
    "prefill_tok_s": float(m.group(3)),
    "decode_tok_s": float(m.group(4)),
    "peak_rss_mib": round(int(rss) / 1024, 1),
}))
PY
}

# Cold: drop the page cache if we may (root on Linux), so the GGUF is read
# from disk; otherwise this run is only "first".
if [ -w /proc/sys/vm/drop_caches ]; then sync; echo 3 > /proc/sys/vm/drop_caches; cold_kind=cold; else cold_kind=first; fi
cold=$(run)
warm=$(run)
python3 - "$model" "$cold_kind" "$cold" "$warm" <<'PY'
import json, os, platform, sys
model, cold_kind, cold, warm = sys.argv[1:5]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(json.dumps({
    "model": model, "machine": {"cpu": cpu, "cores": os.cpu_count()},
    cold_kind: json.loads(cold), "warm": json.loads(warm),
}, indent=2))
PY
