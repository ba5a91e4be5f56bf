#!/usr/bin/env python3
"""Builds the tiny Marian-style SentencePiece fixture for the Rust test
crates/models/tests/spm_marian.rs.

Provenance: trains two unigram SentencePiece models (vocab 300) with the
`sentencepiece` package on the first 400 lines of TICO-19 test.fa (source)
and test.en (target), writes a shared vocab.json in Marian's layout
(</s> 0, <unk> 1, then the source pieces, then target pieces not already
there, then <pad> last, as Helsinki-NLP's conversion does), and records
transformers' slow MarianTokenizer ids for 50 held-out lines of each
language (lines 1000-1049), with </s> appended as the tokenizer does.

Run from the repository root, with a Python that has sentencepiece and
transformers (e.g. /work/venv-fx):

    /work/venv-fx/bin/python scripts/make_spm_fixture.py ../shared/data/tico19

Outputs crates/models/tests/fixtures/spm/{source.spm,target.spm,vocab.json,
expected.json}.
"""
import io
import json
import sys
from pathlib import Path

import sentencepiece as spm
import transformers
from transformers import MarianTokenizer

OUT = Path("crates/models/tests/fixtures/spm")


def train(lines, path):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        model_type="unigram",
        vocab_size=300,
        character_coverage=1.0,
        # Marian's pieces: <unk> 0, <s> 1, </s> 2 as SentencePiece defaults.
        normalization_rule_name="nmt_nfkc",
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())


def main():
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/tico19")
    fa = (data / "test.fa").read_text(encoding="utf-8").splitlines()
    en = (data / "test.en").read_text(encoding="utf-8").splitlines()
    OUT.mkdir(parents=True, exist_ok=True)
    train(fa[:400], OUT / "source.spm")
    train(en[:400], OUT / "target.spm")

    vocab = {"</s>": 0, "<unk>": 1}
    for model in ("source.spm", "target.spm"):
        sp = spm.SentencePieceProcessor(model_file=str(OUT / model))
        for i in range(sp.get_piece_size()):
            piece = sp.id_to_piece(i)
            if sp.is_control(i) or sp.is_unknown(i) or piece in vocab:
                continue
            vocab[piece] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (OUT / "vocab.json").write_text(
        json.dumps(vocab, ensure_ascii=False, indent=0) + "\n", encoding="utf-8"
    )

    tok = MarianTokenizer(
        source_spm=str(OUT / "source.spm"),
        target_spm=str(OUT / "target.spm"),
        vocab=str(OUT / "vocab.json"),
    )
    held_out = list(range(1000, 1050))
    # Edge cases: extra spaces, unseen characters (unknown pieces), a
    # literal special token, digits, NFKC-folded forms.
    extra_fa = ["  فاصله   های   اضافه  ", "حروف ناشناخته: ☃ Ω 你好", "پایان </s> متن", "۱۲۳ ١٢٣ 123", "ﻻ ﷲ"]
    sources = [fa[i] for i in held_out] + extra_fa
    targets = [en[i] for i in held_out] + ["  extra   spaces  ", "unknown ☃ 你好"]
    expected = {
        "transformers": transformers.__version__,
        "sentencepiece": spm.__version__,
        "source": [{"text": t, "ids": tok(t)["input_ids"]} for t in sources],
        "target": [{"text": t, "ids": tok(text_target=t)["input_ids"]} for t in targets],
    }
    (OUT / "expected.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    sizes = {p.name: p.stat().st_size for p in OUT.iterdir()}
    print(f"wrote {OUT}: {sizes}", file=sys.stderr)


if __name__ == "__main__":
    main()
