"""Query -> corpus retrieval evaluation, shared by MIRACL and BEIR-format collections.

For each query set (one language of MIRACL, or one BEIR collection): stream
the corpus through the encoder into an on-disk embedding store, encode the
queries, search (exact flat by default, see :mod:`.index`) in trec_eval's tie
order, and score the ranked lists against the qrels.  The run files written
with ``eval.save_runs=true`` hold exactly the lists the metrics were computed
from.  Per-language means are averaged over languages (MIRACL's convention)
and over named groups such as ``low_resource``.
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd

from hybrid_retrieval.eval.embedding_store import EmbeddingStore, encode_to_store
from hybrid_retrieval.eval.graded import ndcg_at_k
from hybrid_retrieval.eval.index import IndexSpec, search_store
from hybrid_retrieval.eval.per_query import scores_frame
from hybrid_retrieval.eval.metrics import parse_metric, per_query_metrics
from hybrid_retrieval.eval.runfiles import write_run
from hybrid_retrieval.eval.search import id_order

log = logging.getLogger(__name__)


class CorpusSource(Protocol):
    """Anything that streams ``(docids, passage texts)`` chunks."""

    description: str

    def batches(self, size: int) -> Iterator[tuple[list[str], list[str]]]: ...


@dataclass
class QuerySet:
    """Queries, their judgments and the corpus they are searched against; ``lang`` labels the metrics."""

    lang: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    corpus: CorpusSource


@dataclass
class RetrievalOptions:
    index: IndexSpec = field(default_factory=IndexSpec)
    ignore_identical_ids: bool = False   # BEIR: a hit whose id equals the query id is dropped
    embedding_dtype: str = "float32"     # float16 halves the embedding store on disk
    embeddings_dir: str | None = None    # where stores are written (None: the system temp dir)
    encode_chunk: int = 16384            # passages read and encoded per step


@dataclass
class SetResult:
    lang: str
    qids: list[str]
    scores: dict[str, np.ndarray]


def evaluate_retrieval(query_sets: Sequence[QuerySet], encoder, key: str, setting: str = "mono",
                       metrics: Iterable[str] = ("ndcg@10", "recall@100"), depth: int = 100,
                       runs_dir: Path | None = None, options: RetrievalOptions | None = None,
                       groups: Mapping[str, Sequence[str]] | None = None,
                       stats: dict | None = None) -> tuple[dict[str, float], pd.DataFrame]:
    """Return (flat metrics ``<key>/<setting>/<metric>[/<lang or group>]``, per-query scores).

    ``stats``, if given, receives per-set counts and timings (used by ``benchmarks/eval_scale.py``).
    """
    metrics, options = list(metrics), options or RetrievalOptions()
    max_k = max((k for _, k in map(parse_metric, metrics) if k), default=1)
    if depth < max_k:
        raise ValueError(f"eval.depth={depth} is smaller than the largest cutoff @{max_k} in eval.metrics")
    results: list[SetResult] = []
    for qs in query_sets:
        result = _evaluate_set(qs, encoder, key, setting, metrics, depth, runs_dir, options,
                               append=bool(results), stats=stats)
        if result is not None:
            results.append(result)
    return _aggregate(key, setting, results, groups or {}), _per_query_frame(key, setting, results)


def _evaluate_set(qs: QuerySet, encoder, key: str, setting: str, metrics: list[str], depth: int,
                  runs_dir: Path | None, options: RetrievalOptions, append: bool, stats: dict | None) -> SetResult | None:
    qids = [q for q in qs.queries if any(rel > 0 for rel in qs.qrels.get(q, {}).values())]
    if len(qids) < len(qs.queries):
        log.info("%s/%s: %d of %d queries have no relevant judgment and are not evaluated",
                 key, qs.lang, len(qs.queries) - len(qids), len(qs.queries))
    if not qids:
        log.warning("%s/%s: no query with a relevant judgment; skipped", key, qs.lang)
        return None
    with tempfile.TemporaryDirectory(dir=options.embeddings_dir, prefix=f"{key}-{qs.lang}-") as tmp:
        store = encode_to_store(encoder, qs.corpus.batches(options.encode_chunk), Path(tmp) / "corpus.emb",
                                options.embedding_dtype, desc=f"{key} {qs.lang} corpus ({qs.corpus.description})")
        order = id_order(store.ids)
        _check_unique(store, order, qs)
        t0 = time.perf_counter()
        q_emb = encoder.encode([qs.queries[q] for q in qids], "query")
        t1 = time.perf_counter()
        extra = 1 if options.ignore_identical_ids else 0
        timings: dict = {}
        scores, ids = search_store(store, q_emb, depth + extra, options.index, order, timings)
        if options.ignore_identical_ids:
            scores, ids = drop_identical(scores, ids, _rows_of(store, qids), depth)
        t2 = time.perf_counter()
        scored = _score(_gains(store, qs.qrels, qids, ids), [qs.qrels[q] for q in qids], metrics)
        if runs_dir is not None:
            path = Path(runs_dir) / key / setting
            run_qids = [f"{qs.lang}:{q}" for q in qids]
            write_ranked_lists(path.with_suffix(".trec"), run_qids, ids, scores, store, append=append)
            write_graded_qrels(path.with_suffix(".qrels"), {rq: qs.qrels[q] for rq, q in zip(run_qids, qids)},
                               append=append)
    if stats is not None:
        stats.setdefault("sets", []).append({
            "lang": qs.lang, "passages": store.n, "encode_s": store.encode_s, "queries": len(qids),
            "query_encode_s": t1 - t0, "index_build_s": timings["index_build_s"],
            "search_s": t2 - t1 - timings["index_build_s"]})
    return SetResult(qs.lang, qids, scored)


def drop_identical(scores: np.ndarray, ids: np.ndarray, own: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop each query's own document (row ``own[i]``, -1 if absent) from its list, then keep ``depth``.

    Searching ``depth + 1`` first means every list still holds ``depth`` documents when one is dropped,
    so the run file and the metrics see the same lists (BEIR's ``ignore_identical_ids``).
    """
    drop = (ids == own[:, None]) & (own[:, None] >= 0)
    ids, scores = np.where(drop, -1, ids), np.where(drop, -np.inf, scores).astype(np.float32)
    order = np.argsort(drop, axis=1, kind="stable")  # dropped entries move to the end, others keep their order
    ids, scores = np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)
    return scores[:, :depth], ids[:, :depth]


