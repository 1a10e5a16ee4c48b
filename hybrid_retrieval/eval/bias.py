"""Language bias in pooled multilingual retrieval: does a query's own language float to the top?

- ``rank_distance`` (Huang et al., 2023): per query, the maximum minus the
  minimum rank, in the full ranking of the pooled candidates, of its relevant
  candidates (one per language, parallel).  0: all translations of the answer
  are ranked together.  Needs at least two relevant candidates.
- ``lang_pref`` (our reading of the Language Preference Rate of MLAIRE, Jang
  et al., 2026, arXiv 2605.07249): 1 when the best-ranked of a query's
  parallel relevant candidates is the one in the query's language, else 0;
  its mean is the share of queries answered first in their own language.
  With L equally good languages an unbiased retriever scores 1/L.  Needs at
  least two relevant candidates (parallel answers), like rank distance.
- ``query_lang@10``: the share of the top 10 retrieved candidates that are in
  the query's language, whatever their relevance (works without parallel
  answers, e.g. TyDi's pooled setting); compare it with the query language's
  share of the pool.
"""

from __future__ import annotations

import numpy as np


def full_ranks(
    queries: np.ndarray, corpus: np.ndarray, targets: list[np.ndarray], chunk_size: int = 1024
) -> list[np.ndarray]:
    """1-based rank of each target document in the full score ordering (1 + number scoring strictly higher)."""
    out: list[np.ndarray] = []
    corpus = np.ascontiguousarray(corpus, dtype=np.float32)
    for lo in range(0, len(queries), chunk_size):
        scores = queries[lo : lo + chunk_size].astype(np.float32) @ corpus.T
        for row, tgt in zip(scores, targets[lo : lo + chunk_size]):
            out.append(1 + (row[None, :] > row[tgt][:, None]).sum(axis=1))
    return out


def rank_distance(ranks: list[np.ndarray]) -> np.ndarray:
    """Max minus min rank per query (NaN when a query has fewer than two relevant documents)."""
    return np.array([float(r.max() - r.min()) if len(r) >= 2 else np.nan for r in ranks])


def lang_pref(ranks: list[np.ndarray], target_langs: list[np.ndarray], query_lang: str) -> np.ndarray:
    """1.0 when a query-language target holds the best rank (ties count for it), 0.0 otherwise, NaN with < 2 targets."""
    out = np.full(len(ranks), np.nan)
    for i, (r, langs) in enumerate(zip(ranks, target_langs)):
        own = langs == query_lang
        if len(r) >= 2 and own.any():
            out[i] = float(r[own].min() <= r.min())
    return out


def query_lang_share(ranked_langs: np.ndarray, query_lang: str, k: int = 10) -> np.ndarray:
    """Share of each query's top ``k`` candidates in ``query_lang`` (``ranked_langs``: query x rank, None past
    the list)."""
    top = ranked_langs[:, :k]
    return (top == query_lang).sum(axis=1) / k
