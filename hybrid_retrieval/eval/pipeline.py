"""The one evaluation pipeline: every benchmark is a plan of query sets, corpora and search tasks.

A benchmark reader (LAReQA, TyDi GoldP, MIRACL, BEIR) only says *what* to
search: which queries, against which corpus, with which judgments.  This
module does the rest the same way for all of them: encode each query set and
each corpus once (small pools in memory, large corpora streamed to disk),
search (:mod:`.search`, trec_eval's tie order), score the ranked lists
against the judgments (:mod:`.metrics`, :mod:`.graded`), add language-bias
measures in pooled multilingual settings (:mod:`.bias`), write the run files
those metrics come from (:mod:`.runfiles`), and macro-average: mean over the
queries of a task, then over tasks (overall, per query language, and per
language group such as ``low_resource``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from typing import Protocol as TypingProtocol

import numpy as np
import pandas as pd

from hybrid_retrieval.eval.bias import full_ranks, lang_pref, query_lang_share, rank_distance
from hybrid_retrieval.eval.embedding_store import (
    DTYPES,
    ArrayStore,
    EmbeddingStore,
    encode_in_memory,
    encode_to_store,
    utf8_ids,
)
from hybrid_retrieval.eval.graded import ndcg_at_k
from hybrid_retrieval.eval.metrics import parse_metric, per_query_metrics
from hybrid_retrieval.eval.per_query import scores_frame
from hybrid_retrieval.eval.protocol import Protocol
from hybrid_retrieval.eval.runfiles import RunFiles
from hybrid_retrieval.eval.search import IndexSpec, id_order, search_store
from hybrid_retrieval.progress import phase
from hybrid_retrieval.timing import Stopwatch

log = logging.getLogger(__name__)
Store = ArrayStore | EmbeddingStore


class CorpusSource(TypingProtocol):
    """Anything that streams ``(docids, passage texts)`` chunks (large corpora, encoded to disk)."""

    description: str

    def batches(self, size: int) -> Iterator[tuple[list[str], list[str]]]: ...


@dataclass
class Candidates:
    """A candidate pool small enough to hold in memory (one language's sentences or passages)."""

    ids: list[str]
    texts: list[str]
    lang: str


@dataclass
class QuerySet:
    lang: str
    queries: dict[str, str]  # qid -> text, in evaluation order


@dataclass
class Task:
    """Search ``query_set`` against ``corpus`` and score with ``qrels`` (qid -> {docid: level})."""

    setting: str
    query_set: str
    corpus: str
    qrels: dict[str, dict[str, int]]
    run_prefix: str = ""  # run-file query id = run_prefix + qid
    corpus_label: str | None = None  # the per-query table's corpus_lang (default: the corpus key)


@dataclass
class Plan:
    query_sets: dict[str, QuerySet]
    corpora: dict[str, Candidates | CorpusSource]
    tasks: list[Task]
    pools: dict[str, list[str]] = field(default_factory=dict)  # pooled corpus -> its parts (encoded once)


@dataclass
class RetrievalOptions:
    index: IndexSpec = field(default_factory=IndexSpec)
    ignore_identical_ids: bool = False  # BEIR: a hit whose id equals the query id is dropped
    embedding_dtype: str = "float32"  # float16 halves the on-disk corpus embeddings
    embeddings_dir: str | None = None  # where on-disk stores are kept (None: <cache>/embeddings; temp dir for
    # encoders or corpora without an identity)
    encode_chunk: int = 16384  # passages read and encoded per step: one shard of a kept store
    keep_embeddings: bool = True  # False: a kept store is removed once its benchmark is evaluated


@dataclass
class TaskResult:
    setting: str
    query_lang: str
    corpus_lang: str
    qids: list[str]
    scores: dict[str, np.ndarray]


@dataclass
class Benchmark:
    """A loaded benchmark: what to measure (protocol) and what to search (plan)."""

    name: str
    protocol: Protocol
    plan: Plan
    options: RetrievalOptions = field(default_factory=RetrievalOptions)
    languages: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # counts worth reporting (candidates, skipped questions)

    def evaluate(
        self, encoder, runs_dir: Path | None = None, stats: dict | None = None, **protocol: Any
    ) -> tuple[dict[str, float], pd.DataFrame]:
        """Flat metrics ``<name>/<setting>/<metric>[/<lang or group>]`` and the per-query table.

        ``protocol`` keys (``metrics``, ``depth``, ``settings``) override the benchmark's own for this call.
        """
        bench = replace(self, protocol=self.protocol.with_(**protocol)) if protocol else self
        return run_plan(bench, encoder, runs_dir, stats)


def run_plan(
    bench: Benchmark, encoder, runs_dir: Path | None = None, stats: dict | None = None
) -> tuple[dict[str, float], pd.DataFrame]:
    proto, plan, clock = bench.protocol, bench.plan, Stopwatch()
    runs = RunFiles(None if runs_dir is None else Path(runs_dir) / bench.name)
    queries: dict[str, tuple[list[str], np.ndarray]] = {}
    stores: dict[str, tuple[Store, np.ndarray]] = {}
    last_use = _last_use(plan)
    results: list[TaskResult] = []
    tmp_dirs: dict[str, tempfile.TemporaryDirectory] = {}
    progress = phase(f"{bench.name}: tasks searched and scored", total=len(plan.tasks), unit="tasks")
    try:
        for i, task in enumerate(plan.tasks):
            if task.query_set not in queries:
                qs = plan.query_sets[task.query_set]
                with clock("encode"):
                    queries[task.query_set] = (
                        list(qs.queries),
                        encoder.encode(
                            list(qs.queries.values()), "query", desc=f"{bench.name} {task.query_set} queries"
                        ),
                    )
            store, order = _store(bench, encoder, task.corpus, stores, tmp_dirs, clock)
            result = _run_task(bench, task, queries[task.query_set], store, order, runs, clock, stats)
            progress.update(1)
            if result is not None:
                results.append(result)
            for key in [k for k, last in last_use.items() if last == i and k in stores]:
                del stores[key]  # free memory (and, with the temp dir, disk) as soon as no later task needs it
                if key in tmp_dirs:
                    tmp_dirs.pop(key).cleanup()
        with clock("runs"):
            runs.write()
    finally:
        progress.close()
        for tmp in tmp_dirs.values():
            tmp.cleanup()
    with clock("aggregate"):
        found = aggregate(bench.name, results, proto.groups)
    per_query = scores_frame([(bench.name, r.setting, r.query_lang, r.corpus_lang, r.qids, r.scores) for r in results])
    return {**found, **clock.as_metrics(f"time/{bench.name}_")}, per_query


def _last_use(plan: Plan) -> dict[str, int]:
    last: dict[str, int] = {}
    for i, task in enumerate(plan.tasks):
        for key in [task.corpus, *plan.pools.get(task.corpus, [])]:
            last[key] = i
    return last


def _store(
    bench: Benchmark, encoder, key: str, stores: dict, tmp_dirs: dict, clock: Stopwatch
) -> tuple[Store, np.ndarray]:
    """The corpus ``key`` encoded once (a pool is concatenated from its encoded parts), with its id order."""
    if key in stores:
        return stores[key]
    plan, opts = bench.plan, bench.options
    if key in plan.pools:
        store: Store = ArrayStore.concat(
            [_store(bench, encoder, part, stores, tmp_dirs, clock)[0] for part in plan.pools[key]]
        )
    else:
        source = plan.corpora[key]
        with clock("encode"):
            if isinstance(source, Candidates):
                store = encode_in_memory(
                    encoder, source.ids, source.texts, source.lang, desc=f"{bench.name} {key} candidates"
                )
            elif callable(getattr(encoder, "fingerprint", None)) and callable(getattr(source, "fingerprint", None)):
                store = _kept_store(bench, encoder, key, source, tmp_dirs)
            else:
                tmp_dirs[key] = tempfile.TemporaryDirectory(dir=opts.embeddings_dir, prefix=f"{bench.name}-{key}-")
                store = encode_to_store(
                    encoder,
                    source.batches(opts.encode_chunk),
                    Path(tmp_dirs[key].name) / "corpus.emb",
                    opts.embedding_dtype,
                    desc=f"{bench.name} {key} corpus ({source.description})",
                )
    order = id_order(store.ids)
    _check_unique(store, order, key)
    stores[key] = (store, order)
    return stores[key]


class _Removal:
    """Stands in for a TemporaryDirectory: a kept store that this job removes after its last use."""

    def __init__(self, folder: Path, keep: bool):
        self.folder, self.keep = folder, keep

    def cleanup(self) -> None:
        if not self.keep:
            from hybrid_retrieval.eval.embedding_cache import remove

            remove(self.folder)


def _kept_store(bench: Benchmark, encoder, key: str, source, tmp_dirs: dict) -> Store:
    """A store keyed by the encoder's and the corpus's identity: encoded once, resumed where a killed job left it."""
    from hybrid_retrieval.eval.embedding_cache import embeddings_root, encode_sharded, passage_tokens, store_key
    from hybrid_retrieval.eval.rates import record_rate

    opts = bench.options
    folder = embeddings_root(opts.embeddings_dir) / store_key(
        encoder.fingerprint(), source.fingerprint(), opts.embedding_dtype, opts.encode_chunk
    )
    store = encode_sharded(
        encoder,
        source,
        folder,
        opts.embedding_dtype,
        opts.encode_chunk,
        desc=f"{bench.name} {key} corpus ({source.description})",
        info={"benchmark": bench.name, "corpus": key, "source": source.description},
        kept_ids=passage_tokens(encoder, source.fingerprint(), opts.encode_chunk),
    )
    record_rate(encoder, store.new_passages, store.new_tokens, store.new_token_squares, store.encode_s)
    tmp_dirs[key] = _Removal(folder, opts.keep_embeddings)
    return store


def _run_task(
    bench: Benchmark,
    task: Task,
    encoded: tuple[list[str], np.ndarray],
    store: Store,
    order: np.ndarray,
    runs: RunFiles,
    clock: Stopwatch,
    stats: dict | None,
) -> TaskResult | None:
    proto, opts = bench.protocol, bench.options
    all_qids, q_emb = encoded
    row_of_q = {q: i for i, q in enumerate(all_qids)}
    qids = [q for q in all_qids if any(level > 0 for level in task.qrels.get(q, {}).values())]
    if len(qids) < len(all_qids):
        log.info(
            "%s %s->%s: %d of %d queries have no relevant judgment here and are not evaluated",
            bench.name,
            task.query_set,
            task.corpus,
            len(all_qids) - len(qids),
            len(all_qids),
        )
    if not qids:
        log.warning("%s %s->%s: no query with a relevant judgment; skipped", bench.name, task.query_set, task.corpus)
        return None
    q = q_emb[[row_of_q[x] for x in qids]]
    depth = min(proto.depth, store.n)
    extra = 1 if opts.ignore_identical_ids else 0
    t0, timings = time.perf_counter(), {}
    with clock("search"):
        scores, ids = search_store(store, q, depth + extra, opts.index, order, timings)
        if opts.ignore_identical_ids:
            scores, ids = drop_identical(scores, ids, rows_of(store, qids), depth)
    search_s = time.perf_counter() - t0
    judged = [task.qrels[x] for x in qids]
    with clock("metrics"):
        row_of_doc = _rows_of_judged(store, judged)
        gains = _gains(row_of_doc, judged, ids)
        scored = score(gains, judged, list(proto.metrics))
    query_lang = bench.plan.query_sets[task.query_set].lang
    if task.corpus in bench.plan.pools and store.langs is not None:
        with clock("bias"):
            scored.update(_bias(store, q, gains, ids, row_of_doc, judged, query_lang))
    used = np.unique(ids[ids >= 0])
    local = np.where(ids >= 0, np.searchsorted(used, np.maximum(ids, 0)), -1)
    run_qids = [task.run_prefix + x for x in qids]
    with clock("runs"):
        runs.add(task.setting, run_qids, local, scores, store.doc_names(used), dict(zip(run_qids, judged)))
    if stats is not None:
        stats.setdefault("sets", []).append(
            {
                "lang": query_lang,
                "corpus": task.corpus,
                "passages": store.n,
                "encode_s": store.encode_s,
                "queries": len(qids),
                "index_build_s": timings["index_build_s"],
                "search_s": search_s - timings["index_build_s"],
            }
        )
    return TaskResult(task.setting, query_lang, task.corpus_label or task.corpus, qids, scored)


def _bias(
    store: ArrayStore,
    q: np.ndarray,
    gains: np.ndarray,
    ids: np.ndarray,
    row_of_doc: dict[str, int],
    judged: list[dict[str, int]],
    query_lang: str,
) -> dict[str, np.ndarray]:
    targets = [
        np.array(sorted(row_of_doc[d] for d, lvl in j.items() if lvl >= 1 and d in row_of_doc), dtype=np.int64)
        for j in judged
    ]
    out: dict[str, np.ndarray] = {}
    if any(len(t) >= 2 for t in targets):
        ranks = full_ranks(q, store.vectors, targets)
        out["rank_distance"] = rank_distance(ranks)
        out["lang_pref"] = lang_pref(ranks, [store.langs[t] for t in targets], query_lang)
    ranked = np.where(ids >= 0, store.langs[np.maximum(ids, 0)], None)
    out["query_lang@10"] = query_lang_share(ranked, query_lang, 10)
    return out


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


def score(gains: np.ndarray, judgments: list[dict[str, int]], metrics: list[str]) -> dict[str, np.ndarray]:
    """trec_eval definitions: relevant means level >= 1; nDCG uses the levels as gains when they are graded."""
    n_rel = np.array([sum(1 for lvl in j.values() if lvl >= 1) for j in judgments])
    out = per_query_metrics(gains >= 1, n_rel, metrics)
    if any(lvl > 1 for j in judgments for lvl in j.values()):
        for name in metrics:
            base, k = parse_metric(name)
            if base == "ndcg" and k:
                out[name] = ndcg_at_k(gains, [np.fromiter(j.values(), dtype=np.int64) for j in judgments], k)
    return out


def _gains(row_of: dict[str, int], judged: list[dict[str, int]], ids: np.ndarray) -> np.ndarray:
    """Relevance level of every ranked document (0 when unjudged or missing)."""
    gains = np.zeros(ids.shape, dtype=np.int64)
    for i, j in enumerate(judged):
        rel = {row_of[d]: lvl for d, lvl in j.items() if d in row_of}
        if rel:
            gains[i] = [rel.get(r, 0) for r in ids[i]]
    return gains


def rows_of(store: Store, docids: Sequence[str]) -> np.ndarray:
    """Row of each docid in the store, -1 where absent."""
    rows = _rows_of_ids(store, set(docids))
    return np.array([rows.get(d, -1) for d in docids], dtype=np.int64)


def _rows_of_judged(store: Store, judged: list[dict[str, int]]) -> dict[str, int]:
    rows = _rows_of_ids(store, {d for j in judged for d in j})
    missing = sum(1 for j in judged for d, lvl in j.items() if lvl >= 1 and d not in rows)
    if missing:
        log.warning("%d relevant judgment(s) name passages that are not in the corpus", missing)
    return rows


def _rows_of_ids(store: Store, docids: set[str]) -> dict[str, int]:
    if not docids:
        return {}
    hit = np.flatnonzero(np.isin(store.ids, utf8_ids(docids)))
    return dict(zip(store.doc_names(hit).tolist(), hit.tolist()))


def _check_unique(store: Store, order: np.ndarray, key: str) -> None:
    sorted_ids = np.empty_like(store.ids)
    sorted_ids[order] = store.ids
    dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if dup.size:
        raise ValueError(
            f"corpus {key}: docid {sorted_ids[dup[0]].decode()!r} appears more than once; "
            f"run files and metrics need unique passage ids"
        )


def aggregate(name: str, results: list[TaskResult], groups: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Mean over queries per task, then over tasks: overall, per query language, per language group."""
    rows = [
        {"setting": r.setting, "qlang": r.query_lang, "metric": m, "value": float(np.nanmean(v))}
        for r in results
        for m, v in r.scores.items()
        if np.isfinite(v).any()
    ]
    out: dict[str, float] = {}
    if not rows:
        return out
    frame = pd.DataFrame(rows)
    for (setting, metric), grp in frame.groupby(["setting", "metric"], sort=False):
        out[f"{name}/{setting}/{metric}"] = float(grp["value"].mean())
        per_lang = grp.groupby("qlang", sort=False)["value"].mean()
        for lang, value in per_lang.items():
            out[f"{name}/{setting}/{metric}/{lang}"] = float(value)
        for group, members in groups.items():
            present = [per_lang[m] for m in members if m in per_lang]
            if present:
                out[f"{name}/{setting}/{metric}/{group}"] = float(np.mean(present))
    return out


def make_options(
    index: Mapping | IndexSpec | None = None,
    ignore_identical_ids: bool = False,
    embedding_dtype: str = "float32",
    embeddings_dir: str | None = None,
    encode_chunk: int = 16384,
    keep_embeddings: bool | str = True,
) -> RetrievalOptions:
    """Options from config values, failing early (before training) on a bad one."""
    if embedding_dtype not in DTYPES:
        raise ValueError(f"eval.embedding_dtype={embedding_dtype!r}: valid values are {sorted(DTYPES)}")
    if int(encode_chunk) < 1:
        raise ValueError(f"eval.encode_chunk={encode_chunk}: must be a positive integer")
    if embeddings_dir not in (None, ""):
        folder = Path(str(embeddings_dir)).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"eval.embeddings_dir={folder}: cannot create it ({err.strerror})") from None
        embeddings_dir = str(folder)
    return RetrievalOptions(
        IndexSpec.from_config(_plain(index)),
        bool(ignore_identical_ids),
        embedding_dtype,
        None if embeddings_dir in (None, "") else embeddings_dir,
        int(encode_chunk),
        keep_embeddings in (True, "auto", "true"),
    )


def _plain(node: Any) -> Any:
    from omegaconf import DictConfig, OmegaConf

    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
