#!/usr/bin/env python3
"""Build tiny random checkpoints with Hugging Face transformers and record
what the reference implementation computes on them.

The Rust tests in crates/models/tests/families.rs load each fixture through
tarjoman's production loader and compare against these records, so the
weights of the real models are never needed to prove the implementations
right.

For every family in FAMILIES this writes crates/models/tests/fixtures/<name>/:

  config.json, model.safetensors   the checkpoint, as `save_pretrained` writes it
  reference.safetensors            f32 tensors computed by transformers:
      logits        [T, V]     logits at every position of `input_ids`
                                (encoder-decoder: of `decoder_input_ids`
                                teacher-forced on `source_ids`)
      greedy_logits [N, V]     logits that chose each greedy token (after
                               suppressing `suppress_ids`, as -inf)
      batch_logits  [2, T', V] the padded batch (right padding + attention mask)
  reference.json                   the ids: inputs, greedy output, the batch rows

Greedy decoding here is a plain argmax loop with full recomputation and no
early stop at EOS, so it is exactly N tokens; `min_margin` is the smallest
gap between the best and second-best logit over those steps (a tiny margin
would make "greedy ids equal" fragile, so the script takes the first seed
from 0 up whose margin is at least MIN_MARGIN and records it).

Usage (from the repository root):

    /work/venv-fx/bin/python scripts/make_fixtures.py            # all families
    /work/venv-fx/bin/python scripts/make_fixtures.py qwen2 t5   # some

To add a family, write a `build_<name>()` that returns (model, kind) and add
it to FAMILIES; `kind` is "decoder" or "seq2seq" and picks the recorder.
"""

import json
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "models" / "tests" / "fixtures"

VOCAB = 256
GREEDY_STEPS = 12
MIN_MARGIN = 1e-3

# Fixed inputs. Decoder-only prompt: 10 tokens.
PROMPT = [2, 17, 42, 99, 5, 123, 77, 31, 8, 250]
BATCH = [[2, 17, 42, 99, 5, 123, 77], [2, 200, 13, 64]]
# Encoder-decoder: source sentences end with EOS like a tokenizer's output.
SOURCE = [17, 42, 99, 5, 123, 77, 31, 8, 250, "eos"]
SOURCE_BATCH = [[17, 42, 99, 5, 123, 77, "eos"], [200, 13, 64, "eos"]]
DECODER_INPUT = ["start", 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50]


