#!/usr/bin/env python3
"""The llama.cpp side of the side-by-side speed benchmark.

Runs the same token-id prompts as `tarjoman bench` through llama.cpp (via llama-cpp-python,
installed by scripts/bench_peer_setup.sh) on the same GGUF with the same thread count, and
prints one JSON object in the same shape as `tarjoman bench --json`:

  {"engine": "llama.cpp", "version": ..., "model": NAME, "threads": 2, "load_s": ...,
   "prefill": [{"tokens": 64, "seconds": s, "tok_s": r}, ... 256, 1024],
   "decode": [{"context": 64, "tokens": 64, "seconds": s, "tok_s": r}, {"context": 1024, ...}],
   "peak_rss_mib": ...}

plus a few extra keys that say how it was measured ("settings", "baseline_rss_mib", ...).

What is timed:
  load_s   constructing `Llama` (mmap on, llama.cpp's default): GGUF parse, weights mapped,
           context and KV cache (n_ctx) allocated.
  prefill  `reset(); eval(ids)` for each prompt length; logits for the last position only.
  decode   at context C: the C-token prompt is prefilled (not timed; the prefill measurement
           of that length is reused), then 64 tokens are decoded greedily one at a time,
           `eval([tok])` + argmax over the last logits each step (timed), no stop at EOS.
  peak_rss_mib  ru_maxrss of the process that did the work: a fresh child process per
           model, so models never add up. It includes the Python interpreter and numpy;
           baseline_rss_mib is the same figure taken just before the model was loaded.
A warm-up (a short untimed eval, --warmup tokens) runs right after the load, as llama-bench
does, so the first timed prefill does not pay one-time graph and page-fault costs.

Usage:
  target/peer-venv/bin/python scripts/bench_peer.py --prompts PROMPTS.json [PROMPTS2.json ...]
  target/peer-venv/bin/python scripts/bench_peer.py --dump-prompts OUT.json --name NAME --gguf PATH

PROMPTS.json is what `tarjoman bench --model M --dump-prompts FILE` writes:
  {"model": NAME, "gguf": PATH, "prompts": {"64": [ids...], "256": [...], "1024": [...]}}
(if it has no "gguf", give --gguf PATH).
--dump-prompts writes an equivalent file with llama.cpp's own tokenizer (TICO-19 test.en and
test.fa lines alternating, joined by newlines, tokenized with the model's BOS if it adds one,
truncated to exactly N tokens); it stands in until `tarjoman bench --dump-prompts` is used.
With several prompt files, one JSON object per line (JSONL) is printed, one per model.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICO = Path(os.environ.get("TICO19_DIR", ROOT.parent / "shared" / "data" / "tico19"))
PROMPT_LENGTHS = (64, 256, 1024)
DECODE_CONTEXTS = (64, 1024)


def rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_prompts(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        sys.exit(f"bench_peer: cannot read prompts file {path}: {e}")
    for key in ("model", "prompts"):
        if key not in data:
            sys.exit(f"bench_peer: {path}: missing key {key!r}")
    prompts = {}
    for n, ids in data["prompts"].items():
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            sys.exit(f"bench_peer: {path}: prompts[{n!r}] is not a list of token ids")
        if len(ids) != int(n):
            sys.exit(f"bench_peer: {path}: prompts[{n!r}] has {len(ids)} ids, not {n}")
        prompts[int(n)] = ids
    need = set(PROMPT_LENGTHS) | set(DECODE_CONTEXTS)
    if not need <= prompts.keys():
        sys.exit(f"bench_peer: {path}: needs prompts of {sorted(need)} tokens, has {sorted(prompts)}")
    data["prompts"] = prompts
    return data


def greedy_next(llm, np, n_vocab: int) -> int:
    """Argmax of the logits of the last evaluated position."""
    import llama_cpp

    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    logits = np.ctypeslib.as_array(ptr, shape=(n_vocab,))
    return int(np.argmax(logits))


def worker(args: argparse.Namespace) -> dict:
    """Benchmark one model in this process (run as a fresh child by main)."""
    import numpy as np
    import llama_cpp
    from llama_cpp import Llama

    spec = load_prompts(Path(args.prompts[0]))
    gguf = spec.get("gguf") or args.gguf
    if not gguf:
        sys.exit(f"bench_peer: {args.prompts[0]} names no GGUF; give --gguf PATH")
    if not Path(gguf).is_file():
        sys.exit(f"bench_peer: GGUF not found: {gguf}")
    baseline = rss_mib()

    t0 = time.perf_counter()
    llm = Llama(
        model_path=gguf,
        n_ctx=args.n_ctx,
        n_batch=args.n_batch,
        n_ubatch=args.n_ubatch,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        use_mmap=True,
        flash_attn=args.flash_attn,
        n_gpu_layers=0,
        verbose=False,
    )
    load_s = time.perf_counter() - t0
    n_vocab = llm.n_vocab()
    longest = max(PROMPT_LENGTHS + DECODE_CONTEXTS) + args.decode_tokens
    if longest > llm.n_ctx():
        sys.exit(f"bench_peer: n_ctx {llm.n_ctx()} < {longest} tokens needed")

    # Warm-up, untimed.
    if args.warmup > 0:
        llm.reset()
        llm.eval(spec["prompts"][min(PROMPT_LENGTHS)][: args.warmup])

    prefill, decode = [], []
    for n in sorted(set(PROMPT_LENGTHS) | set(DECODE_CONTEXTS)):
        ids = spec["prompts"][n]
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids)
        secs = time.perf_counter() - t0
        if n in PROMPT_LENGTHS:
            prefill.append({"tokens": n, "seconds": round(secs, 4), "tok_s": round(n / secs, 2)})
        if n not in DECODE_CONTEXTS:
            continue
        # Decode at context n continues from the prefill just done (the KV cache holds exactly
        # the n-token prompt), instead of prefilling the same prompt a second time.
        tok = greedy_next(llm, np, n_vocab)
        generated = []
        t0 = time.perf_counter()
        for _ in range(args.decode_tokens):
            llm.eval([tok])
            tok = greedy_next(llm, np, n_vocab)
            generated.append(tok)
        secs = time.perf_counter() - t0
        decode.append(
            {
                "context": n,
                "tokens": args.decode_tokens,
                "seconds": round(secs, 4),
                "tok_s": round(args.decode_tokens / secs, 2),
                # The first greedy ids, to compare outputs with the other engine by eye.
                "first_ids": generated[:8],
            }
        )

    return {
        "engine": "llama.cpp",
        "version": f"llama-cpp-python {llama_cpp.__version__}",
        "model": spec["model"],
        "gguf": gguf,
        "threads": args.threads,
        "load_s": round(load_s, 4),
        "prefill": prefill,
        "decode": decode,
        "peak_rss_mib": round(rss_mib(), 1),
        "baseline_rss_mib": round(baseline, 1),
        "settings": {
            "n_ctx": llm.n_ctx(),
            "n_batch": args.n_batch,
            "n_ubatch": args.n_ubatch,
            "flash_attn": args.flash_attn,
            "use_mmap": True,
            "warmup_tokens": args.warmup,
            # llama.cpp's CPU threads meet at OpenMP barriers; by default they spin there, which
            # on a machine with more runnable threads than cores collapses its speed (one
            # measurement: gemma-3-270m decode 2 tok/s spinning vs 35 tok/s with PASSIVE at
            # load average 15 on 2 cores). Recorded so results say which was used.
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset (libgomp default: spin)"),
        },
        "system_info": llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
    }


def tico_lines():
    try:
        en = (TICO / "test.en").read_text(encoding="utf-8").splitlines()
        fa = (TICO / "test.fa").read_text(encoding="utf-8").splitlines()
    except OSError as e:
        sys.exit(f"bench_peer: cannot read TICO-19 test set in {TICO}: {e}")
    for e_line, f_line in zip(en, fa):
        yield e_line
        yield f_line


def dump_prompts(args: argparse.Namespace) -> None:
    """Write a prompts file with llama.cpp's tokenizer (stand-in for tarjoman's dump)."""
    from llama_cpp import Llama

    if not Path(args.gguf).is_file():
        sys.exit(f"bench_peer: GGUF not found: {args.gguf}")
    tok = Llama(model_path=args.gguf, vocab_only=True, verbose=False)
    need = max(PROMPT_LENGTHS + DECODE_CONTEXTS)
    lines = []
    ids: list[int] = []
    for line in tico_lines():
        lines.append(line)
        # add_bos=True adds BOS only if the model's vocab says it wants one.
        ids = tok.tokenize("\n".join(lines).encode("utf-8"), add_bos=True, special=False)
        if len(ids) >= need:
            break
    if len(ids) < need:
        sys.exit(f"bench_peer: TICO-19 gives only {len(ids)} tokens, need {need}")
    lengths = sorted(set(PROMPT_LENGTHS) | set(DECODE_CONTEXTS))
    out = {
        "model": args.name,
        "gguf": str(Path(args.gguf).resolve()),
        "tokenizer": "llama.cpp (bench_peer.py --dump-prompts)",
        "prompts": {str(n): ids[:n] for n in lengths},
    }
    tmp = Path(args.dump_prompts).with_suffix(".partial")
    tmp.write_text(json.dumps(out), encoding="utf-8")
    tmp.replace(args.dump_prompts)
    print(f"wrote {args.dump_prompts}: {lengths} tokens for {args.name}", file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prompts", nargs="+", metavar="FILE", help="prompt files from `tarjoman bench --dump-prompts`")
    p.add_argument("--threads", type=int, default=2, help="n_threads and n_threads_batch (default 2)")
    p.add_argument("--n-ctx", type=int, default=2048)
    p.add_argument("--n-batch", type=int, default=2048, help="logical batch: the whole prompt in one llama_decode")
    p.add_argument("--n-ubatch", type=int, default=512, help="physical batch (llama.cpp's default 512)")
    p.add_argument("--flash-attn", action="store_true", help="enable flash attention (llama-cpp-python's default: off)")
    p.add_argument("--decode-tokens", type=int, default=64)
    p.add_argument("--warmup", type=int, default=16, help="tokens evaluated untimed after the load (0: none)")
    p.add_argument("--dump-prompts", metavar="OUT", help="write a prompts file instead of benchmarking")
    p.add_argument("--name", help="model name for --dump-prompts")
    p.add_argument("--gguf", help="GGUF path for --dump-prompts, or for a prompts file that names none")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.dump_prompts:
        if not (args.name and args.gguf):
            p.error("--dump-prompts needs --name and --gguf")
        dump_prompts(args)
        return
    if not args.prompts:
        p.error("give --prompts FILE (or --dump-prompts)")
    if args.worker:
        print(json.dumps(worker(args)))
        return

    # One fresh child per model: its ru_maxrss is that model's alone.
    child_args = [
        "--threads", str(args.threads), "--n-ctx", str(args.n_ctx), "--n-batch", str(args.n_batch),
        "--n-ubatch", str(args.n_ubatch), "--decode-tokens", str(args.decode_tokens),
        "--warmup", str(args.warmup),
    ] + (["--flash-attn"] if args.flash_attn else []) + (["--gguf", args.gguf] if args.gguf else [])
    failed = False
    for f in args.prompts:
        r = subprocess.run(
            [sys.executable, __file__, "--worker", "--prompts", f, *child_args],
            stdout=subprocess.PIPE,
            text=True,
        )
        if r.returncode != 0:
            print(f"bench_peer: {f}: worker failed with status {r.returncode}", file=sys.stderr)
            failed = True
            continue
        sys.stdout.write(r.stdout)
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
