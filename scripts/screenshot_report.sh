#!/usr/bin/env bash
# Builds a two-system `tarjoman eval report` on the TICO-19 test set (the
# English reference against two perturbed copies of it, the Persian source
# shown right to left) and screenshots the HTML page with headless Chromium,
# to check by eye that the charts and the side-by-side table look right.
#
# Usage: scripts/screenshot_report.sh [OUT_DIR]
#   OUT_DIR     where report.html, report.md and report.png go
#               (default: target/screenshot, ignored by git)
# Environment:
#   TICO19      folder with test.en and test.fa (default: ../shared/data/tico19)
#   TARJOMAN    a built binary to use instead of `cargo build --release`
#   WINDOW      Chromium window size (default: 1280,2400)
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(realpath -m "${1:-target/screenshot}")
tico=${TICO19:-../shared/data/tico19}
window=${WINDOW:-1280,2400}
mkdir -p "$out"

for f in test.en test.fa; do
  [[ -f $tico/$f ]] || { echo "missing $tico/$f (set TICO19)" >&2; exit 1; }
done

if ! command -v chromium >/dev/null; then
  echo "installing Debian's chromium" >&2
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

if [[ -z ${TARJOMAN:-} ]]; then
  cargo build --release -p tarjoman >&2
  TARJOMAN=target/release/tarjoman
fi

# Two deterministic "systems": one drops every fourth word, the other swaps
# neighbouring words on odd lines and loses the last word of every third.
awk '{ s = ""; for (i = 1; i <= NF; i++) if (i % 4) s = s (s == "" ? "" : " ") $i; print s }' \
  "$tico/test.en" > "$out/dropped.en"
awk '{
  n = NF; if (NR % 3 == 0 && n > 1) n--
  if (NR % 2) for (i = 1; i + 1 <= n; i += 2) { t = $i; $i = $(i + 1); $(i + 1) = t }
  s = ""; for (i = 1; i <= n; i++) s = s (s == "" ? "" : " ") $i; print s
}' "$tico/test.en" > "$out/swapped.en"

"$TARJOMAN" eval report --ref "$tico/test.en" --src "$tico/test.fa" \
  --sys dropped="$out/dropped.en" --sys swapped="$out/swapped.en" \
  --title "TICO-19 test: two perturbed references" \
  -o "$out/report.html" > "$out/report.md"

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars \
  --screenshot="$out/report.png" --window-size="$window" \
  "file://$out/report.html" >&2 2>/dev/null || true
[[ -s $out/report.png ]] || { echo "chromium wrote no screenshot" >&2; exit 1; }
echo "$out/report.png"
