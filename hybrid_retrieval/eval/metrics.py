"""Ranking metrics over ranked lists, defined as trec_eval defines them.

Input is a boolean hit matrix (query x rank) and the number of relevant
documents per query: the metrics know nothing of models or indexes.  Binary
relevance throughout, which is what LAReQA and MIRACL judge.

- ``map``: trec_eval ``map`` (precision at each relevant hit / number relevant)
- ``recall@k``: trec_eval ``recall_k``
- ``mrr@k``: trec_eval ``recip_rank`` on the list cut at k
- ``ndcg@k``: trec_eval ``ndcg_cut_k``
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def parse_metric(name: str) -> tuple[str, int | None]:
    base, _, k = name.partition("@")
    return base, (int(k) if k else None)


def per_query_metrics(hits: np.ndarray, n_relevant: np.ndarray, metrics: Iterable[str]) -> dict[str, np.ndarray]:
    """Score every query; ``hits[i, r]`` is True when the document at rank r+1 is relevant to query i."""
    hits = np.asarray(hits, dtype=bool)
    n_rel = np.asarray(n_relevant, dtype=np.float64)
    if hits.ndim != 2 or hits.shape[0] != n_rel.shape[0]:
        raise ValueError(
            f"hits must be (queries x depth) with one n_relevant per query; got {hits.shape}, {n_rel.shape}"
        )
    if np.any(n_rel <= 0):
        raise ValueError("every evaluated query needs at least one relevant document")
    depth = hits.shape[1]
    ranks = np.arange(1, depth + 1, dtype=np.float64)
    cum = np.cumsum(hits, axis=1)
    out: dict[str, np.ndarray] = {}
    for name in metrics:
        base, k = parse_metric(name)
        if k is not None and k <= 0:
            raise ValueError(f"metric {name!r}: k must be positive")
        cut = hits[:, : (k or depth)]
        if base == "map" and k is None:
            out[name] = (np.where(hits, cum / ranks, 0.0).sum(axis=1)) / n_rel
        elif base == "recall" and k:
            out[name] = cut.sum(axis=1) / n_rel
        elif base == "mrr" and k:
            first = np.where(cut.any(axis=1), cut.argmax(axis=1) + 1, np.inf)
            out[name] = 1.0 / first
        elif base == "ndcg" and k:
            discount = 1.0 / np.log2(np.arange(1, max(k, depth) + 1, dtype=np.float64) + 1.0)
            dcg = (cut * discount[: cut.shape[1]]).sum(axis=1)
            ideal_n = np.minimum(n_rel, k).astype(int)  # trec_eval: ideal over min(n_rel, k), not the run's depth
            idcg = np.cumsum(discount)[np.maximum(ideal_n, 1) - 1]
            out[name] = dcg / idcg
        else:
            raise ValueError(f"unknown metric {name!r}: valid are map, recall@k, mrr@k, ndcg@k")
    return out


def hits_matrix(ranked: np.ndarray, relevant: list[set[int]] | list[np.ndarray]) -> np.ndarray:
    """Hit matrix from ranked document indices and each query's set of relevant indices."""
    hits = np.zeros(ranked.shape, dtype=bool)
    for i, rel in enumerate(relevant):
        hits[i] = np.isin(ranked[i], np.fromiter(rel, dtype=np.int64) if isinstance(rel, set) else rel)
    return hits
