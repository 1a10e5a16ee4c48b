"""Turn a list of (query, positive, negatives) dicts into tokenised tensors.

Padding is to the longest sequence of the batch, not to max length: short
questions dominate LAReQA, and padded tokens cost as much compute as real ones.
"""
from __future__ import annotations

import hashlib
from typing import Any

import torch


def passage_key(pid: str) -> int:
    """A stable 63-bit key per passage id: equal on every rank, so gathered keys still mark the same passage."""
    return int.from_bytes(hashlib.blake2b(pid.encode("utf-8"), digest_size=8).digest(), "little") >> 1


class PairCollator:
    """Tokenises queries and passages with their prefixes; passages = positives then hard negatives."""

    def __init__(self, tokenizer: Any, query_prefix: str = "query: ", passage_prefix: str = "passage: ",
                 max_query_length: int = 64, max_passage_length: int = 128):
        self.tokenizer = tokenizer
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.max_query_length, self.max_passage_length = max_query_length, max_passage_length

    def _tokenize(self, texts: list[str], prefix: str, max_length: int) -> dict[str, torch.Tensor]:
        enc = self.tokenizer([prefix + t for t in texts], padding=True, truncation=True,
                             max_length=max_length, return_tensors="pt")
        return {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        passages = [r["positive"] for r in rows] + [n for r in rows for n in r["negatives"]]
        passage_ids = [r["positive_id"] for r in rows] + [n for r in rows for n in r["negative_ids"]]
        keys = torch.tensor([passage_key(pid) for pid in passage_ids], dtype=torch.long)
        return {
            "query": self._tokenize([r["query"] for r in rows], self.query_prefix, self.max_query_length),
            "passage": self._tokenize(passages, self.passage_prefix, self.max_passage_length),
            "passage_keys": keys,  # equal keys = same passage text, masked as false negatives
            "is_cross": torch.tensor(any(r["query_lang"] != r["passage_lang"] for r in rows)),
            "query_lang": torch.tensor([r["query_lang"] for r in rows]),  # language indices (batch traces)
            "passage_lang": torch.tensor([r["passage_lang"] for r in rows]),
        }
