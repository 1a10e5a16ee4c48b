"""TextFormat: how texts become encoder inputs and embeddings, in one object.

The training collator, the evaluation encoder and the exported encoder must
agree on the prefixes, the maximum lengths and the pooling (with the Dense
layers after it: model/head.py), or a model is evaluated (or shipped)
differently from how it was trained.  They all take them from here; the
DualEncoder holds one TextFormat and no copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybrid_retrieval.text_spec import TextSpec


@dataclass(frozen=True)
class TextFormat:
    pooling: str = "mean"
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    max_query_length: int = 64
    max_passage_length: int = 128

    @property
    def spec(self) -> TextSpec:
        """The prefixes and lengths alone: what the collator and the evaluation encoder take."""
        return TextSpec(self.query_prefix, self.passage_prefix, self.max_query_length, self.max_passage_length)

    def collator(self, tokenizer: Any):
        """The training collator (tokenised, prefixed, padded per batch)."""
        from hybrid_retrieval.data.collate import PairCollator

        return PairCollator(tokenizer, self.spec)

    def encoder(self, backbone: Any, tokenizer: Any, pool: Any, batch_size: int = 32, precision: str = "32"):
        """The evaluation encoder (length-sorted batches, inference mode); ``pool`` is the head (model/head.py)."""
        from hybrid_retrieval.eval.encode import TextEncoder

        return TextEncoder(backbone, tokenizer, pool, self.spec, batch_size=batch_size, precision=precision)

    def export(self, backbone: Any, tokenizer: Any, out_dir: Any, dense: Any = ()) -> Path:
        """The encoder for transformers and sentence-transformers users (model/export.py), Dense layers included."""
        from hybrid_retrieval.model.export import save_encoder

        return save_encoder(
            backbone,
            tokenizer,
            out_dir,
            self.pooling,
            self.query_prefix,
            self.passage_prefix,
            max(self.max_query_length, self.max_passage_length),
            dense=dense,
            lengths={"query": self.max_query_length, "passage": self.max_passage_length},
        )
