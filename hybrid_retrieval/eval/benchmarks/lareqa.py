"""LAReQA benchmarks (XQuAD-R, MLQA-R): parallel questions over per-language sentence pools.

Settings (Roy et al., 2020): ``mono`` (X's questions against X's sentences),
``cross`` (X against Y, X != Y) and ``multi`` (X against the pooled sentences
of every evaluated language, where each language's answer sentence is
relevant).  Question ids are shared across languages, which is what makes
the pooled setting measure language bias.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hybrid_retrieval.data.formats.lareqa import KNOWN_LANGUAGES, LareqaLanguage, read_lareqa, require_language_files  # noqa: F401
from hybrid_retrieval.eval.pipeline import Benchmark, Candidates, Plan, QuerySet, Task
from hybrid_retrieval.eval.protocol import Protocol

SETTINGS = ("mono", "cross", "multi")
POOL = "multi"  # corpus key (and run-file corpus tag) of the pooled candidates
DEFAULT_HEADLINE = ("mono/map", "cross/map", "multi/map", "multi/rank_distance")
PARALLEL = True  # a question id names the question in every language: the report's unit is that cluster
DEFAULTS = {
    "settings": list(SETTINGS),
    "metrics": ["map", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10"],
    "depth": 1000,
}


def check_config(name: str, node: dict) -> None:
    """Protocol, languages and files of a node, without reading the files (a sweep checks every job first)."""
    Protocol.from_node(name, {**DEFAULTS, **node}, SETTINGS, DEFAULT_HEADLINE)
    require_language_files(node.get("root"), node["folder"], node["languages"], f"eval.benchmarks.{name}.languages")


def load_lareqa(
    name: str, folder: str, languages: Iterable[str], root: str | Path | None = None, **protocol: Any
) -> Benchmark:
    """Read every language file (failing before training on any gap) and plan the LAReQA settings."""
    proto = Protocol.from_node(name, {**DEFAULTS, **protocol}, SETTINGS, DEFAULT_HEADLINE, parallel=PARALLEL)
    languages = list(languages)
    files = require_language_files(root, folder, languages, f"eval.benchmarks.{name}.languages")
    data = {lang: read_lareqa(path, lang) for lang, path in zip(languages, files)}
    return Benchmark(
        name,
        proto,
        lareqa_plan(data, proto.settings),
        languages=languages,
        info={
            "sentences": {x: len(d.sentences) for x, d in data.items()},
            "questions": {x: len(d.questions) for x, d in data.items()},
            "skipped_questions": {x: d.skipped_questions for x, d in data.items()},
        },
    )


def lareqa_plan(data: dict[str, LareqaLanguage], settings: Iterable[str]) -> Plan:
    langs = list(data)
    answer = {x: {q.qid: data[x].sentence_ids[q.sentence] for q in data[x].questions} for x in langs}
    query_sets = {x: QuerySet(x, {q.qid: q.text for q in data[x].questions}) for x in langs}
    corpora = {x: Candidates(data[x].sentence_ids, data[x].sentences, x) for x in langs}
    tasks: list[Task] = []
    for setting in settings:
        for x, y in _pairs(setting, langs):
            targets = langs if y == POOL else [y]
            qrels = {q: {answer[t][q]: 1 for t in targets if q in answer[t]} for q in query_sets[x].queries}
            tasks.append(Task(setting, x, y, {q: rel for q, rel in qrels.items() if rel}, run_prefix=f"{x}-{y}:"))
    return Plan(query_sets, corpora, tasks, pools={POOL: langs})


def _pairs(setting: str, langs: list[str]) -> list[tuple[str, str]]:
    if setting == "mono":
        return [(x, x) for x in langs]
    if setting == "cross":
        return [(x, y) for x in langs for y in langs if x != y]
    return [(x, POOL) for x in langs]