def _gains(store: EmbeddingStore, qrels: dict[str, dict[str, int]], qids: list[str], ids: np.ndarray) -> np.ndarray:
    """Relevance level of every ranked document (0 when unjudged or missing)."""
    row_of = _rows_of_judged(store, qrels, qids)
    gains = np.zeros(ids.shape, dtype=np.int64)
    for i, q in enumerate(qids):
        rel = {row_of[d]: lvl for d, lvl in qrels[q].items() if d in row_of}
        if rel:
            gains[i] = [rel.get(r, 0) for r in ids[i]]
    return gains


def _score(gains: np.ndarray, judgments: list[dict[str, int]], metrics: list[str]) -> dict[str, np.ndarray]:
    """trec_eval definitions: relevant means level >= 1; nDCG uses the levels as gains when they are graded."""
    n_rel = np.array([sum(1 for lvl in j.values() if lvl >= 1) for j in judgments])
    out = per_query_metrics(gains >= 1, n_rel, metrics)
    if any(lvl > 1 for j in judgments for lvl in j.values()):
        for name in metrics:
            base, k = parse_metric(name)
            if base == "ndcg" and k:
                out[name] = ndcg_at_k(gains, [np.fromiter(j.values(), dtype=np.int64) for j in judgments], k)
    return out


def _utf8(ids: Iterable[str]) -> np.ndarray:
    return np.array([i.encode("utf-8") for i in ids], dtype=bytes)


def _rows_of(store: EmbeddingStore, docids: Sequence[str]) -> np.ndarray:
    """Row of each docid in the store, -1 where absent."""
    rows = _rows_of_judged_ids(store, set(docids))
    return np.array([rows.get(d, -1) for d in docids], dtype=np.int64)


def _rows_of_judged(store: EmbeddingStore, qrels: dict[str, dict[str, int]], qids: list[str]) -> dict[str, int]:
    judged = {d for q in qids for d in qrels[q]}
    rows = _rows_of_judged_ids(store, judged)
    missing = sum(1 for q in qids for d, lvl in qrels[q].items() if lvl >= 1 and d not in rows)
    if missing:
        log.warning("%d relevant judgment(s) name passages that are not in the corpus", missing)
    return rows


def _rows_of_judged_ids(store: EmbeddingStore, docids: set[str]) -> dict[str, int]:
    if not docids:
        return {}
    hit = np.flatnonzero(np.isin(store.ids, _utf8(docids)))
    return dict(zip(store.doc_names(hit).tolist(), hit.tolist()))


def _check_unique(store: EmbeddingStore, order: np.ndarray, qs: QuerySet) -> None:
    sorted_ids = np.empty_like(store.ids)
    sorted_ids[order] = store.ids
    dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if dup.size:
        raise ValueError(f"{qs.corpus.description}: docid {sorted_ids[dup[0]].decode()!r} appears more than once; "
                         f"run files and metrics need unique passage ids")


def write_ranked_lists(path: Path, qids: list[str], ids: np.ndarray, scores: np.ndarray, store: EmbeddingStore,
                       append: bool = False) -> None:
    """TREC run lines for every found document (missing -1 entries, always at the end of a row, are skipped)."""
    used = np.unique(ids[ids >= 0])
    names = store.doc_names(used)
    local = np.where(ids >= 0, np.searchsorted(used, np.maximum(ids, 0)), -1)
    lengths = (ids >= 0).sum(axis=1)
    full = lengths == ids.shape[1]
    write_run(path, [q for q, f in zip(qids, full) if f], local[full], scores[full], names, append=append)
    for i in np.flatnonzero(~full & (lengths > 0)):
        n = int(lengths[i])
        write_run(path, [qids[i]], local[i: i + 1, :n], scores[i: i + 1, :n], names, append=True)


def write_graded_qrels(path: Path, qrels: Mapping[str, Mapping[str, int]], append: bool = False) -> None:
    """``qid 0 docid level`` lines, keeping graded levels (trec_eval's nDCG gains)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        for qid, docs in qrels.items():
            for doc, level in docs.items():
                fh.write(f"{qid} 0 {doc} {level}\n")


def _aggregate(key: str, setting: str, results: list[SetResult], groups: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Mean over queries per language; the plain key is the mean over languages, group keys over their members."""
    out: dict[str, float] = {}
    if not results:
        return out
    for metric in results[0].scores:
        per_lang = {r.lang: float(np.mean(r.scores[metric])) for r in results}
        out[f"{key}/{setting}/{metric}"] = float(np.mean(list(per_lang.values())))
        for lang, value in per_lang.items():
            out[f"{key}/{setting}/{metric}/{lang}"] = value
        for group, members in groups.items():
            present = [per_lang[m] for m in members if m in per_lang]
            if present:
                out[f"{key}/{setting}/{metric}/{group}"] = float(np.mean(present))
    return out


def _per_query_frame(key: str, setting: str, results: list[SetResult]) -> pd.DataFrame:
    return scores_frame([(key, setting, r.lang, r.lang, r.qids, r.scores) for r in results])
