#!/usr/bin/env python3
"""Golden values for tarjoman-eval's MT metrics, computed by sacreBLEU itself.

Writes, under crates/eval/tests/fixtures/:

- hyps/*.txt.gz: synthetic hypothesis sets for the TICO-19 English test
  references (made once with fixed seeds; kept if present, so that a set added
  by hand, e.g. a real model's output as hyps/<name>.txt or .txt.gz, is scored
  as is). Every file in hyps/ is scored, plus the reference itself; a set
  with fewer lines than the reference (a model's output on the first 300
  lines, the development subset) is scored against that many lines.
- refs/ref2.txt.gz: a synthetic second reference for the 2-reference case.
- io/*.txt: small files with CRLF, no final newline, blank lines, a BOM.
- golden.json: corpus BLEU/chrF/chrF++/TER with signatures and statistics
  for every set (1 and 2 references), sentence scores for the first lines,
  non-default settings, edge cases (empty lines, Persian, emoji, Greek,
  very long lines, 13a corner cases), how sacreBLEU reads the io/ files, and
  Python's whitespace set.

Paths inside golden.json are relative to crates/eval (CARGO_MANIFEST_DIR).

Usage, from the repository root:

    python3 -m venv /tmp/venv-eval
    /tmp/venv-eval/bin/pip install -r scripts/requirements-eval.txt
    /tmp/venv-eval/bin/python scripts/eval_golden.py

Float results depend on the Python version too (3.12 changed `sum()` of
floats); the header records both.
"""

import argparse
import gzip
import io
import json
import logging
import platform
import random
import shlex
import sys
from pathlib import Path

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.utils import smart_open

REPO = Path(__file__).resolve().parent.parent
CRATE = REPO / "crates" / "eval"
DEFAULT_REF = REPO.parent / "shared" / "data" / "tico19" / "test.en"
N_SENTENCES = 50
LONG_CHARS = 100_000
# sacreBLEU's TER is far too slow in Python on a 100k-character line, so the
# long TER case uses a shorter prefix of the same text.
LONG_TER_CHARS = 3_000


def rel(path: Path) -> str:
    """A path relative to crates/eval, with '/' separators."""
    import os

    return Path(os.path.relpath(path.resolve(), CRATE)).as_posix()


def read(path: Path):
    """Lines as the sacrebleu command reads them."""
    with smart_open(str(path)) as f:
        return [line.rstrip() for line in f]


