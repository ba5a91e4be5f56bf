#!/usr/bin/env python3
"""Scores every summary method on the summarization dev set
(tests/fixtures/summaries: the seed article's reference translation and 12
TICO-19 passages, each with a hand-written reference summary).

    python3 scripts/summary_dev.py [--bin target/release/tarjoman] [-o runs/summary-dev]
        [--methods lead,extractive,abstractive,grounded] [--model NAME] [--from-persian]

For each method and document it runs `tarjoman summarize DOC --method M
--json`, then writes one summary per line (sentences separated by tabs) to
OUT/M.txt and the references to OUT/ref.txt, and prints:

- `tarjoman eval report --summaries` (ROUGE-1/2/L/Lsum with paired
  bootstrap p-values against the first method, the default first);
- per method: words per summary, the share of summary sentences whose
  numbers and names all occur in the document (checked here, independently
  of tarjoman's own guard: digits and capitalized words, a capitalized word
  counting as present when the document has it or a capitalized word that
  one extends, "Iranian" for "Iran"), the share of the article's thirds the
  summary's cited sentences cover, and seconds per summary.

With `--from-persian` the summaries are made from the Persian side, as
users get them: each `docs/NN-*.fa.txt` is translated once (`tarjoman
translate`, the default model or `--model`, kept in OUT/mt/ and reused),
every method summarizes that translation, and the fact check looks for each
summary sentence's numbers and names in the human English document: a
sentence whose name the translation invented counts as unfaithful.

Python standard library only. Writes OUT/summary.json with the numbers.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "tests" / "fixtures" / "summaries"

NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
OPENERS = {
    "A", "About", "According", "After", "Also", "An", "And", "As", "At", "Before", "Both",
    "But", "By", "During", "Each", "For", "From", "He", "Her", "His", "However", "If", "In",
    "It", "Its", "Meanwhile", "Of", "On", "One", "She", "Since", "Some", "The", "Their",
    "There", "These", "They", "This", "To", "Two", "When", "While", "With",
}


def numbers(text: str) -> set[str]:
    out = set()
    for n in NUMBER.findall(text):
        n = n.replace(",", "")
        if n.endswith(".0"):
            n = n[:-2]
        out.add(n.lstrip("0") or "0")
    return out


def names(sentence: str, doc_lower: set[str]) -> list[str]:
    out = []
    for i, w in enumerate(WORD.findall(sentence.replace("-", " "))):
        w = re.sub(r"['’]s$", "", w).strip("'’")
        if not w or not w[0].isupper():
            continue
        if i == 0 and (w in OPENERS or w.lower() in doc_lower):
            continue
        if w != "I":
            out.append(w)
    return out


def faithful(sentence: str, doc: str) -> bool:
    doc_numbers = numbers(doc)
    if any(n not in doc_numbers for n in numbers(sentence)):
        return False
    words = [re.sub(r"['’]s$", "", w).strip("'’") for w in WORD.findall(doc.replace("-", " "))]
    caps = {w for w in words if w and w[0].isupper()}
    lower = {w.lower() for w in words if w and not w[0].isupper()}
    for name in names(sentence, lower):
        if name in caps:
            continue
        if any(
            (len(c) >= 4 and name.startswith(c)) or (len(name) >= 4 and c.startswith(name))
            for c in caps
        ):
            continue
        return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "tarjoman"))
    ap.add_argument("-o", "--out", default=str(ROOT / "runs" / "summary-dev"))
    ap.add_argument("--methods", default="grounded,lead,extractive,abstractive")
    ap.add_argument("--model", default=None, help="-m for tarjoman summarize")
    ap.add_argument("--reuse", action="store_true",
                    help="take the summaries from OUT/METHOD.jsonl of an earlier run")
    ap.add_argument("--from-persian", action="store_true",
                    help="summarize the translations of the Persian documents")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    docs = sorted((SET / "docs").glob("*.en.txt"))
    # What each method summarizes: the English documents, or the
    # translations of their Persian sides.
    inputs = docs
    if args.from_persian:
        (out / "mt").mkdir(exist_ok=True)
        inputs = [out / "mt" / d.name for d in docs]
        for d, mt in zip(docs, inputs):
            if mt.exists():
                continue
            cmd = [args.bin, "translate", str(d.with_name(d.name.replace(".en.", ".fa.")))]
            if args.model:
                cmd += ["-m", args.model]
            t0 = time.monotonic()
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                print(run.stderr, file=sys.stderr)
                raise SystemExit(f"translating {d.name} failed")
            tmp = mt.with_suffix(".tmp")
            tmp.write_text(run.stdout, encoding="utf-8")
            tmp.rename(mt)
            print(f"translated {d.name} in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    methods = args.methods.split(",")
    refs = []
    for d in docs:
        ref = (SET / "refs" / d.name.replace(".en.txt", ".txt")).read_text(encoding="utf-8")
        refs.append("\t".join(l.strip() for l in ref.splitlines() if l.strip()))
    (out / "ref.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")

    results = {}
    for m in methods:
        lines, rows = [], []
        saved = out / f"{m}.jsonl"
        records = []
        if args.reuse:
            records = [json.loads(l) for l in saved.read_text(encoding="utf-8").splitlines()]
        for k, (d, source) in enumerate(zip(docs, inputs)):
            t0 = time.monotonic()
            if args.reuse:
                rec = records[k]
            else:
                cmd = [args.bin, "summarize", str(source), "--method", m, "--json"]
                if args.model:
                    cmd += ["-m", args.model]
                run = subprocess.run(cmd, capture_output=True, text=True)
                if run.returncode != 0:
                    print(run.stderr, file=sys.stderr)
                    raise SystemExit(f"{m} failed on {d.name}")
                rec = json.loads(run.stdout)
                records.append(rec)
            secs = time.monotonic() - t0
            doc = d.read_text(encoding="utf-8")
            n = rec["article_sentences"]
            sents = rec["sentences"]
            cited = {c["index"] for s in sents for c in s["sources"]}
            thirds = {min(2, i * 3 // max(n, 1)) for i in cited}
            rows.append({
                "doc": d.name,
                "sentences": len(sents),
                "words": rec["words"],
                "faithful": sum(faithful(s["text"], doc) for s in sents),
                "thirds": len(thirds),
                "replacements": rec["replacements"],
                "summarize_ms": rec["timings_ms"]["summarize"],
                "wall_s": round(secs, 2),
            })
            lines.append("\t".join(s["text"].replace("\t", " ") for s in sents))
            print(f"{m:12} {d.name:40} {rows[-1]}", file=sys.stderr)
        (out / f"{m}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if not args.reuse:
            saved.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        total = sum(r["sentences"] for r in rows)
        results[m] = {
            "words_per_summary": round(sum(r["words"] for r in rows) / len(rows), 1),
            "faithful_sentence_share": round(sum(r["faithful"] for r in rows) / max(total, 1), 3),
            "thirds_covered_share": round(sum(r["thirds"] for r in rows) / (3 * len(rows)), 3),
            "replacements": sum(r["replacements"] for r in rows),
            "summarize_s_per_doc": round(sum(r["summarize_ms"] for r in rows) / 1000 / len(rows), 2),
            "docs": rows,
        }
    report = subprocess.run(
        [args.bin, "eval", "report", "--summaries", "--ref", str(out / "ref.txt"),
         "-o", str(out / "report.html"), "--title", "Summaries, dev set"]
        + [f"--sys={m}={out / f'{m}.txt'}" for m in methods],
        capture_output=True, text=True,
    )
    if report.returncode != 0:
        print(report.stderr, file=sys.stderr)
        raise SystemExit("eval report failed")
    print(report.stdout)
    print("| method | words/summary | faithful sentences | thirds covered | replaced | s/summary |")
    print("|---|---:|---:|---:|---:|---:|")
    for m in methods:
        r = results[m]
        print(f"| {m} | {r['words_per_summary']} | {r['faithful_sentence_share']:.3f} | "
              f"{r['thirds_covered_share']:.3f} | {r['replacements']} | {r['summarize_s_per_doc']} |")
    (out / "summary.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
