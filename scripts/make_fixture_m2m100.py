#!/usr/bin/env python3
"""Build the tiny random M2M100 (NLLB-200 layout) fixture for crates/models/tests/m2m100.rs.

Makes, with Hugging Face transformers and PyTorch on the CPU:
- a tiny NLLB tokenizer (BPE trained on the few sentences below, the three
  language codes as special tokens, non-legacy `[src_lang] tokens </s>`);
- a seeded random M2M100ForConditionalGeneration (2 encoder and 2 decoder
  layers, d_model 32, tied embeddings, eager attention);
- reference.json: token ids from the tokenizer, f32 logits for a fixed source
  and decoder input, greedy ids with the target language forced as BOS, and
  the same for a right-padded batch of two sources of different lengths.

Usage (from the repository root, any venv with torch, transformers, tokenizers):
    /work/venv-fx/bin/python scripts/make_fixture_m2m100.py
"""

import json
import pathlib
import sys

import tokenizers
import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import (
    GenerationConfig,
    M2M100Config,
    M2M100ForConditionalGeneration,
    NllbTokenizer,
)

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/models/tests/fixtures/m2m100"
SEED = 20251124
LANGS = ["eng_Latn", "fra_Latn", "pes_Arab"]
SRC_LANG, TGT_LANG = "pes_Arab", "eng_Latn"
MAX_NEW_TOKENS = 12

CORPUS = [
    "گفت‌وگوهای صلح در استانبول میان پاکستان و افغانستان بدون توافق پایان یافت.",
    "آتش‌بس میان دو کشور همسایه ادامه دارد.",
    "سخنگوی طالبان روز شنبه شکست این مذاکرات را اعلام کرد.",
    "Peace talks in Istanbul ended without an agreement.",
    "The ceasefire between the two neighbouring countries continues.",
    "How long have these symptoms been going on?",
    "Les pourparlers de paix se sont terminés sans accord.",
]
SOURCE = "گفت‌وگوهای صلح در استانبول ادامه دارد."
BATCH = ["آتش‌بس میان دو کشور همسایه ادامه دارد.", "صلح در استانبول."]


def build_tokenizer():
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(
        vocab_size=200, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False
    )
    bpe.train_from_iterator(CORPUS, trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    tok = NllbTokenizer(
        vocab=state["vocab"],
        merges=merges,
        additional_special_tokens=LANGS,
        src_lang=SRC_LANG,
        tgt_lang=TGT_LANG,
    )
    assert [tok.convert_tokens_to_ids(t) for t in ["<s>", "<pad>", "</s>", "<unk>"]] == [0, 1, 2, 3]
    return tok


def randomize(model):
    """Weights with a wider spread than HF's std-0.02 init, so greedy choices
    are decided by clear margins rather than float noise. The (tied) embeddings
    stay small next to the layers: otherwise the residual stream carries the
    input token's embedding through and greedy just repeats one token."""
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name == "model.shared.weight":
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))


def greedy(model, input_ids, attention_mask, forced_bos):
    cfg = GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=MAX_NEW_TOKENS,
        decoder_start_token_id=2,
        eos_token_id=2,
        pad_token_id=1,
        bos_token_id=0,
        forced_bos_token_id=forced_bos,
        output_scores=True,
        return_dict_in_generate=True,
    )
    out = model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=cfg)
    # The smallest gap between the chosen logit and the runner-up, skipping the
    # forced first step: a Rust port within 1e-4 must pick the same ids.
    margins = []
    for step in out.scores[1:]:
        top = torch.topk(step, 2, dim=-1).values
        margins.extend((top[:, 0] - top[:, 1]).tolist())
    assert min(margins) > 1e-2, f"greedy margin {min(margins)} too small for a stable fixture"
    rows = []
    for row in out.sequences.tolist():
        # Drop the decoder start token, and the padding after a row's </s>.
        gen = row[1:]
        if 2 in gen:
            gen = gen[: gen.index(2) + 1]
        rows.append(gen)
    return rows


def main():
    torch.manual_seed(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    config = M2M100Config(
        vocab_size=len(tok),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        activation_function="relu",
        scale_embedding=True,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        encoder_layerdrop=0.0,
        decoder_layerdrop=0.0,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        tie_word_embeddings=True,
    )
    model = M2M100ForConditionalGeneration(config)
    model.set_attn_implementation("eager")
    randomize(model)
    model.eval()

    src = tok(SOURCE, return_tensors="pt")
    tgt_id = tok.convert_tokens_to_ids(TGT_LANG)
    decoder_input_ids = torch.tensor([[2, tgt_id, 17, 42, 99, 5]])
    with torch.no_grad():
        out = model(
            input_ids=src.input_ids,
            attention_mask=src.attention_mask,
            decoder_input_ids=decoder_input_ids,
        )
        greedy_single = greedy(model, src.input_ids, src.attention_mask, tgt_id)[0]

        batch = tok(BATCH, return_tensors="pt", padding=True)
        assert tok.padding_side == "right"
        batch_out = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            decoder_input_ids=decoder_input_ids.repeat(2, 1),
        )
        greedy_batch = greedy(model, batch.input_ids, batch.attention_mask, tgt_id)

    model.save_pretrained(OUT, safe_serialization=True)
    tok.save_pretrained(OUT)
    for extra in ["special_tokens_map.json", "sentencepiece.bpe.model"]:
        (OUT / extra).unlink(missing_ok=True)

    reference = {
        "provenance": (
            f"scripts/make_fixture_m2m100.py, transformers {transformers.__version__}, "
            f"torch {torch.__version__}, tokenizers {tokenizers.__version__}, seed {SEED}"
        ),
        "src_lang": SRC_LANG,
        "tgt_lang": TGT_LANG,
        "tgt_lang_id": tgt_id,
        "source_text": SOURCE,
        "source_ids": src.input_ids[0].tolist(),
        "decoder_input_ids": decoder_input_ids[0].tolist(),
        "encoder_hidden": out.encoder_last_hidden_state[0].tolist(),
        "logits": out.logits[0].tolist(),
        "max_new_tokens": MAX_NEW_TOKENS,
        "greedy": greedy_single,
        "batch_texts": BATCH,
        "batch_ids": batch.input_ids.tolist(),
        "batch_mask": batch.attention_mask.tolist(),
        "batch_logits": batch_out.logits.tolist(),
        "batch_greedy": greedy_batch,
    }
    (OUT / "reference.json").write_text(json.dumps(reference) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({total} bytes): greedy {greedy_single}, batch {greedy_batch}", file=sys.stderr)


if __name__ == "__main__":
    main()
