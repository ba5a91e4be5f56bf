#!/usr/bin/env python3
"""Re-save tiny fixtures as PyTorch `pytorch_model.bin` checkpoints.

transformers 5 only writes safetensors, so this writes what transformers 4's
`save_pretrained(..., safe_serialization=False)` wrote: `torch.save` of the
model's state dict (tied parameters share one storage), as one
`pytorch_model.bin`, or as shards `pytorch_model-0000k-of-0000n.bin` with a
`pytorch_model.bin.index.json` (`{"metadata": {"total_size": ...},
"weight_map": {tensor: file}}`).

The weights are those of an existing fixture made by make_fixtures.py, so
that fixture's `reference.safetensors` / `reference.json` (transformers'
logits and greedy ids) apply unchanged. As a check of the files themselves,
the script loads each new directory back with transformers'
`from_pretrained` and asserts its logits equal the recorded ones.

    /work/venv-fx/bin/python scripts/make_bin_fixtures.py [NAME...]

writes crates/models/tests/fixtures/{qwen2-bin,t5-bin-sharded,marian-bin}/ (config.json
plus the .bin files).
"""

import json
import shutil
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates" / "models" / "tests" / "fixtures"

# new dir -> (source fixture, transformers class, number of shards)
TARGETS = {
    "qwen2-bin": ("qwen2", transformers.Qwen2ForCausalLM, 1),
    "t5-bin-sharded": ("t5", transformers.T5ForConditionalGeneration, 2),
    "marian-bin": ("marian", transformers.MarianMTModel, 1),
}


def save_bin(model, out, shards):
    state = model.state_dict()
    names = list(state)
    if shards == 1:
        torch.save(state, out / "pytorch_model.bin")
        return
    # Contiguous runs of tensors, in state-dict order, as transformers'
    # shard splitting produced.
    per = -(-len(names) // shards)
    weight_map, total = {}, 0
    for k in range(shards):
        file = f"pytorch_model-{k + 1:05d}-of-{shards:05d}.bin"
        part = {n: state[n] for n in names[k * per:(k + 1) * per]}
        torch.save(part, out / file)
        for n, t in part.items():
            weight_map[n] = file
            total += t.numel() * t.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2) + "\n")


def check(out, src, cls):
    """Load the .bin directory with transformers; its logits must equal the
    fixture's recorded ones."""
    model = cls.from_pretrained(out).eval()
    ref = load_file(str(src / "reference.safetensors"))
    meta = json.loads((src / "reference.json").read_text())
    with torch.no_grad():
        if "input_ids" in meta:
            logits = model(input_ids=torch.tensor([meta["input_ids"]]), use_cache=False).logits[0]
        else:
            logits = model(input_ids=torch.tensor([meta["source_ids"]]),
                           decoder_input_ids=torch.tensor([meta["decoder_input_ids"]]),
                           use_cache=False).logits[0]
    diff = (logits - ref["logits"]).abs().max().item()
    assert diff == 0.0, f"{out.name}: logits differ from the reference by {diff}"
    return diff


def main(names):
    torch.set_num_threads(1)
    for name in names or list(TARGETS):
        source, cls, shards = TARGETS[name]
        src = FIXTURES / source
        out = FIXTURES / name
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        model = cls.from_pretrained(src).eval()
        shutil.copy(src / "config.json", out / "config.json")
        save_bin(model, out, shards)
        diff = check(out, src, cls)
        size = sum(f.stat().st_size for f in out.iterdir())
        files = sorted(f.name for f in out.iterdir())
        print(f"{name}: from {source}, {size / 1024:.0f} KiB, {files}, "
              f"reloaded logits max diff {diff}")


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
