#!/usr/bin/env bash
# Throughput of folder runs (`tarjoman summarize DIR`): articles per minute,
# average CPU use and peak memory, for --jobs 1 and 2 and both methods,
# measured with /usr/bin/time -v. Prints Markdown table rows for
# BENCHMARKS.md, with the load average before and after (other work on the
# machine skews every number).
#
#   scripts/bench_batch.sh                      # 50 English articles, SmolLM2
#   ARTICLES=fa N=20 scripts/bench_batch.sh     # Persian: translate, then summarize
#   MODEL=qwen2.5-coder-1.5b-instruct scripts/bench_batch.sh
#
# Articles are TICO-19 test lines, LINES per article. Each run starts from an
# empty output folder (nothing is skipped as already done).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-50}
LINES=${LINES:-6}
ARTICLES=${ARTICLES:-en}
MODEL=${MODEL:-smollm2-135m-instruct}
METHODS=${METHODS:-"extractive abstractive"}
JOBS=${JOBS:-"1 2"}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/tarjoman}
DATA=${DATA:-../shared/data/tico19/test.$ARTICLES}

[ -x "$BIN" ] || cargo build --release --locked
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in"
for i in $(seq 0 $((N - 1))); do
  sed -n "$((i * LINES + 1)),$(((i + 1) * LINES))p" "$DATA" >"$work/in/article-$i.txt"
done

echo "# $N $ARTICLES articles of $LINES lines, model $MODEL, $(nproc) cores"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| method | --jobs | articles ok | wall s | articles/min | CPU % | peak RSS MiB | load avg (1 min) |"
echo "|---|---|---|---|---|---|---|---|"
for method in $METHODS; do
  for jobs in $JOBS; do
    rm -rf "$work/out"
    /usr/bin/time -v -o "$work/time" "$BIN" summarize "$work/in" -o "$work/out" \
      --method "$method" --model "$MODEL" --shots 0 --jobs "$jobs" 2>"$work/log" || true
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
      n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/time")
    cpu=$(awk -F': ' '/Percent of CPU/ { sub("%", "", $2); print $2 }' "$work/time")
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/time")
    ok=$(grep -c '"status":"ok"' "$work/out/manifest.jsonl" || true)
    load=$(cut -d' ' -f1 /proc/loadavg)
    awk -v m="$method" -v j="$jobs" -v ok="$ok" -v w="$wall" -v c="$cpu" -v r="$rss" -v l="$load" \
      'BEGIN { printf "| %s | %s | %s/%d | %.1f | %.1f | %s | %s | %s |\n", m, j, ok, '"$N"', w, ok * 60 / w, c, r, l }'
    tail -n 1 "$work/log" | sed 's/^/#   /'
  done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
