"""The LAReQA protocol: mono (X->X), cross (X->Y, X!=Y) and multi (X -> pooled) retrieval.

Each language's questions and candidate sentences are encoded once; every
(query language, corpus) pair is searched through FAISS; metrics are computed
per pair from the ranked lists and macro-averaged over pairs, as LAReQA does.
In ``multi`` every parallel answer sentence counts as relevant, and the rank
distance between them measures language bias.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from hybrid_retrieval.eval.benchmarks.lareqa import LareqaBenchmark
from hybrid_retrieval.eval.bias import full_ranks, rank_distance
from hybrid_retrieval.eval.per_query import scores_frame
from hybrid_retrieval.eval.metrics import hits_matrix, parse_metric, per_query_metrics
from hybrid_retrieval.eval.runfiles import write_qrels, write_run
from hybrid_retrieval.eval.search import build_index, id_order, search
from hybrid_retrieval.timing import Stopwatch

log = logging.getLogger(__name__)
SETTINGS = ("mono", "cross", "multi")
MULTI = "multi"  # corpus-language tag of the pooled candidates in query ids


@dataclass
class PairResult:
    setting: str
    query_lang: str
    corpus_lang: str
    qids: list[str]
    scores: dict[str, np.ndarray] = field(default_factory=dict)


def _pairs(setting: str, langs: list[str]) -> list[tuple[str, str]]:
    if setting == "mono":
        return [(x, x) for x in langs]
    if setting == "cross":
        return [(x, y) for x in langs for y in langs if x != y]
    if setting == "multi":
        return [(x, MULTI) for x in langs]
    raise ValueError(f"eval.settings: unknown setting {setting!r}; valid: {SETTINGS}")


def evaluate_lareqa(bench: LareqaBenchmark, encoder, key: str, settings: Iterable[str] = SETTINGS,
                    metrics: Iterable[str] = ("map", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10"),
                    depth: int = 100, runs_dir: Path | None = None) -> tuple[dict[str, float], pd.DataFrame]:
    """Return (flat metrics ``<key>/<setting>/<metric>[/<lang>]``, per-query scores)."""
    metrics, settings, langs = list(metrics), list(settings), bench.languages
    max_k = max((k for _, k in map(parse_metric, metrics) if k), default=1)
    if depth < max_k:
        raise ValueError(f"eval.depth={depth} is smaller than the largest cutoff @{max_k} in eval.metrics")
    clock = Stopwatch()
    q_emb, c_emb, answers = {}, {}, {}
    with clock("encode"):
        for lang in langs:
            data = bench.data[lang]
            q_emb[lang] = encoder.encode([q.text for q in data.questions], "query", desc=f"{key} {lang} questions")
            c_emb[lang] = encoder.encode(data.sentences, "passage", desc=f"{key} {lang} candidates")
            answers[lang] = bench.answer(lang)
    offsets = dict(zip(langs, np.cumsum([0] + [len(bench.data[x].sentences) for x in langs])[:-1].tolist()))
    pooled_names = np.array([sid for x in langs for sid in bench.data[x].sentence_ids], dtype=object)
    corpora = {x: (c_emb[x], np.array(bench.data[x].sentence_ids, dtype=object)) for x in langs}
    corpora[MULTI] = (np.concatenate([c_emb[x] for x in langs]), pooled_names)
    indexes, orders = {}, {}

    def relevant(qid: str, corpus: str) -> list[int]:
        targets = langs if corpus == MULTI else [corpus]
        base = (lambda y: offsets[y]) if corpus == MULTI else (lambda y: 0)
        return [base(y) + answers[y][qid] for y in targets if qid in answers[y]]

    results: list[PairResult] = []
    written: set[str] = set()
    for setting in settings:
        for x, y in _pairs(setting, langs):
            rows, questions, rel = [], [], []
            for i, q in enumerate(bench.data[x].questions):
                targets = relevant(q.qid, y)
                if targets:
                    rows.append(i), questions.append(q), rel.append(np.array(targets))
            if not questions:
                continue
            with clock("index"):
                if y not in indexes:
                    indexes[y], orders[y] = build_index(corpora[y][0]), id_order(list(corpora[y][1]))
            with clock("search"):
                scores, ids = search(indexes[y], q_emb[x][rows], depth, orders[y])
            with clock("metrics"):
                hits = hits_matrix(ids, rel)
                res = PairResult(setting, x, y, [q.qid for q in questions],
                                 per_query_metrics(hits, np.array([len(r) for r in rel]), metrics))
            if setting == "multi" and len(langs) > 1:
                with clock("rank_distance"):
                    res.scores["rank_distance"] = rank_distance(full_ranks(q_emb[x][rows], corpora[MULTI][0], rel))
            results.append(res)
            if runs_dir is not None:
                with clock("runs"):
                    qids = [f"{x}-{y}:{q.qid}" for q in questions]
                    path = Path(runs_dir) / key / setting
                    append = setting in written
                    write_run(path.with_suffix(".trec"), qids, ids, scores, corpora[y][1], append=append)
                    write_qrels(path.with_suffix(".qrels"),
                                {qid: [corpora[y][1][d] for d in r] for qid, r in zip(qids, rel)}, append=append)
                    written.add(setting)
    with clock("metrics"):
        found = _aggregate(key, results)
    return {**found, **clock.as_metrics(f"time/{key}_")}, _per_query_frame(key, results)


def _aggregate(key: str, results: list[PairResult]) -> dict[str, float]:
    """Macro average: mean over queries within a pair, then mean over pairs (overall and per query language)."""
    out: dict[str, float] = {}
    frame = pd.DataFrame([
        {"setting": r.setting, "qlang": r.query_lang, "metric": m, "value": float(np.nanmean(v))}
        for r in results for m, v in r.scores.items() if np.isfinite(v).any()
    ])
    if frame.empty:
        return out
    for (setting, metric), grp in frame.groupby(["setting", "metric"], sort=False):
        out[f"{key}/{setting}/{metric}"] = float(grp["value"].mean())
        for lang, sub in grp.groupby("qlang", sort=False):
            out[f"{key}/{setting}/{metric}/{lang}"] = float(sub["value"].mean())
    return out


def _per_query_frame(key: str, results: list[PairResult]) -> pd.DataFrame:
    return scores_frame([(key, r.setting, r.query_lang, r.corpus_lang, r.qids, r.scores) for r in results])
