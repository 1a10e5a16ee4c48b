"""Exact inner-product search through FAISS, with trec_eval's tie order.

trec_eval sorts a run by score descending and breaks ties by document id
descending; we return lists already in that order so that the metrics we
compute and the ones trec_eval computes from our run files agree exactly.
"""
from __future__ import annotations

import faiss
import numpy as np


def build_index(embeddings: np.ndarray) -> faiss.Index:
    emb = np.ascontiguousarray(embeddings, dtype=np.float32)
    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(emb)
    return index


def search(index: faiss.Index, queries: np.ndarray, depth: int, doc_order: np.ndarray | None = None,
           chunk_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Top-``depth`` (scores, ids) per query, in query chunks to bound memory.

    ``doc_order[i]`` is document i's position in ascending id order; with it, ties are ordered as trec_eval does.
    Ids are -1 where an approximate index found fewer than ``depth`` documents.
    """
    depth = min(depth, index.ntotal)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    scores = np.empty((len(queries), depth), dtype=np.float32)
    ids = np.empty((len(queries), depth), dtype=np.int64)
    for lo in range(0, len(queries), chunk_size):
        s, i = index.search(queries[lo: lo + chunk_size], depth)
        scores[lo: lo + chunk_size], ids[lo: lo + chunk_size] = s, i
    if doc_order is not None:
        scores, ids = trec_order(scores, ids, doc_order)
    return scores, ids


def trec_order(scores: np.ndarray, ids: np.ndarray, doc_order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reorder each row by score descending, then document id descending; missing (-1) ids go last.

    Only rows that are not already strictly descending (ties, missing ids) are sorted: most rows have no
    ties, and sorting every row of a depth-1000 list cost more than the search itself.
    """
    valid = ids >= 0
    rows = np.flatnonzero((scores[:, 1:] >= scores[:, :-1]).any(axis=1) | ~valid.all(axis=1))
    if len(rows) == 0:
        return scores, ids
    scores, ids, valid = scores.copy(), ids.copy(), valid[rows]
    sub_scores, sub_ids = scores[rows], ids[rows]
    rank = np.where(valid, doc_order[np.where(valid, sub_ids, 0)], -1)
    order = np.lexsort((-rank, -np.where(valid, sub_scores, -np.inf)), axis=-1)
    scores[rows], ids[rows] = np.take_along_axis(sub_scores, order, -1), np.take_along_axis(sub_ids, order, -1)
    return scores, ids


def id_order(doc_ids) -> np.ndarray:
    """Rank of each id in byte-wise ascending order (strcmp, as trec_eval compares).

    Accepts a list of str or an array of UTF-8 ``bytes`` (``S`` dtype), whose sort is byte-wise.
    """
    keys = doc_ids if isinstance(doc_ids, np.ndarray) and doc_ids.dtype.kind == "S" else \
        np.array([str(d).encode("utf-8") for d in doc_ids], dtype=bytes)
    order = np.argsort(keys, kind="stable")
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[order] = np.arange(len(keys))
    return ranks
