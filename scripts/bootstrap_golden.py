#!/usr/bin/env python3
"""Regenerate crates/eval/tests/fixtures/bootstrap/golden.tsv: sacreBLEU's
paired bootstrap results and NumPy's resampling draws.

Run from the repository root, after scripts/rouge_golden.py (whose fixture
files this reads):

    python3 -m venv /tmp/bs-venv
    /tmp/bs-venv/bin/pip install sacrebleu==2.6.0 numpy rouge-score==0.1.2
    /tmp/bs-venv/bin/python scripts/bootstrap_golden.py

It writes hyp.close (hyp.dropped with every 30th line replaced by the
reference and every 30th, shifted by 15, by hyp.shuffled) beside golden.tsv. The `score` rows are what

    sacrebleu ref.en -i hyp.dropped hyp.shuffled hyp.noisy ../bootstrap/hyp.close \
        --paired-bs -m bleu chrf ter -f text
    (and again with --chrf-word-order 2 for chrF2++)

prints in crates/eval/tests/fixtures/rouge/, at full precision: the script
calls the same `sacrebleu.significance.PairedTest` the command line does.
`rougeL` rows put rouge-score's per-line ROUGE-L F1 (x100, no stemming)
through the same PairedTest, with corpus score = mean of the lines.

The `rng` rows check tarjoman's reimplementation of
`np.random.default_rng(12345).choice(n, size=(1000, n))`: the first indices
and a checksum of the whole matrix (sum of index * (flat position + 1)).
"""

import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.significance import PairedTest

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "crates" / "eval" / "tests" / "fixtures"
SYSTEMS = ["hyp.dropped", "hyp.shuffled", "hyp.noisy", "hyp.close"]
SEED = 12345
SAMPLES = 1000


def read(name):
    # sacreBLEU's reading: lines split on \n and rstripped.
    folder = "bootstrap" if name == "hyp.close" else "rouge"
    with open(FIX / folder / name, encoding="utf-8", newline="\n") as f:
        return [line.rstrip() for line in f]


def write_close():
    """hyp.close: hyp.dropped with some lines replaced by the reference and
    as many by the shuffled variant: a system close to the baseline, better
    on some lines and worse on others (p-values above 0.05)."""
    dropped = read("hyp.dropped")
    refs = read("ref.en")
    shuffled = read("hyp.shuffled")
    lines = [
        r if i % 30 == 0 else s if i % 30 == 15 else d
        for i, (d, r, s) in enumerate(zip(dropped, refs, shuffled))
    ]
    (FIX / "bootstrap").mkdir(parents=True, exist_ok=True)
    with open(FIX / "bootstrap" / "hyp.close", "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))


class _Score:
    def __init__(self, score):
        self.score = score
        self.name = "rougeL"


class _Sig:
    def update(self, key, value):
        pass


class RougeLMean:
    """Duck-typed sacreBLEU metric: corpus score = 100 * mean per-line
    ROUGE-L F1; per-line statistics [f1, 1], summed over a resample."""

    def __init__(self, refs):
        self.refs = refs
        self.scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)

    def _extract_corpus_statistics(self, hyps, references):
        return [
            [self.scorer.score(r, h)["rougeL"].fmeasure, 1.0]
            for r, h in zip(self.refs, hyps)
        ]

    def _compute_score_from_stats(self, stats):
        return _Score(100.0 * float(stats[0]) / float(stats[1]))

    def _aggregate_and_compute(self, stats):
        return self._compute_score_from_stats(np.array(stats).sum(0))

    def get_signature(self):
        return _Sig()


def main():
    write_close()
    refs = read("ref.en")
    named = [(name, read(name)) for name in SYSTEMS]
    metrics = {
        "BLEU": BLEU(),
        "chrF2": CHRF(),
        "chrF2++": CHRF(word_order=2),
        "TER": TER(),
        "rougeL": RougeLMean(refs),
    }
    rows = []
    for key, metric in metrics.items():
        test = PairedTest(named, {key: metric}, references=[refs], test_type="bs",
                          n_samples=SAMPLES)
        _, scores = test()
        (results,) = [v for k, v in scores.items() if k != "System"]
        for name, result in zip(SYSTEMS, results):
            p = "-" if result.p_value is None else repr(float(result.p_value))
            rows.append(["score", key, name, repr(float(result.score)),
                         repr(float(result.mean)), repr(float(result.ci)), p])

    for n in (1, 2, 7, 300, 2100):
        idx = np.random.default_rng(SEED).choice(n, size=(SAMPLES, n), replace=True)
        flat = idx.ravel().astype(object)
        checksum = int(sum(int(v) * (i + 1) for i, v in enumerate(flat)))
        first = ",".join(str(int(v)) for v in flat[:40])
        rows.append(["rng", str(n), str(SAMPLES), str(checksum), first])

    out = FIX / "bootstrap"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "golden.tsv", "w", encoding="utf-8", newline="\n") as f:
        f.write("# paired bootstrap goldens for crates/eval/tests/bootstrap_parity.rs\n")
        f.write(f"# tool: sacrebleu {version('sacrebleu')} (numpy {np.__version__}, "
                f"rouge-score {version('rouge-score')}, python {sys.version.split()[0]})\n")
        f.write("# command: python3 scripts/bootstrap_golden.py (sacreBLEU's PairedTest, "
                "as `sacrebleu ref.en -i hyp.dropped hyp.shuffled hyp.noisy "
                "../bootstrap/hyp.close --paired-bs -m bleu chrf ter` in "
                "tests/fixtures/rouge/)\n")
        f.write(f"# seed {SEED}, {SAMPLES} resamples; the first system is the baseline\n")
        f.write("# score rows: score metric system score mean ci p_value('-' for the baseline)\n")
        f.write("# rng rows: rng n samples checksum first_indices\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    print(f"wrote {out / 'golden.tsv'}", file=sys.stderr)


if __name__ == "__main__":
    main()
