"""Pre-tokenised batches are the batches the tokenizer would have made."""

from __future__ import annotations

import torch
from transformers import AutoTokenizer

from hybrid_retrieval.backbones.tiny import build_tiny_bert
from hybrid_retrieval.data.collate import PairCollator
from hybrid_retrieval.text_spec import TextSpec

ROWS = [
    {
        "query": q,
        "positive": p,
        "positive_id": f"p{i}",
        "negatives": [n],
        "negative_ids": [f"n{i}"],
        "query_lang": 0,
        "passage_lang": 1,
    }
    for i, (q, p, n) in enumerate(
        [
            ("Wo ist der Fluss?", "Der Fluss ist lang.", "Ein Wald."),
            ("¿Dónde?", "Aquí está el río que cruza la ciudad entera.", "แม่น้ำ"),
            ("河流在哪里？", "河流在城市里。", "Nothing"),
        ]
    )
]


def test_cached_ids_equal_live_tokenisation(tmp_path):
    tok = AutoTokenizer.from_pretrained(build_tiny_bert())
    live = PairCollator(tok, TextSpec(max_query_length=8, max_passage_length=16))(ROWS)
    cached_collator = PairCollator(tok, TextSpec(max_query_length=8, max_passage_length=16))
    cached_collator.pretokenize(
        [r["query"] for r in ROWS], [t for r in ROWS for t in (r["positive"], *r["negatives"])], cache_dir=tmp_path
    )
    assert len(list(tmp_path.glob("*.npz"))) == 2
    cached = cached_collator(ROWS)
    for kind in ("query", "passage"):
        for field in ("input_ids", "attention_mask"):
            assert torch.equal(live[kind][field], cached[kind][field]), (kind, field)


def test_cache_file_is_reused_and_unknown_texts_fall_back(tmp_path):
    tok = AutoTokenizer.from_pretrained(build_tiny_bert())
    first = PairCollator(tok)
    first.pretokenize(["a question"], ["a passage"], cache_dir=tmp_path)
    files = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")}
    second = PairCollator(tok)
    second.pretokenize(["a question"], ["a passage"], cache_dir=tmp_path)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")} == files
    rows = [dict(ROWS[0], query="never cached"), ROWS[1]]
    assert torch.equal(second(rows)["query"]["input_ids"], PairCollator(tok)(rows)["query"]["input_ids"])
