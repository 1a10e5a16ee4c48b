"""Turn a list of (query, positive, negatives) dicts into tokenised tensors.

Padding is to the longest sequence of the batch, not to max length: short
questions dominate LAReQA, and padded tokens cost as much compute as real ones.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from hybrid_retrieval.data.token_cache import TokenCache
from hybrid_retrieval.text_spec import TextSpec


def pad_ids(seqs: list, pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad id sequences to the longest one: the same tensors the tokenizer would return."""
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = s
        mask[r, : len(s)] = 1
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}


def passage_key(pid: str) -> int:
    """A stable 63-bit key per passage id: equal on every rank, so gathered keys still mark the same passage."""
    return int.from_bytes(hashlib.blake2b(pid.encode("utf-8"), digest_size=8).digest(), "little") >> 1


class PairCollator:
    """Tokenises queries and passages with their prefixes; passages = positives then hard negatives."""

    def __init__(self, tokenizer: Any, spec: TextSpec = TextSpec()):
        self.tokenizer, self.spec = tokenizer, spec
        self.caches: dict[str, TokenCache] = {}

    def pretokenize(self, queries: list[str], passages: list[str], cache_dir=None) -> None:
        """Tokenise the corpus once (cached on disk, shared by the jobs of a sweep)."""
        self.caches = {
            kind: TokenCache.build(self.tokenizer, texts, self.spec.prefix(kind), self.spec.max_length(kind), cache_dir)
            for kind, texts in (("query", queries), ("passage", passages))
        }

    def _tokenize(self, texts: list[str], kind: str) -> dict[str, torch.Tensor]:
        cache = self.caches.get(kind)
        seqs = [cache.get(t) for t in texts] if cache is not None else [None]
        if any(s is None for s in seqs):  # a text the cache does not hold (no pretokenize, or a rewritten text)
            seqs = self.spec.token_ids(self.tokenizer, texts, kind)
        return pad_ids(seqs, self.tokenizer.pad_token_id or 0)

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        kinds = {r.get("kind") for r in rows}
        if len(kinds) > 1:
            raise ValueError(
                f"a batch mixes batch kinds {sorted(map(str, kinds))}; the sampler gives one kind per batch"
            )
        passages = [r["positive"] for r in rows] + [n for r in rows for n in r["negatives"]]
        passage_ids = [r["positive_id"] for r in rows] + [n for r in rows for n in r["negative_ids"]]
        keys = torch.tensor([passage_key(pid) for pid in passage_ids], dtype=torch.long)
        return {
            "query": self._tokenize([r["query"] for r in rows], "query"),
            "passage": self._tokenize(passages, "passage"),
            "passage_keys": keys,  # equal keys = same passage text, masked as false negatives
            # the batch's kind (data/batch_kinds.py): its name and BatchKind.cross_lingual, counted by TrainingRecord
            "kind": kinds.pop(),
            "cross_lingual": bool(rows[0].get("cross_lingual")),
            "query_lang": torch.tensor([r["query_lang"] for r in rows]),  # language indices (batch traces)
            "passage_lang": torch.tensor([r["passage_lang"] for r in rows]),
            "negative_langs": [list(r.get("negative_langs", ())) for r in rows],  # per pair (data/hard_negatives.py)
        }