def write_gz(path: Path, lines):
    """Deterministic gzip (no name, mtime 0)."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


# ---------------------------------------------------------------- synthetic sets

SUBSTITUTES = {
    "the": "a", "a": "the", "is": "was", "are": "were", "was": "is",
    "people": "persons", "also": "too", "can": "could", "should": "must",
    "with": "by", "patients": "sick people", "hospital": "clinic",
    "said": "stated", "symptoms": "signs", "disease": "illness",
    "virus": "viruses", "covid-19": "COVID 19", "coronavirus": "corona virus",
    "and": "&", "or": "and", "to": "for", "in": "at", "of": "from",
    "help": "assist", "spread": "transmission", "cases": "infections",
}


def shuffled(lines, seed=13):
    out = list(lines)
    random.Random(seed).shuffle(out)
    return out


def dropped(lines, seed=17, p=0.2):
    rng = random.Random(seed)
    return [" ".join(w for w in line.split() if rng.random() >= p) for line in lines]


def mt_like(lines, seed=23):
    """Plausible MT output: substitutions, drops, a swapped pair, a moved
    chunk (so TER shifts), sometimes all lowercase."""
    rng = random.Random(seed)
    out = []
    for line in lines:
        words = []
        for w in line.split():
            r = rng.random()
            sub = SUBSTITUTES.get(w.lower())
            if sub is not None and r < 0.5:
                words.append(sub)
            elif r < 0.04:
                continue
            else:
                words.append(w)
        if len(words) > 3 and rng.random() < 0.3:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        if len(words) > 8 and rng.random() < 0.25:
            i = rng.randrange(len(words) - 3)
            chunk = words[i:i + 3]
            del words[i:i + 3]
            j = rng.randrange(len(words) + 1)
            words[j:j] = chunk
        s = " ".join(words)
        if rng.random() < 0.3:
            s = s.lower()
        out.append(s)
    return out


def second_reference(lines, seed=29):
    rng = random.Random(seed)
    out = []
    for line in lines:
        words = [SUBSTITUTES.get(w, w) if rng.random() < 0.3 else w for w in line.split()]
        out.append(" ".join(words))
    return out


def make_fixtures(fixtures: Path, ref_lines, regenerate: bool):
    hyps = fixtures / "hyps"
    made = {
        "shuffled": lambda: shuffled(ref_lines),
        "dropped": lambda: dropped(ref_lines),
        "mtlike": lambda: mt_like(ref_lines),
    }
    for name, make in made.items():
        path = hyps / f"{name}.txt.gz"
        if regenerate or not path.exists():
            write_gz(path, make())
    ref2 = fixtures / "refs" / "ref2.txt.gz"
    if regenerate or not ref2.exists():
        write_gz(ref2, second_reference(ref_lines))

    io_dir = fixtures / "io"
    io_dir.mkdir(parents=True, exist_ok=True)
    raw = {
        "crlf.txt": "First line.\r\nSecond  line \r\n\r\nلطفا\r\n".encode(),
        "no_final_newline.txt": "one\ntwo\nthree".encode(),
        "blank_lines.txt": "\n\na\n\n\t \nb\n\n".encode(),
        "bom.txt": b"\xef\xbb\xbf" + "Hello \u00a0\nworld\n".encode(),
        "lone_cr.txt": b"a\rb\nc\x1f\n",
        "empty.txt": b"",
    }
    for name, data in raw.items():
        (io_dir / name).write_bytes(data)
    return sorted(io_dir.glob("*.txt"))


# ---------------------------------------------------------------- scoring

BLEU_DEFAULT = dict(lowercase=False, tokenize="13a", smooth_method="exp", smooth_value=None,
                    effective_order=False)
BLEU_SENTENCE = dict(BLEU_DEFAULT, effective_order=True)
CHRF_DEFAULT = dict(char_order=6, word_order=0, beta=2, lowercase=False, whitespace=False,
                    eps_smoothing=False)
CHRF_PP = dict(CHRF_DEFAULT, word_order=2)
TER_DEFAULT = dict(normalized=False, no_punct=False, asian_support=False, case_sensitive=False)

DEFAULTS = [("bleu", BLEU_DEFAULT), ("chrf", CHRF_DEFAULT), ("chrf", CHRF_PP), ("ter", TER_DEFAULT)]
SENTENCE_DEFAULTS = [("bleu", BLEU_SENTENCE), ("chrf", CHRF_DEFAULT), ("chrf", CHRF_PP),
                     ("ter", TER_DEFAULT)]

VARIANTS = [
    ("bleu", dict(BLEU_DEFAULT, lowercase=True)),
    ("bleu", dict(BLEU_DEFAULT, tokenize="none")),
    ("bleu", dict(BLEU_DEFAULT, smooth_method="none")),
    ("bleu", dict(BLEU_DEFAULT, smooth_method="floor")),
    ("bleu", dict(BLEU_DEFAULT, smooth_method="floor", smooth_value=0.25)),
    ("bleu", dict(BLEU_DEFAULT, smooth_method="add-k")),
    ("bleu", dict(BLEU_DEFAULT, smooth_method="add-k", smooth_value=2)),
    ("bleu", dict(BLEU_DEFAULT, effective_order=True)),
    ("chrf", dict(CHRF_DEFAULT, lowercase=True)),
    ("chrf", dict(CHRF_DEFAULT, whitespace=True)),
    ("chrf", dict(CHRF_DEFAULT, eps_smoothing=True)),
    ("chrf", dict(CHRF_PP, beta=3, char_order=4)),
    ("ter", dict(TER_DEFAULT, case_sensitive=True)),
    ("ter", dict(TER_DEFAULT, normalized=True)),
    ("ter", dict(TER_DEFAULT, no_punct=True)),
    ("ter", dict(TER_DEFAULT, normalized=True, no_punct=True, case_sensitive=True)),
]


def metric_of(kind, config):
    if kind == "bleu":
        return BLEU(**config)
    if kind == "chrf":
        return CHRF(**config)
    return TER(**config)


def stats(kind, metric, score, hyps, refs):
    """The statistics behind a score (none for chrF: sacreBLEU's CHRFScore
    does not keep them). BLEU's counts and totals are the raw sufficient
    statistics: `BLEUScore.counts` would include add-k's additions."""
    if kind == "bleu":
        segments = metric._extract_corpus_statistics(hyps, refs)
        total = [sum(column) for column in zip(*segments)]
        n = metric.max_ngram_order
        return dict(counts=total[2:2 + n], totals=total[2 + n:], bp=score.bp,
                    sys_len=total[0], ref_len=total[1])
    if kind == "ter":
        return dict(num_edits=score.num_edits, ref_length=score.ref_length)
    return {}