def randomize(model, norm_center):
    """Replace every parameter with N(0, 0.1) noise (norm weights around
    `norm_center`), seeded, so no weight is a trivial zero or one and a
    loader that skips a tensor cannot pass by accident."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "embed_positions" in name:
                continue  # Marian's fixed sinusoidal table, never saved
            if "norm" in name and name.endswith("weight"):
                p.copy_(norm_center + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
        for name, b in model.named_buffers():
            if name.endswith("final_logits_bias"):
                b.copy_(0.1 * torch.randn_like(b))
    return model


def small(**kw):
    base = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=128)
    base.update(kw)
    return base


def build_gemma3():
    cfg = transformers.Gemma3TextConfig(
        # One KV head, as gemma-3-270m and -1b: candle-transformers 0.11.1's
        # gemma3 fails on multi-token prompts with more (see config.rs).
        **small(num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
                # The window covers prompt + greedy steps (22): candle's
                # gemma3 mask is one token wider than transformers' window,
                # so the loader caps gemma3's context at the window.
                sliding_window=24,
                layer_types=["sliding_attention", "full_attention"],
                pad_token_id=0, eos_token_id=1, bos_token_id=2))
    return transformers.Gemma3ForCausalLM(cfg), "decoder", 0.0


def build_qwen2():
    cfg = transformers.Qwen2Config(**small(tie_word_embeddings=False, eos_token_id=1))
    return transformers.Qwen2ForCausalLM(cfg), "decoder", 1.0


def build_qwen3():
    cfg = transformers.Qwen3Config(**small(head_dim=16, tie_word_embeddings=True, eos_token_id=1))
    return transformers.Qwen3ForCausalLM(cfg), "decoder", 1.0


def build_llama():
    cfg = transformers.LlamaConfig(**small(tie_word_embeddings=False, bos_token_id=2, eos_token_id=1))
    return transformers.LlamaForCausalLM(cfg), "decoder", 1.0


def build_marian():
    # opus-mt style: pad = decoder start = last id, eos = 0, swish, scaled embeddings.
    cfg = transformers.MarianConfig(
        vocab_size=VOCAB, decoder_vocab_size=VOCAB, d_model=32, encoder_layers=2,
        decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
        encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        pad_token_id=VOCAB - 1, eos_token_id=0, forced_eos_token_id=0,
        decoder_start_token_id=VOCAB - 1, activation_function="swish",
        scale_embedding=True)
    return transformers.MarianMTModel(cfg), "seq2seq", 1.0


def build_t5():
    # MADLAD-400 style (T5 v1.1): gated-gelu, no decoder output rescaling,
    # pad 1, eos 2, decoder start 0, 32 relative-position buckets up to 128.
    cfg = transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        feed_forward_proj="gated-gelu", tie_word_embeddings=False,
        relative_attention_num_buckets=32, relative_attention_max_distance=128,
        pad_token_id=1, eos_token_id=2, decoder_start_token_id=0)
    return transformers.T5ForConditionalGeneration(cfg), "seq2seq", 1.0


# name -> builder returning (model, kind, norm_center). Add families here.
FAMILIES = {
    "gemma3": build_gemma3,
    "qwen2": build_qwen2,
    "qwen3": build_qwen3,
    "llama": build_llama,
    "marian": build_marian,
    "t5": build_t5,
}


def argmax_margin(row):
    top = torch.topk(row, 2)
    return int(top.indices[0]), float(top.values[0] - top.values[1])


def pad_right(rows, pad):
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return ids, mask


def record_decoder(model):
    ids = torch.tensor([PROMPT])
    logits = model(input_ids=ids, use_cache=False).logits[0]
    seq, greedy, greedy_logits, margins = list(PROMPT), [], [], []
    for _ in range(GREEDY_STEPS):
        row = model(input_ids=torch.tensor([seq]), use_cache=False).logits[0, -1]
        nxt, margin = argmax_margin(row)
        greedy_logits.append(row)
        margins.append(margin)
        greedy.append(nxt)
        seq.append(nxt)
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    bids, bmask = pad_right(BATCH, pad)
    batch_logits = model(input_ids=bids, attention_mask=bmask, use_cache=False).logits
    tensors = {"logits": logits, "greedy_logits": torch.stack(greedy_logits),
               "batch_logits": batch_logits}
    meta = {"input_ids": PROMPT, "greedy_ids": greedy, "batch": BATCH,
            "min_margin": min(margins)}
    return tensors, meta


def resolve(ids, cfg):
    names = {"eos": cfg.eos_token_id, "start": cfg.decoder_start_token_id}
    return [names[i] if isinstance(i, str) else i for i in ids]


def record_seq2seq(model):
    cfg = model.config
    # Marian checkpoints ship `bad_words_ids: [[pad]]` in their generation
    # config, so generation never picks the pad (= decoder start) token.
    suppress = [cfg.pad_token_id] if cfg.model_type == "marian" else []
    src = resolve(SOURCE, cfg)
    dec = resolve(DECODER_INPUT, cfg)
    out = model(input_ids=torch.tensor([src]), decoder_input_ids=torch.tensor([dec]),
                use_cache=False)
    logits = out.logits[0]
    seq, greedy, greedy_logits, margins = [cfg.decoder_start_token_id], [], [], []
    for _ in range(GREEDY_STEPS):
        row = model(input_ids=torch.tensor([src]), decoder_input_ids=torch.tensor([seq]),
                    use_cache=False).logits[0, -1]
        row = row.clone()
        row[suppress] = float("-inf")
        nxt, margin = argmax_margin(row)
        greedy_logits.append(row)
        margins.append(margin)
        greedy.append(nxt)
        seq.append(nxt)
    batch = [resolve(r, cfg) for r in SOURCE_BATCH]
    bids, bmask = pad_right(batch, cfg.pad_token_id)
    bdec = torch.tensor([dec, dec])
    batch_logits = model(input_ids=bids, attention_mask=bmask, decoder_input_ids=bdec,
                         use_cache=False).logits
    tensors = {"logits": logits, "greedy_logits": torch.stack(greedy_logits),
               "batch_logits": batch_logits}
    meta = {"source_ids": src, "decoder_input_ids": dec, "greedy_ids": greedy,
            "batch": batch, "decoder_start_token_id": cfg.decoder_start_token_id,
            "suppress_ids": suppress,
            "min_margin": min(margins)}
    return tensors, meta


RECORDERS = {"decoder": record_decoder, "seq2seq": record_seq2seq}


def make(name):
    # The first seed from 0 up whose greedy steps all have a clear winner.
    for seed in range(100):
        torch.manual_seed(seed)
        model, kind, norm_center = FAMILIES[name]()
        model = randomize(model, norm_center).eval()
        with torch.no_grad():
            tensors, meta = RECORDERS[kind](model)
        if meta["min_margin"] >= MIN_MARGIN:
            break
    else:
        raise SystemExit(f"{name}: no seed below 100 gives a greedy margin of {MIN_MARGIN}")
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    # save_pretrained may also write generation_config.json; only the files
    # named in the docstring are part of the fixture.
    (out / "generation_config.json").unlink(missing_ok=True)
    save_file({k: v.detach().float().contiguous() for k, v in tensors.items()},
              str(out / "reference.safetensors"))
    meta.update(family=name, kind=kind, seed=seed, greedy_steps=GREEDY_STEPS,
                torch=torch.__version__, transformers=transformers.__version__)
    (out / "reference.json").write_text(json.dumps(meta, indent=1) + "\n")
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{name}: {kind}, {size / 1024:.0f} KiB, greedy {meta['greedy_ids']}, "
          f"min margin {meta['min_margin']:.3g}")


def main(argv):
    names = argv or list(FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise SystemExit(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    torch.set_num_threads(1)
    for name in names:
        make(name)


if __name__ == "__main__":
    main(sys.argv[1:])
