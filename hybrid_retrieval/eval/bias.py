"""Language bias: how far apart a query's parallel answers land in the pooled ranking.

Rank distance (Huang et al., 2023): for each query, the maximum minus the
minimum rank, in the full ranking of the pooled multilingual candidates, of its
relevant sentences (one per language).  0 means all translations of the answer
are ranked together; a language-biased model pulls its own language up.
"""
from __future__ import annotations

import numpy as np


def full_ranks(queries: np.ndarray, corpus: np.ndarray, targets: list[np.ndarray], chunk_size: int = 1024) -> list[np.ndarray]:
    """1-based rank of each target document in the full score ordering (1 + number scoring strictly higher)."""
    out: list[np.ndarray] = []
    corpus = np.ascontiguousarray(corpus, dtype=np.float32)
    for lo in range(0, len(queries), chunk_size):
        scores = queries[lo: lo + chunk_size].astype(np.float32) @ corpus.T
        for row, tgt in zip(scores, targets[lo: lo + chunk_size]):
            out.append(1 + (row[None, :] > row[tgt][:, None]).sum(axis=1))
    return out


def rank_distance(ranks: list[np.ndarray]) -> np.ndarray:
    """Max minus min rank per query (NaN when a query has fewer than two relevant documents)."""
    return np.array([float(r.max() - r.min()) if len(r) >= 2 else np.nan for r in ranks])
