"""TyDi QA GoldP as retrieval: the offline low-resource benchmark (sw, te, bn; en as a reference).

Two granularities of candidates per language:

- ``passage`` (MIRACL-like): the language's distinct GoldP passages, encoded as
  ``"<title> <context>"``; a question's relevant candidate is its passage.
  Pools are small (105 passages for bn, 357 for sw), so scores sit near the ceiling.
- ``sentence`` (LAReQA-like, the default): every sentence of those passages,
  split by sentencex (Wikimedia's rule-based segmenter, which knows the
  Bengali danda, Arabic and Korean punctuation); the relevant candidate is
  the sentence holding the answer's first character.  Questions whose answer
  starts in whitespace between sentences are skipped and counted.

Settings: ``mono`` (X's questions against X's candidates) and ``multi`` (X's
questions against the pooled candidates of every evaluated language; the
relevant candidate stays the one in X, so drifting to other languages costs
rank).  Questions are not parallel across languages, so each is its own unit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hybrid_retrieval.data.download import resolve_root
from hybrid_retrieval.data.formats.tydi import SPLIT_LANGUAGES, GoldpRecord, goldp_file, read_goldp
from hybrid_retrieval.data.sentences import split_sentences
from hybrid_retrieval.eval.pipeline import Benchmark, Candidates, Plan, QuerySet, Task
from hybrid_retrieval.eval.protocol import PROTOCOL_KEYS, Protocol

log = logging.getLogger(__name__)
SETTINGS = ("mono", "multi")
GRANULARITIES = ("sentence", "passage")
POOL = "multi"
DEFAULT_HEADLINE = ("mono/ndcg@10/low_resource", "mono/recall@10/low_resource", "multi/ndcg@10/low_resource")
DEFAULTS = {
    "settings": list(SETTINGS),
    "metrics": ["ndcg@10", "recall@1", "recall@10", "recall@100", "mrr@10", "map"],
    "depth": 100,
    "low_resource": ["sw", "te", "bn"],
}


def check_config(name: str, node: dict) -> None:
    """Protocol, granularity, languages and files of a node, without reading the files."""
    _checked(
        name,
        node.get("languages") or [],
        node.get("granularity", "sentence"),
        node.get("split", "dev"),
        {k: v for k, v in node.items() if k in PROTOCOL_KEYS},
    )
    root = resolve_root(node.get("root"))
    for lang in node["languages"]:
        goldp_file(root, lang, node.get("split", "dev"))


def _checked(name: str, languages: Iterable[str], granularity: str, split: str, protocol: dict) -> Protocol:
    key = f"eval.benchmarks.{name}"
    proto = Protocol.from_node(name, {**DEFAULTS, **protocol}, SETTINGS, DEFAULT_HEADLINE)
    if granularity not in GRANULARITIES:
        raise ValueError(f"{key}.granularity={granularity!r}: valid values are {list(GRANULARITIES)}")
    if split not in ("dev", "train"):
        raise ValueError(f"{key}.split={split!r}: valid splits are dev, train")
    languages = list(languages)
    unknown = [x for x in languages if x not in SPLIT_LANGUAGES]
    if unknown or not languages or len(set(languages)) != len(languages):
        raise ValueError(
            f"{key}.languages={languages}: TyDi GoldP has {list(SPLIT_LANGUAGES)} (each at most once); "
            f"unknown: {unknown}"
        )
    bad_group = [x for x in proto.groups.get("low_resource", ()) if x not in SPLIT_LANGUAGES]
    if bad_group:
        raise ValueError(
            f"{key}.low_resource: {bad_group} are not TyDi GoldP languages; valid: {list(SPLIT_LANGUAGES)}"
        )
    return proto


def load_tydi(
    name: str = "tydi",
    languages: Iterable[str] = ("sw", "te", "bn", "en"),
    granularity: str = "sentence",
    split: str = "dev",
    root: str | Path | None = None,
    **protocol: Any,
) -> Benchmark:
    key = f"eval.benchmarks.{name}"
    languages = list(languages)
    proto = _checked(name, languages, granularity, split, protocol)
    root = resolve_root(root)
    records: dict[str, list[GoldpRecord]] = {}
    for lang in languages:
        found = read_goldp(goldp_file(root, lang, split), [lang]).get(lang, [])
        if not found:
            raise ValueError(f"{key}: {goldp_file(root, lang, split)} holds no {lang!r} question of the {split} split")
        records[lang] = found
    pools = {x: candidates(recs, granularity) for x, recs in records.items()}
    info = {
        "granularity": granularity,
        "questions": {x: len(p.relevant) for x, p in pools.items()},
        "candidates": {x: len(p.candidates.ids) for x, p in pools.items()},
        "skipped_questions": {x: p.skipped for x, p in pools.items()},
    }
    for x, p in pools.items():
        log.info(
            "%s %s: %d questions, %d %s candidates, %d skipped (answer in no sentence)",
            name,
            x,
            len(p.relevant),
            len(p.candidates.ids),
            granularity,
            p.skipped,
        )
    return Benchmark(name, proto, tydi_plan(records, pools, proto.settings), languages=languages, info=info)


class LanguagePool:
    """One language's candidates and each question's relevant candidate id."""

    def __init__(self, candidates: Candidates, relevant: dict[str, str], skipped: int):
        self.candidates, self.relevant, self.skipped = candidates, relevant, skipped


def candidates(records: list[GoldpRecord], granularity: str) -> LanguagePool:
    """Distinct passages in first-seen order; sentences of each passage when ``granularity='sentence'``."""
    lang = records[0].lang
    passage_of: dict[tuple[str, str], int] = {}
    for r in records:
        passage_of.setdefault((r.title, r.context), len(passage_of))
    ids: list[str] = []
    texts: list[str] = []
    relevant: dict[str, str] = {}
    skipped = 0
    if granularity == "passage":
        for (title, context), p in passage_of.items():
            ids.append(f"{lang}-p{p}")
            texts.append(f"{title} {context}".strip())
        for r in records:
            relevant[r.qid] = f"{lang}-p{passage_of[(r.title, r.context)]}"
        return LanguagePool(Candidates(ids, texts, lang), relevant, skipped)
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for (_, context), p in passage_of.items():
        spans[p] = []
        for s, (start, end, text) in enumerate(split_sentences(context, lang)):
            sid = f"{lang}-p{p}-s{s}"
            spans[p].append((start, end, sid))
            ids.append(sid)
            texts.append(text)
    for r in records:
        hit = next(
            (sid for start, end, sid in spans[passage_of[(r.title, r.context)]] if start <= r.answer_start < end), None
        )
        if hit is None:
            skipped += 1
        else:
            relevant[r.qid] = hit
    return LanguagePool(Candidates(ids, texts, lang), relevant, skipped)


def tydi_plan(records: dict[str, list[GoldpRecord]], pools: dict[str, LanguagePool], settings: Iterable[str]) -> Plan:
    langs = list(records)
    query_sets = {x: QuerySet(x, {r.qid: r.question for r in records[x] if r.qid in pools[x].relevant}) for x in langs}
    corpora = {x: pools[x].candidates for x in langs}
    tasks = []
    for setting in settings:
        for x in langs:
            corpus = x if setting == "mono" else POOL
            qrels = {q: {rel: 1} for q, rel in pools[x].relevant.items()}
            tasks.append(Task(setting, x, corpus, qrels, run_prefix=f"{x}-{corpus}:"))
    return Plan(query_sets, corpora, tasks, pools={POOL: langs})
