"""The retrievers that mining ranks passages with: BM25 (bm25s) and dense (the evaluation's encoder + FAISS)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hybrid_retrieval.data.words import words
from hybrid_retrieval.eval.embedding_store import ArrayStore
from hybrid_retrieval.eval.search import search_store
from hybrid_retrieval.text_spec import KINDS


class BM25Retriever:
    """Okapi BM25 (bm25s, Lucene's variant) over one language's passages at a time.

    Tokens are the casefolded words of :mod:`hybrid_retrieval.data.words` (Han characters one word each,
    so Chinese needs no segmenter; a Thai run is one word, so BM25 is weak on Thai).  Lexical matching
    does not cross languages: mine with ``--pairs same`` (the default), where each query searches the
    passages of its own language.
    """

    name = "bm25"

    def __init__(self, k1: float = 1.5, b: float = 0.75):
        self.k1, self.b = k1, b
        self.index_ = None
        self.n = 0

    def describe(self) -> dict:
        return {"retriever": "bm25", "k1": self.k1, "b": self.b, "tokens": "data.words"}

    def index(self, passages: Sequence[str]) -> None:
        import bm25s

        self.index_ = bm25s.BM25(k1=self.k1, b=self.b)
        self.index_.index([words(t) for t in passages], show_progress=False)
        self.n = len(passages)

    def queries(self, texts: Sequence[str]) -> list[list[str]]:
        """Each query's tokens that the index knows."""
        vocab = self.index_.vocab_dict
        return [[t for t in words(q) if t in vocab] for q in texts]

    def search(self, queries: Sequence[list[str]], depth: int) -> np.ndarray:
        """Row indices of the top ``depth`` passages per query (from :meth:`queries`); ties by passage order."""
        depth = min(depth, self.n)
        out = np.empty((len(queries), depth), dtype=np.int64)
        for r, tokens in enumerate(queries):
            scores = self.index_.get_scores(tokens) if tokens else np.zeros(self.n, dtype=np.float32)
            out[r] = np.argsort(-scores, kind="stable")[:depth]
        return out


class DenseRetriever:
    """A backbone as the evaluation encodes and searches with it: ``TextEncoder`` + exact FAISS inner product."""

    def __init__(self, encoder, name: str):
        self.encoder, self.name = encoder, name
        self.store: ArrayStore | None = None

    def describe(self) -> dict:
        enc = self.encoder
        return {
            "retriever": "dense",
            "model": self.name,
            "prefixes": {kind: enc.spec.prefix(kind) for kind in KINDS},
            "max_length": {kind: enc.spec.max_length(kind) for kind in KINDS},
            "precision": enc.precision,
        }

    def index(self, passages: Sequence[str]) -> None:
        vectors = self.encoder.encode(list(passages), "passage", desc="mine: encode passages")
        self.store = ArrayStore(vectors=vectors, ids=np.array([str(i).encode() for i in range(len(passages))]))

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query embeddings (a block's queries are encoded together, so a resumed run sees the same vectors)."""
        return self.encoder.encode(list(texts), "query", desc="mine: encode queries")

    def search(self, queries: np.ndarray, depth: int) -> np.ndarray:
        """Row indices of the top ``depth`` passages per query embedding (exact inner product)."""
        _, rows = search_store(self.store, np.asarray(queries), depth)
        return rows
