#!/usr/bin/env python3
"""Medians and candle/llama.cpp ratios of the side-by-side benchmark.

Reads the JSON objects that `tarjoman bench --json` (engine "candle") and scripts/bench_peer.py
(engine "llama.cpp") print, one per line, from one or more JSONL files; groups them by model and
engine; and prints, per model, the median of every run for: load time, prefill tok/s at each
prompt length, decode tok/s at each context, peak RSS; and the ratio candle/llama.cpp of each
median. For speeds a ratio >= 1 means candle is as fast or faster; for load time and RSS a ratio
<= 1 means candle is as quick or as small.

Usage:
  scripts/bench_aggregate.py [--loadavg FILE] [--format json|md|both] RESULTS.jsonl...

--loadavg FILE: lines of /proc/loadavg sampled during the runs (the machine is shared; the
summary reports their min/median/max so a reader can judge the numbers). Only this script
does arithmetic on the results; bench_compare.sh only runs the engines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ENGINES = ("candle", "llama.cpp")


def median(xs):
    return statistics.median(xs) if xs else None


def read_results(paths):
    runs = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            sys.exit(f"bench_aggregate: cannot read {path}: {e}")
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                sys.exit(f"bench_aggregate: {path}:{lineno}: not JSON: {e}")
            for key in ("engine", "model", "load_s", "prefill", "decode", "peak_rss_mib"):
                if key not in obj:
                    sys.exit(f"bench_aggregate: {path}:{lineno}: missing key {key!r}")
            if obj["engine"] not in ENGINES:
                sys.exit(f"bench_aggregate: {path}:{lineno}: unknown engine {obj['engine']!r}")
            runs.append(obj)
    return runs


def metrics(run):
    """Flatten one run into {metric name: value}."""
    out = {"load_s": float(run["load_s"])}
    for p in run["prefill"]:
        out[f"prefill_{p['tokens']}_tok_s"] = float(p["tok_s"])
    for d in run["decode"]:
        out[f"decode_ctx{d['context']}_tok_s"] = float(d["tok_s"])
    out["peak_rss_mib"] = float(run["peak_rss_mib"])
    return out


def metric_order(name):
    kind_rank = {"load": 0, "prefill": 1, "decode": 2, "peak": 3}
    kind = name.split("_", 1)[0]
    digits = "".join(c for c in name.split("_")[1] if c.isdigit()) if "_" in name else ""
    return (kind_rank.get(kind, 9), int(digits) if digits else 0, name)


def label(name):
    if name == "load_s":
        return "load (s)"
    if name == "peak_rss_mib":
        return "peak RSS (MiB)"
    if name.startswith("prefill_"):
        return f"prefill {name.split('_')[1]} tok (tok/s)"
    if name.startswith("decode_ctx"):
        return f"decode at {name.split('_')[1][3:]}-token context (tok/s)"
    return name


def summarize(runs):
    by_model: dict[str, dict[str, list]] = {}
    for r in runs:
        by_model.setdefault(r["model"], {e: [] for e in ENGINES})[r["engine"]].append(r)
    summary = {}
    for model, engines in by_model.items():
        entry = {"runs": {e: len(engines[e]) for e in ENGINES}, "versions": {}, "metrics": {}}
        for e in ENGINES:
            if engines[e]:
                entry["versions"][e] = sorted(
                    {str(r.get("version", "?")) + (f" ({r['backend']})" if r.get("backend") else "") for r in engines[e]}
                )
                entry.setdefault("threads", {})[e] = sorted({r.get("threads") for r in engines[e]})
        seen = {t for ts in entry.get("threads", {}).values() for t in ts}
        entry["threads_differ"] = len(seen) > 1
        if entry["threads_differ"]:
            print(f"bench_aggregate: {model}: engines ran with different thread counts {entry['threads']}", file=sys.stderr)
        names = set()
        per_engine = {}
        for e in ENGINES:
            flat = [metrics(r) for r in engines[e]]
            per_engine[e] = flat
            for f in flat:
                names.update(f)
        for name in sorted(names, key=metric_order):
            m = {}
            for e in ENGINES:
                values = [f[name] for f in per_engine[e] if name in f]
                if values:
                    m[e] = {"median": round(median(values), 4), "min": round(min(values), 4), "max": round(max(values), 4), "n": len(values)}
            if "candle" in m and "llama.cpp" in m and m["llama.cpp"]["median"]:
                m["ratio_candle_over_llama_cpp"] = round(m["candle"]["median"] / m["llama.cpp"]["median"], 3)
            entry["metrics"][name] = m
        summary[model] = entry
    return summary


def read_loadavg(path):
    if not path:
        return None
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        sys.exit(f"bench_aggregate: cannot read {path}: {e}")
    load1 = [float(line.split()[0]) for line in lines if line.strip()]
    if not load1:
        return None
    return {"samples": len(load1), "min": min(load1), "median": median(load1), "max": max(load1)}


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count()}


def fmt(v, name):
    if v is None:
        return "—"
    if name == "load_s":
        return f"{v:.3f}"
    if name == "peak_rss_mib":
        return f"{v:.0f}"
    return f"{v:.1f}"


def engines_of(report, model, engine):
    return [r for r in report.get("_runs", []) if r["model"] == model and r["engine"] == engine]


def markdown(report):
    out = []
    m = report["machine"]
    out.append(f"Machine: {m['cpu']}, {m['cores']} cores.")
    la = report.get("loadavg")
    if la:
        out.append(
            f"1-minute load average during the runs: median {la['median']:.2f} "
            f"(min {la['min']:.2f}, max {la['max']:.2f}, {la['samples']} samples)."
        )
    for model, entry in report["models"].items():
        out.append("")
        runs = entry["runs"]
        vers = "; ".join(f"{e}: {', '.join(v)}" for e, v in entry["versions"].items())
        out.append(f"### {model}")
        out.append("")
        threads = "; ".join(f"{e}: {', '.join(map(str, t))}" for e, t in entry.get("threads", {}).items())
        out.append(
            f"Medians of {runs['candle']} candle and {runs['llama.cpp']} llama.cpp runs ({vers}; threads {threads})."
        )
        omp = sorted({str(r.get("settings", {}).get("omp_wait_policy")) for r in engines_of(report, model, "llama.cpp")})
        if omp and omp != ["None"]:
            out.append("")
            out.append(f"llama.cpp OMP_WAIT_POLICY: {', '.join(omp)}.")
        if entry.get("threads_differ"):
            out.append("")
            out.append("**Warning: the engines ran with different thread counts.**")
        out.append("")
        out.append("| metric | candle | llama.cpp | candle / llama.cpp |")
        out.append("|---|---:|---:|---:|")
        for name, mm in entry["metrics"].items():
            c = mm.get("candle", {}).get("median")
            p = mm.get("llama.cpp", {}).get("median")
            ratio = mm.get("ratio_candle_over_llama_cpp")
            out.append(f"| {label(name)} | {fmt(c, name)} | {fmt(p, name)} | {'—' if ratio is None else f'{ratio:.2f}'} |")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="+", help="JSONL files of bench results")
    p.add_argument("--loadavg", help="file of /proc/loadavg lines sampled during the runs")
    p.add_argument("--format", choices=("json", "md", "both"), default="both")
    args = p.parse_args()
    runs = read_results(args.results)
    if not runs:
        sys.exit("bench_aggregate: no results")
    report = {"machine": machine(), "loadavg": read_loadavg(args.loadavg), "models": summarize(runs)}
    if args.format in ("json", "both"):
        print(json.dumps(report, indent=2))
    report["_runs"] = runs  # for markdown notes on the runs' settings; not in the JSON
    if args.format == "both":
        print()
    if args.format in ("md", "both"):
        sys.stdout.write(markdown(report))


if __name__ == "__main__":
    main()