def corpus(kind, config, hyps, refs):
    metric = metric_of(kind, config)
    score = metric.corpus_score(hyps, refs)
    d = dict(name=score.name, score=score.score, signature=str(metric.get_signature()),
             **stats(kind, metric, score, hyps, refs))
    if kind == "bleu":
        d["precisions"] = list(score.precisions)
        d["formatted"] = score.format(signature=d["signature"])
    return d


def sentences(kind, config, hyps, refs):
    metric = metric_of(kind, config)
    out = {"signature": None, "scores": [], "stats": []}
    for i, hyp in enumerate(hyps):
        seg_refs = [r[i] for r in refs]
        score = metric.sentence_score(hyp, seg_refs)
        out["scores"].append(score.score)
        out["stats"].append(stats(kind, metric, score, [hyp], [[r] for r in seg_refs]))
    out["signature"] = str(metric.get_signature())
    return out


def edge_cases(ref_lines):
    """(name, hyps, refs) scored corpus- and sentence-level with defaults."""
    v = "a b c d e".split()
    # Many equal words in both: enough shift candidates to hit TER's cap of
    # 1,000 per sentence.
    cap_hyps = [" ".join(v[(i * i) % 5] for i in range(80)),
                " ".join(v[(i * i + i // 3) % 5] for i in range(45))]
    cap_refs = [" ".join(v[(i * 3 + 1) % 5] for i in range(80)),
                " ".join(v[(i * 2) % 5] for i in range(60))]
    # A reference over 50 times longer than the hypothesis widens TER's beam.
    long_ref = " ".join(ref_lines[:15])
    return [
        ("ter_candidate_cap", cap_hyps, [cap_refs]),
        ("ter_length_ratio", ["the", "virus the", long_ref, ""],
         [[long_ref, long_ref, "the", long_ref]]),
        ("empty_hypothesis_lines",
         ["", "The virus spreads quickly.", "", "Wash your hands."],
         [["Stay at home.", "The virus spreads fast.", "", "Wash your hands often."]]),
        ("all_empty_hypotheses", ["", ""], [["Some reference here.", "Another one."]]),
        ("empty_reference", ["Non-empty hypothesis.", ""], [["", ""]]),
        ("persian",
         ["ویروس کرونا به سرعت در حال گسترش است.", "لطفاً دست‌های خود را بشویید!",
          "۱۲۳ نفر، در تهران."],
         [["ویروس کرونا با سرعت زیادی گسترش می‌یابد.", "لطفا دستهای خود را بشویید.",
           "۱۲۳ نفر در تهران."]]),
        ("emoji",
         ["Stay safe 😷🙏 and wash hands 🧼!", "👍", "Family 👨‍👩‍👧 at home 🏠."],
         [["Stay safe 😷 and wash your hands 🧼.", "👍👍", "Family 👨‍👩‍👧 at home."]]),
        ("mixed_scripts_and_case",
         ["COVID-19 (کووید-۱۹) is a DISEASE.", "ΟΔΟΣ ΣΟΦΙΑΣ", "İstanbul ﬁnance"],
         [["Covid-19 (کووید ۱۹) is a disease.", "οδος σοφιας", "istanbul finance"]]),
        ("tokenizer_13a_corners",
         ["It costs $1,000.50, i.e. 3.5% of 2019-2020's budget...",
          "a &amp;lt; b &quot;c&quot; x<skipped>y", "dash-\nline\nbreak",
          "(hi) [there] {you} ~ `x` @home #tag", "1.,2 3,.4 5-6 -7 .8 ,9"],
         [["It costs $ 1,000.50 , i.e. 3.5 % of 2019 - 2020's budget ...",
           "a < b \"c\" xy", "dashline break",
           "( hi ) [ there ] { you } ~ ` x ` @ home # tag", "1 . , 2 3 , . 4 5 - 6 - 7 . 8 , 9"]]),
        ("unicode_whitespace",
         ["a\u00a0b\u2003c\u3000d\u001fe\u0085f", "x\u200by  z\t"],
         [["a b c d e f", "x\u200by z"]]),
        ("ter_shifts",
         ["d e f a b c", "the cat the mat sat on", "a b c d e f g h i j k l m n o p"],
         [["a b c d e f", "the cat sat on the mat", "p o n m l k j i h g f e d c b a"]]),
        ("two_references",
         ["The cat is on the mat.", "There is a cat on the mat.", ""],
         [["The cat is on the mat.", "A cat sits on the mat.", "Empty?"],
          ["There is a cat on the mat.", "The cat is on the mat.", ""]]),
    ]


def long_case(source_lines, n_chars):
    return " ".join(source_lines)[:n_chars]


def whitespace_code_points():
    return [cp for cp in range(sys.maxunicode + 1) if chr(cp).isspace()]


def dump(out):
    """JSON with one line per golden entry: readable diffs, small file."""
    def compact(v):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    items = []
    for key, value in out.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            inner = ",\n".join("  " + compact(e) for e in value)
            items.append(f" {compact(key)}: [\n{inner}\n ]")
        else:
            items.append(f" {compact(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(items) + "\n}\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", type=Path, default=DEFAULT_REF, help="TICO-19 test.en")
    parser.add_argument("--fixtures", type=Path, default=CRATE / "tests" / "fixtures")
    parser.add_argument("--regenerate", action="store_true",
                        help="rewrite the synthetic hypothesis/reference files")
    args = parser.parse_args()
    # sacreBLEU warns on every sentence BLEU without effective order.
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)

    ref_lines = read(args.ref)
    io_files = make_fixtures(args.fixtures, ref_lines, args.regenerate)
    ref2_path = args.fixtures / "refs" / "ref2.txt.gz"
    ref2_lines = read(ref2_path)

    hyp_sets = [("reference", args.ref)]
    for path in sorted((args.fixtures / "hyps").iterdir()):
        if path.name.endswith((".txt", ".txt.gz")):
            hyp_sets.append((path.name.split(".")[0], path))

    out = {
        "header": {
            "tool": "sacrebleu",
            "version": sacrebleu.__version__,
            "python": platform.python_version(),
            "generated_by": "scripts/eval_golden.py",
            "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
            "note": "paths are relative to crates/eval; scores are sacreBLEU's floats, unrounded",
        },
        "python_whitespace": whitespace_code_points(),
        "corpus": [],
        "sentence": [],
        "edge": [],
        "io": [],
    }

    ref_sets = [[args.ref], [args.ref, ref2_path]]
    for name, hyp_path in hyp_sets:
        hyps = read(hyp_path)
        # A real model's output may cover only the first lines (the 300-line
        # development subset): it is scored against as many reference lines.
        n_lines = len(hyps)
        for ref_paths in ref_sets:
            refs = [ref_lines] if len(ref_paths) == 1 else [ref_lines, ref2_lines]
            refs = [r[:n_lines] for r in refs]
            configs = DEFAULTS + (VARIANTS if name == "mtlike" and len(ref_paths) == 1 else [])
            for kind, config in configs:
                print(f"{name} x{len(refs)} {kind} {config}", file=sys.stderr)
                out["corpus"].append(dict(
                    set=name, hyp=rel(hyp_path), refs=[rel(p) for p in ref_paths],
                    lines=n_lines, metric=kind, config=config,
                    result=corpus(kind, config, hyps, refs)))
            sentence_configs = SENTENCE_DEFAULTS + (VARIANTS if name == "mtlike" and len(ref_paths) == 1 else [])
            for kind, config in sentence_configs:
                n = N_SENTENCES if len(ref_paths) == 1 else 10
                out["sentence"].append(dict(
                    set=name, hyp=rel(hyp_path), refs=[rel(p) for p in ref_paths],
                    metric=kind, config=config, n=n,
                    result=sentences(kind, config, hyps[:n], [r[:n] for r in refs])))

    for name, hyps, refs in edge_cases(ref_lines):
        results = []
        for kind, config in DEFAULTS + SENTENCE_DEFAULTS[:1]:
            results.append(dict(metric=kind, config=config,
                                corpus=corpus(kind, config, hyps, refs),
                                sentence=sentences(kind, config, hyps, refs)))
        out["edge"].append(dict(name=name, hyps=hyps, refs=refs, results=results))

    # Very long lines, built the same way by the Rust test: the first
    # `chars` characters of the file's lines joined by single spaces.
    mt_path = args.fixtures / "hyps" / "mtlike.txt.gz"
    for chars, configs in [(LONG_CHARS, DEFAULTS[:3]), (LONG_TER_CHARS, DEFAULTS[3:])]:
        hyp = long_case(read(mt_path), chars)
        ref = long_case(ref_lines, chars)
        results = []
        for kind, config in configs:
            print(f"long {chars} {kind}", file=sys.stderr)
            results.append(dict(metric=kind, config=config,
                                corpus=corpus(kind, config, [hyp], [[ref]])))
        out["edge"].append(dict(
            name=f"long_{chars}_chars",
            long={"hyp": rel(mt_path), "ref": rel(args.ref), "chars": chars},
            results=results))

    for path in io_files:
        out["io"].append({"file": rel(path), "lines": read(path)})

    golden = args.fixtures / "golden.json"
    golden.write_text(dump(out), encoding="utf-8")
    print(f"wrote {golden}", file=sys.stderr)


if __name__ == "__main__":
    main()
