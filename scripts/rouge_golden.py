#!/usr/bin/env python3
"""Regenerate the ROUGE parity fixtures in crates/eval/tests/fixtures/rouge/.

Reference implementation: Google's `rouge-score` (PyPI `rouge-score`, which
stems with NLTK's PorterStemmer). Run from the repository root:

    python3 -m venv /tmp/rouge-venv
    /tmp/rouge-venv/bin/pip install rouge-score==0.1.2 nltk
    /tmp/rouge-venv/bin/python scripts/rouge_golden.py [--tico PATH]

It writes:
  ref.en          the first 300 lines of the TICO-19 test set (English side)
  src.fa          the same 300 lines of the Persian side (for report tests)
  hyp.shuffled    words of about half the lines shuffled
  hyp.dropped     about a fifth of the words dropped, some words inflected
                  (-s/-ed/-ing) so that stemming matters
  hyp.noisy       case changes, punctuation, empty lines, Persian lines
It also scores (without rewriting) ../hyps/qwen25coder-plain-first300.txt, a
real model's translation of the same 300 lines.
  stems.tsv       every word of the full TICO-19 test.en and its NLTK stem
  golden.tsv      rouge-score's scores for each hypothesis file, with and
                  without stemming, per line and as a mean; a two-reference
                  case (score_multi) and a multi-sentence ROUGE-Lsum case
All hypothesis variants come from a seeded `random.Random`, so reruns give
the same files.
"""

import argparse
import random
import re
import sys
from pathlib import Path

import nltk
from nltk.stem import porter
from rouge_score import rouge_scorer

try:
    from importlib.metadata import version
except ImportError:  # pragma: no cover
    version = None

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "eval" / "tests" / "fixtures" / "rouge"
TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
LINES = 300
# Multi-sentence ROUGE-Lsum documents: groups of this many lines joined by \n.
DOC_LINES = 3
# Qwen2.5-Coder-1.5B-Instruct's translation of the first 300 lines, made with
# `tarjoman eval run --shots 0 --limit 300` (see crates/eval/tests/fixtures/hyps).
REAL_SET = "qwen25coder-plain-first300"


def shuffled(lines, rng):
    out = []
    for line in lines:
        words = line.split()
        if rng.random() < 0.5:
            rng.shuffle(words)
        out.append(" ".join(words))
    return out


def dropped(lines, rng):
    out = []
    for line in lines:
        words = []
        for w in line.split():
            r = rng.random()
            if r < 0.2:
                continue
            if r < 0.35 and len(w) > 3 and w.isalpha():
                w = w + rng.choice(["s", "ed", "ing", "ly", "ness"])
            words.append(w)
        out.append(" ".join(words))
    return out


def noisy(lines, fa_lines, rng):
    out = []
    for line, fa in zip(lines, fa_lines):
        r = rng.random()
        if r < 0.05:
            out.append("")
        elif r < 0.10:
            out.append(fa)
        elif r < 0.15:
            out.append("... !!! ؟")
        elif r < 0.40:
            out.append(line.upper())
        elif r < 0.60:
            out.append(re.sub(r"\s+", " -- ", line) + " (sic).")
        else:
            out.append(line)
    return out


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")


def rows(case, stem, scores):
    """Golden rows for a list of per-line score dicts: one row per line with
    the four F1 values, then the means of precision, recall and F1."""
    out = []
    for i, s in enumerate(scores):
        out.append([case, stem, str(i)] + [f"{s[t].fmeasure:.10f}" for t in TYPES])
    for name, attr in (("mean_p", "precision"), ("mean_r", "recall"), ("mean_f", "fmeasure")):
        means = [sum(getattr(s[t], attr) for s in scores) / len(scores) for t in TYPES]
        out.append([case, stem, name] + [repr(m) for m in means])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tico",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "tico19",
        help="folder with TICO-19 test.en and test.fa",
    )
    args = ap.parse_args()

    all_en = (args.tico / "test.en").read_text(encoding="utf-8").splitlines()
    all_fa = (args.tico / "test.fa").read_text(encoding="utf-8").splitlines()
    refs = all_en[:LINES]
    src = all_fa[:LINES]

    rng = random.Random(19)
    variants = {
        "shuffled": shuffled(refs, rng),
        "dropped": dropped(refs, rng),
        "noisy": noisy(refs, src, rng),
    }

    # A real model's output on the same 300 lines, shared with the sacreBLEU
    # goldens (scripts/eval_golden.py); scored as it is, not written here.
    real = {REAL_SET: (OUT.parent / "hyps" / f"{REAL_SET}.txt").read_text(encoding="utf-8").splitlines()}
    if len(real[REAL_SET]) != LINES:
        sys.exit(f"{REAL_SET}: expected {LINES} lines")

    OUT.mkdir(parents=True, exist_ok=True)
    write_lines(OUT / "ref.en", refs)
    write_lines(OUT / "src.fa", src)
    for name, lines in variants.items():
        write_lines(OUT / f"hyp.{name}", lines)

    stemmer = porter.PorterStemmer()
    vocab = sorted(
        {w for line in all_en for w in re.sub(r"[^a-z0-9]+", " ", line.lower()).split()}
    )
    with open(OUT / "stems.tsv", "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# word<TAB>stem, nltk {nltk.__version__} PorterStemmer() (NLTK_EXTENSIONS)\n")
        f.write("# made by: python3 scripts/rouge_golden.py\n")
        for w in vocab:
            f.write(f"{w}\t{stemmer.stem(w)}\n")

    table = []
    for stem in (False, True):
        key = "stem" if stem else "nostem"
        scorer = rouge_scorer.RougeScorer(TYPES, use_stemmer=stem)
        for name, lines in {**variants, **real}.items():
            table += rows(name, key, [scorer.score(r, h) for r, h in zip(refs, lines)])
        # Two references per line, the true one and the shuffled variant,
        # for the dropped variant (score_multi keeps the best F1 per type).
        multi = [
            scorer.score_multi([r, alt], h)
            for r, alt, h in zip(refs, variants["shuffled"], variants["dropped"])
        ]
        table += rows("multi", key, multi)
        # Multi-sentence documents for ROUGE-Lsum: DOC_LINES consecutive
        # lines joined by \n, against the same lines of hyp.dropped in
        # reverse order.
        docs = []
        for i in range(0, LINES, DOC_LINES):
            target = "\n".join(refs[i : i + DOC_LINES])
            prediction = "\n".join(reversed(variants["dropped"][i : i + DOC_LINES]))
            docs.append(scorer.score(target, prediction))
        table += rows("docs", key, docs)

    rouge_version = version("rouge-score") if version else "unknown"
    with open(OUT / "golden.tsv", "w", encoding="utf-8", newline="\n") as f:
        f.write("# ROUGE goldens for crates/eval/tests/rouge_parity.rs\n")
        f.write(
            f"# tool: rouge-score {rouge_version} (nltk {nltk.__version__}, "
            f"python {sys.version.split()[0]})\n"
        )
        f.write("# command: python3 scripts/rouge_golden.py\n")
        f.write(
            "# case: shuffled|dropped|noisy = ref.en vs hyp.CASE; multi = refs "
            "ref.en + hyp.shuffled vs hyp.dropped; docs = groups of "
            f"{DOC_LINES} lines joined by newlines, ref.en vs hyp.dropped reversed\n"
        )
        f.write("# line: 0-based line (or document) index with F1 values, or "
                "mean_p/mean_r/mean_f over all lines\n")
        f.write("# columns: case stem line " + " ".join(TYPES) + "\n")
        for row in table:
            f.write("\t".join(row) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
