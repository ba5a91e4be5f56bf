#!/usr/bin/env python3
"""Builds the tiny Marian checkpoint that ships SentencePiece files instead
of tokenizer.json, as Helsinki-NLP/opus-mt-* repos do, for the Rust test
`marian_directory_with_spm_files_translates_like_transformers` in
crates/models/tests/families.rs.

Provenance: the tokenizer files are the committed SentencePiece fixture
(crates/models/tests/fixtures/spm: source.spm, target.spm, vocab.json, made
by scripts/make_spm_fixture.py); the model is a random MarianMTModel of the
same shape as scripts/make_fixtures.py's marian (randomized the same way)
with that vocabulary. For three held-out TICO-19 Persian lines the script
records transformers' slow MarianTokenizer ids, an argmax loop of
GREEDY_STEPS tokens with the pad token suppressed (Marian's bad_words_ids)
and full recomputation, and MarianTokenizer's decoding of those ids.

    /work/venv-fx/bin/python scripts/make_fixture_marian_spm.py ../shared/data/tico19

Writes crates/models/tests/fixtures/marian-spm/{config.json,
model.safetensors, reference.json}; the test copies the spm files next to
them.
"""
import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import MarianTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import MIN_MARGIN, argmax_margin, randomize  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPM = ROOT / "crates/models/tests/fixtures/spm"
OUT = ROOT / "crates/models/tests/fixtures/marian-spm"
GREEDY_STEPS = 8


def main(tico):
    lines = (Path(tico) / "test.fa").read_text(encoding="utf-8").splitlines()[1100:1103]
    tok = MarianTokenizer(str(SPM / "source.spm"), str(SPM / "target.spm"), str(SPM / "vocab.json"))
    vocab = len(tok.encoder)
    pad, eos = tok.pad_token_id, tok.eos_token_id
    torch.set_num_threads(1)
    for seed in range(100):
        torch.manual_seed(seed)
        cfg = transformers.MarianConfig(
            vocab_size=vocab, decoder_vocab_size=vocab, d_model=32, encoder_layers=2,
            decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
            encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
            pad_token_id=pad, eos_token_id=eos, forced_eos_token_id=eos,
            decoder_start_token_id=pad, activation_function="swish", scale_embedding=True)
        model = randomize(transformers.MarianMTModel(cfg), 1.0).eval()
        records, margins = [], []
        with torch.no_grad():
            for line in lines:
                src = tok(line)["input_ids"]
                seq, greedy = [pad], []
                for _ in range(GREEDY_STEPS):
                    row = model(input_ids=torch.tensor([src]),
                                decoder_input_ids=torch.tensor([seq]),
                                use_cache=False).logits[0, -1].clone()
                    row[pad] = float("-inf")
                    nxt, margin = argmax_margin(row)
                    margins.append(margin)
                    greedy.append(nxt)
                    seq.append(nxt)
                records.append({"text": line, "source_ids": src, "greedy_ids": greedy,
                                "decoded": tok.decode(greedy, skip_special_tokens=True)})
        if min(margins) >= MIN_MARGIN:
            break
    else:
        raise SystemExit("no seed below 100 gives a clear greedy margin")
    OUT.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=True)
    (OUT / "generation_config.json").unlink(missing_ok=True)
    meta = {"seed": seed, "greedy_steps": GREEDY_STEPS, "min_margin": min(margins),
            "pad_token_id": pad, "records": records, "torch": torch.__version__,
            "transformers": transformers.__version__}
    (OUT / "reference.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(f"seed {seed}, vocab {vocab}, min margin {min(margins):.3g}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/tico19")
