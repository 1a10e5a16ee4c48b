"""TextSpec: each kind of text's prefix and maximum length, the ids they give, in one place.

Training (the collator and its token cache), evaluation (the encoder and its kept token ids) and the
export must turn a text into the same ids, or a model is evaluated differently from how it was trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

KINDS = ("query", "passage")


@dataclass(frozen=True)
class TextSpec:
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    max_query_length: int = 64
    max_passage_length: int = 128

    def prefix(self, kind: str) -> str:
        return self.query_prefix if _checked(kind) == "query" else self.passage_prefix

    def max_length(self, kind: str) -> int:
        return self.max_query_length if _checked(kind) == "query" else self.max_passage_length

    def token_ids(self, tokenizer: Any, texts: Sequence[str], kind: str) -> list[list[int]]:
        """Each text with its kind's prefix, truncated to its kind's maximum length (special tokens included)."""
        return tokenizer(
            [self.prefix(kind) + t for t in texts],
            truncation=True,
            max_length=self.max_length(kind),
            padding=False,
            return_attention_mask=False,
        )["input_ids"]


def _checked(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be 'query' or 'passage', got {kind!r}")
    return kind
