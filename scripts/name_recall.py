#!/usr/bin/env python3
"""Name recall of translations against a reference, line by line.

A reference's names are its capitalized words of two or more letters that
do not start a sentence (the first word of a line, or a word after `.`,
`!`, `?` or `:`), and are not "I". A name is recalled when the
hypothesis line has the same word (case-sensitive). Prints JSON: the
number of names, how many each system recalled, and the recall.

    scripts/name_recall.py --ref REF --sys default=HYP --sys no-names=HYP2
"""

import argparse
import json
import re

WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def names(line):
    out = []
    start = True
    for m in re.finditer(r"[^\W\d_]+(?:['’][^\W\d_]+)*|[.!?:]", line):
        token = m.group(0)
        if token in ".!?:":
            start = True
            continue
        if not start and len(token) >= 2 and token[0].isupper() and token != "I":
            out.append(re.sub(r"['’]s$", "", token))
        start = False
    return out


def words(line):
    return {re.sub(r"['’]s$", "", w) for w in WORD.findall(line)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", required=True)
    parser.add_argument("--sys", action="append", required=True, metavar="NAME=FILE")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    refs = open(args.ref, encoding="utf-8").read().splitlines()[: args.limit]
    systems = {}
    for spec in args.sys:
        name, path = spec.split("=", 1)
        hyps = open(path, encoding="utf-8").read().splitlines()[: len(refs)]
        if len(hyps) != len(refs):
            raise SystemExit(f"{path}: {len(hyps)} lines, the reference has {len(refs)}")
        systems[name] = hyps
    total = sum(len(names(r)) for r in refs)
    result = {"ref": args.ref, "lines": len(refs), "names": total, "systems": {}}
    for name, hyps in systems.items():
        recalled = sum(
            sum(1 for n in names(r) if n in words(h)) for r, h in zip(refs, hyps)
        )
        result["systems"][name] = {
            "recalled": recalled,
            "recall": round(recalled / total, 4) if total else None,
        }
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
