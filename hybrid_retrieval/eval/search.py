"""Top-k search over a corpus store, in trec_eval's tie order: one path for every benchmark.

Corpora are stores (:mod:`.embedding_store`): held in memory for small pools
(LAReQA, TyDi GoldP) or streamed from disk for large ones (MIRACL, BEIR); the
search is the same.  ``flat`` (default) is exact: it reads the store in chunks
and merges per-chunk top-k lists (FAISS ``knn`` + ``ResultHeap``), so memory is
bounded by the chunk size whatever the corpus size.  ``ivf`` and ``hnsw``
build an approximate FAISS index and trade a little recall for speed.  On a
machine where faiss-gpu sees a GPU, ``flat`` and ``ivf`` run there unless
``gpu=false``.

trec_eval sorts a run by score descending and breaks ties by document id
descending; lists come back already in that order, so the metrics we compute
and the ones trec_eval computes from our run files agree exactly.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

try:
    import faiss
except ImportError:  # neither extra installed
    raise ImportError(
        'faiss is not installed: pip install -e ".[cpu]" (faiss-cpu; .[dev] includes it) on a CPU '
        'machine, or pip install -e ".[gpu]" (faiss-gpu-cu12) on a CUDA 12 GPU machine'
    ) from None

from hybrid_retrieval.eval.embedding_store import ArrayStore, EmbeddingStore

log = logging.getLogger(__name__)
KINDS = ("flat", "ivf", "hnsw")


@dataclass(frozen=True)
class IndexSpec:
    """``eval.index``: which index, and its knobs."""

    kind: str = "flat"
    gpu: Any = "auto"  # auto | true | false
    nlist: int | None = None  # ivf lists; None: 4 * sqrt(N), at most N / 39
    nprobe: int = 32  # ivf lists visited per query
    hnsw_m: int = 32  # hnsw graph degree
    ef_construction: int = 200
    ef_search: int = 256
    corpus_chunk: int = 65536  # store rows read per step
    query_chunk: int = 1024  # queries searched per step

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"eval.index.kind={self.kind!r}: valid values are {list(KINDS)}")
        if self.gpu not in ("auto", True, False):
            raise ValueError(f"eval.index.gpu={self.gpu!r}: valid values are auto, true, false")
        for name in ("nprobe", "hnsw_m", "ef_construction", "ef_search", "corpus_chunk", "query_chunk"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"eval.index.{name}={getattr(self, name)}: must be a positive integer")

    @classmethod
    def from_config(cls, node: Mapping | IndexSpec | None) -> IndexSpec:
        if node is None:
            return cls()
        if isinstance(node, IndexSpec):
            return node
        known = {f.name for f in fields(cls)}
        values = dict(node)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"eval.index: unknown key(s) {unknown}; valid keys: {sorted(known)}")
        return cls(**values)


def use_gpu(spec: IndexSpec) -> bool:
    available = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    if spec.gpu is True and not available:
        raise ValueError(
            "eval.index.gpu=true but FAISS sees no GPU (install faiss-gpu on a GPU machine, or set eval.index.gpu=auto)"
        )
    return available and spec.gpu in ("auto", True)


def search_store(
    store: EmbeddingStore | ArrayStore,
    queries: np.ndarray,
    depth: int,
    spec: IndexSpec | None = None,
    doc_order: np.ndarray | None = None,
    timings: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``depth`` (scores, row ids) per query over ``store``; ids are -1 where fewer were found.

    ``timings``, if given, receives ``index_build_s`` (0 for ``flat``, which builds nothing).
    """
    spec = spec or IndexSpec()
    depth = min(int(depth), store.n)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    t0 = time.perf_counter()
    if spec.kind == "flat":
        if timings is not None:
            timings["index_build_s"] = 0.0
        scores, ids = _flat(store, queries, depth, spec)
    else:
        index = build_ann_index(store, spec)
        if timings is not None:
            timings["index_build_s"] = time.perf_counter() - t0
        scores = np.empty((len(queries), depth), dtype=np.float32)
        ids = np.empty((len(queries), depth), dtype=np.int64)
        for lo in range(0, len(queries), spec.query_chunk):
            scores[lo : lo + spec.query_chunk], ids[lo : lo + spec.query_chunk] = index.search(
                queries[lo : lo + spec.query_chunk], depth
            )
    if doc_order is not None:
        scores, ids = trec_order(scores, ids, doc_order)
    return scores, ids


def _flat(
    store: EmbeddingStore | ArrayStore, queries: np.ndarray, depth: int, spec: IndexSpec
) -> tuple[np.ndarray, np.ndarray]:
    gpu = use_gpu(spec)
    res = faiss.StandardGpuResources() if gpu else None

    def knn(block: np.ndarray, chunk: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if gpu:
            return faiss.knn_gpu(res, block, chunk, k, metric=faiss.METRIC_INNER_PRODUCT)
        return faiss.knn(block, chunk, k, metric=faiss.METRIC_INNER_PRODUCT)

    scores = np.empty((len(queries), depth), dtype=np.float32)
    ids = np.empty((len(queries), depth), dtype=np.int64)
    for qlo in range(0, len(queries), spec.query_chunk):
        block = queries[qlo : qlo + spec.query_chunk]
        if store.n <= spec.corpus_chunk:  # one chunk: no merging needed (small pools, the common case)
            _, chunk = next(store.iter_chunks(spec.corpus_chunk))
            scores[qlo : qlo + len(block)], ids[qlo : qlo + len(block)] = knn(block, chunk, depth)
            continue
        heap = faiss.ResultHeap(len(block), depth, keep_max=True)
        for lo, chunk in store.iter_chunks(spec.corpus_chunk):
            d, i = knn(block, chunk, min(depth, len(chunk)))
            heap.add_result(d, np.where(i >= 0, i + lo, -1))
        heap.finalize()
        scores[qlo : qlo + len(block)], ids[qlo : qlo + len(block)] = heap.D, heap.I
    return scores, ids


def build_ann_index(store: EmbeddingStore | ArrayStore, spec: IndexSpec) -> faiss.Index:
    """An IVF-Flat or HNSW-Flat inner-product index over the store, added chunk by chunk."""
    if spec.kind == "ivf":
        nlist = int(spec.nlist or max(1, min(round(4 * math.sqrt(store.n)), store.n // 39)))
        if nlist < 1 or nlist > store.n:
            raise ValueError(f"eval.index.nlist={spec.nlist}: must be in [1, {store.n}] for this corpus")
        index = faiss.index_factory(store.dim, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(store.n, size=min(store.n, 256 * nlist), replace=False)
        index.train(store.rows(sample))
        faiss.extract_index_ivf(index).nprobe = min(spec.nprobe, nlist)
        if use_gpu(spec):
            index = faiss.index_cpu_to_all_gpus(index)
    else:
        if use_gpu(spec) and spec.gpu is True:
            log.warning("eval.index.kind=hnsw runs on the CPU (FAISS has no GPU HNSW)")
        index = faiss.IndexHNSWFlat(store.dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
        index.hnsw.efSearch = spec.ef_search
    for _, chunk in store.iter_chunks(spec.corpus_chunk):
        index.add(chunk)
    return index


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
    keys = (
        doc_ids
        if isinstance(doc_ids, np.ndarray) and doc_ids.dtype.kind == "S"
        else np.array([str(d).encode("utf-8") for d in doc_ids], dtype=bytes)
    )
    order = np.argsort(keys, kind="stable")
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[order] = np.arange(len(keys))
    return ranks
