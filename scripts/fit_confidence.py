#!/usr/bin/env python3
"""Fit the translation confidence: a logistic model over the signals that
`tarjoman eval run -o DIR` records per line (DIR/lines.jsonl), predicting
whether a line's sentence chrF++ reaches a threshold.

    tarjoman eval run --src test.fa --ref test.en --limit 700 -o runs/fit
    scripts/fit_confidence.py runs/fit/lines.jsonl \
        --model qwen2.5-coder-1.5b-instruct \
        -o crates/engine/src/confidence/calibration.json

    # Reliability on held-out lines (their confidences as tarjoman computed them):
    tarjoman eval run --src test.fa --ref test.en --skip 700 --limit 700 -o runs/held
    scripts/fit_confidence.py --reliability runs/held/lines.jsonl

Every feature has a direction known before fitting (a more probable
output, fewer missing numbers and names, fewer failed checks can only
raise the confidence; length ratio and source length are free). A
feature whose fitted weight comes out against its direction is dropped
(weight 0) and the model refitted, so the committed calibration is
monotone in each signal it uses. Features are standardized; a small L2
penalty keeps the fit stable. Only the standard library is used.
"""

import argparse
import json
import math
import sys

# +1: may only raise the confidence, -1: may only lower it, 0: either.
DIRECTION = {
    "mean_logprob": 1,
    "min_logprob": 1,
    "log_length_ratio": 0,
    "log_length_ratio_squared": -1,
    "log_source_chars": 0,
    "numbers_missing": -1,
    "numbers_added": -1,
    "names_missing": -1,
    "failures": -1,
    "retried": -1,
}
L2 = 1.0


def read(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("features") and r["features"]["mean_logprob"] is not None:
                rows.append(r)
    return rows


def solve(a, b):
    """Solves a x = b by Gaussian elimination with partial pivoting."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[c][c] != 0:
                f = m[r][c] / m[c][c]
                for k in range(c, n + 1):
                    m[r][k] -= f * m[c][k]
    return [m[i][n] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def fit(x, y, active):
    """L2-penalized logistic regression by Newton's method on the active
    columns; returns (weights, bias)."""
    cols = [j for j, on in enumerate(active) if on]
    k = len(cols) + 1
    beta = [0.0] * k  # bias first
    for _ in range(50):
        grad = [0.0] * k
        hess = [[0.0] * k for _ in range(k)]
        for xi, yi in zip(x, y):
            v = [1.0] + [xi[j] for j in cols]
            z = sum(b * vi for b, vi in zip(beta, v))
            p = 1.0 / (1.0 + math.exp(-z))
            w = p * (1 - p)
            for a in range(k):
                grad[a] += (p - yi) * v[a]
                for c in range(k):
                    hess[a][c] += w * v[a] * v[c]
        for a in range(1, k):
            grad[a] += L2 * beta[a]
            hess[a][a] += L2
        step = solve(hess, grad)
        beta = [b - s for b, s in zip(beta, step)]
        if max(abs(s) for s in step) < 1e-9:
            break
    weights = [0.0] * len(active)
    for j, b in zip(cols, beta[1:]):
        weights[j] = b
    return weights, beta[0]


def reliability(path, threshold, bins=5):
    """Prints, per band of confidence, the lines in it, their mean
    confidence and the share that reached the threshold: a calibrated
    confidence has the two close."""
    rows = [r for r in read(path) if r.get("confidence") is not None]
    print(f"{'confidence':>12} {'lines':>6} {'mean':>6} {'share >= ' + str(threshold):>16}")
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        band = [r for r in rows if lo <= r["confidence"] < hi or (b == bins - 1 and r["confidence"] == 1)]
        if not band:
            continue
        mean = sum(r["confidence"] for r in band) / len(band)
        share = sum(r["chrf_pp"] >= threshold for r in band) / len(band)
        print(f"{lo:5.1f} - {hi:3.1f} {len(band):6d} {mean:6.3f} {share:16.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lines", help="lines.jsonl of an eval run")
    ap.add_argument("--reliability", action="store_true",
                    help="print the run's confidence against the share of good lines, per band")
    ap.add_argument("--threshold", type=float, default=40.0,
                    help="sentence chrF++ a line must reach to count as good (default 40)")
    ap.add_argument("--model", help="the model whose signals these are (required to fit)")
    ap.add_argument("-o", "--output", help="write the calibration JSON here")
    args = ap.parse_args()
    if args.reliability:
        reliability(args.lines, args.threshold)
        return
    if not args.model:
        ap.error("--model is required to fit")

    rows = read(args.lines)
    names = list(DIRECTION)
    if set(rows[0]["features"]) != set(names):
        sys.exit(f"the run's features {sorted(rows[0]['features'])} are not {sorted(names)}")
    raw = [[r["features"][n] for n in names] for r in rows]
    y = [1.0 if r["chrf_pp"] >= args.threshold else 0.0 for r in rows]
    mean = [sum(col) / len(col) for col in zip(*raw)]
    scale = [math.sqrt(sum((v - m) ** 2 for v in col) / len(col)) or 1.0
             for col, m in zip(zip(*raw), mean)]
    x = [[(v - m) / s for v, m, s in zip(row, mean, scale)] for row in raw]

    active = [True] * len(names)
    while True:
        weights, bias = fit(x, y, active)
        wrong = [j for j, n in enumerate(names)
                 if active[j] and DIRECTION[n] * weights[j] < 0]
        if not wrong:
            break
        # Drop the most wrong-signed feature and refit.
        j = max(wrong, key=lambda j: abs(weights[j]))
        print(f"dropping {names[j]} (fitted weight {weights[j]:+.3f} against its direction)",
              file=sys.stderr)
        active[j] = False

    calibration = {
        "threshold": args.threshold,
        "model": args.model,
        "fitted_on": f"{len(rows)} lines of {args.lines}",
        "good_share": sum(y) / len(y),
        "features": names,
        "mean": mean,
        "scale": scale,
        "weights": weights,
        "bias": bias,
    }
    for n, w in zip(names, weights):
        print(f"{n:>26} {w:+.3f}", file=sys.stderr)
    print(f"{len(rows)} lines, {sum(y) / len(y):.3f} at or above chrF++ {args.threshold}",
          file=sys.stderr)
    text = json.dumps(calibration, indent=1) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
