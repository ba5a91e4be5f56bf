#!/usr/bin/env bash
# Throughput and latency of `tarjoman serve` at 1, 4 and 16 concurrent
# clients, against the CLI translating the same sentences one file at a
# time; prints one JSON object.
#
#   scripts/bench_serve.sh [-m MODEL] [-n SENTENCES] [-c "1 4 16"] [-- EXTRA ARGS]
#
# The sentences are the first SENTENCES lines of the seed article (one
# request, or one file, per line); EXTRA ARGS go to both `serve` and
# `translate` (e.g. --shots 0). Needs python3 (the clients) and a release
# build (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."

model=smollm2-135m-instruct
count=15
levels="1 4 16"
article=../shared/seed/article.fa.txt
while [ $# -gt 0 ]; do
  case "$1" in
    -m) model=$2; shift 2 ;;
    -n) count=$2; shift 2 ;;
    -c) levels=$2; shift 2 ;;
    -a) article=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [-m MODEL] [-n SENTENCES] [-c LEVELS] [-a ARTICLE] [-- EXTRA ARGS]" >&2; exit 2 ;;
  esac
done
bin=target/release/tarjoman
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }

work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

grep -v '^[[:space:]]*$' "$article" | head -n "$count" > "$work/lines.txt"

# The CLI, one file per sentence, one after another (model load included:
# that is what a script calling the CLI per article pays).
cli_start=$(date +%s.%N)
n=0
while IFS= read -r line; do
  n=$((n + 1))
  printf '%s\n' "$line" > "$work/$n.fa.txt"
  s=$(date +%s.%N)
  "$bin" translate "$work/$n.fa.txt" -m "$model" "$@" > /dev/null 2>> "$work/cli.log" \
    || { cat "$work/cli.log" >&2; exit 1; }
  e=$(date +%s.%N)
  echo "$s $e" >> "$work/cli-times.txt"
done < "$work/lines.txt"
cli_end=$(date +%s.%N)

"$bin" serve --addr 127.0.0.1:0 -m "$model" --queue 256 "$@" 2> "$work/serve.log" &
server=$!
for _ in $(seq 600); do
  addr=$(sed -n 's|^listening on http://||p' "$work/serve.log")
  [ -n "$addr" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$addr" ] || { echo "the server did not start" >&2; exit 1; }

python3 - "$addr" "$work" "$cli_start" "$cli_end" "$model" $levels <<'PY'
import json, statistics, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

addr, work, cli_start, cli_end, model = sys.argv[1:6]
levels = [int(x) for x in sys.argv[6:]]
lines = open(f"{work}/lines.txt", encoding="utf-8").read().splitlines()

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

def summary(wall, latencies, **extra):
    return dict(extra, sentences=len(latencies),
                sentences_per_s=round(len(latencies) / wall, 3),
                p50_s=round(pct(latencies, 50), 3), p95_s=round(pct(latencies, 95), 3),
                wall_s=round(wall, 3))

def translate(line):
    body = json.dumps({"q": line, "source": "fa", "target": "en"}).encode()
    while True:
        req = urllib.request.Request(f"http://{addr}/translate", data=body,
                                     headers={"Content-Type": "application/json"})
        start = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=3600) as r:
                r.read()
            return time.monotonic() - start
        except urllib.error.HTTPError as e:
            if e.code != 503:
                raise
            time.sleep(float(e.headers.get("Retry-After", "1")))

cli = [float(e) - float(s) for s, e in
       (l.split() for l in open(f"{work}/cli-times.txt"))]
result = {"model": model, "cli_one_file_at_a_time":
          summary(float(cli_end) - float(cli_start), cli)}
translate(lines[0])  # warm up
for c in levels:
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=c) as pool:
        # Each client sends its share of the sentences one after another.
        latencies = list(pool.map(translate, lines * 1))
    result[f"serve_{c}_clients"] = summary(time.monotonic() - start, latencies, clients=c)
base = result.get("serve_1_clients")
if base:
    for c in levels:
        r = result[f"serve_{c}_clients"]
        r["speedup_vs_1_client"] = round(r["sentences_per_s"] / base["sentences_per_s"], 2)
print(json.dumps(result, indent=2))
PY
