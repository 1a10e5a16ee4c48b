"""The toy benchmark of docs/data.md ("Adding a benchmark"), kept as a test: a reader and nothing else.

Toy: the same eight questions in every language (parallel query ids), each
answered by one sentence of its language's pool; monolingual retrieval only.
It declares its protocol through :meth:`Protocol.from_node` (valid settings,
default headline, parallel queries); its config node (tests/conf/eval/benchmarks/toy.yaml)
adds the metrics, depth and low-resource group.  No module of hybrid_retrieval names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hybrid_retrieval.eval.pipeline import Benchmark, Candidates, Plan, QuerySet, Task
from hybrid_retrieval.eval.protocol import Protocol

SETTINGS = ("mono",)
DEFAULT_HEADLINE = ("mono/mrr@10", "mono/recall@1/low_resource")
WORDS = {
    "en": ["river", "castle", "engine", "garden", "market", "winter", "bridge", "forest"],
    "de": ["Fluss", "Burg", "Motor", "Garten", "Markt", "Winter", "Bruecke", "Wald"],
    "es": ["rio", "castillo", "motor", "jardin", "mercado", "invierno", "puente", "bosque"],
}


def load_toy(name: str = "toy", languages: Iterable[str] = ("de", "en"), **protocol: Any) -> Benchmark:
    """Queries ``q<i>`` in every language, each relevant to sentence ``<lang>-s<i>`` of its own language."""
    proto = Protocol.from_node(
        name, {"settings": ["mono"], "metrics": ["mrr@10"], **protocol}, SETTINGS, DEFAULT_HEADLINE, parallel=True
    )
    languages = list(languages)
    unknown = [x for x in languages if x not in WORDS]
    if unknown or not languages:
        raise ValueError(f"eval.benchmarks.{name}.languages={languages}: the toy knows {sorted(WORDS)}")
    query_sets = {x: QuerySet(x, {f"q{i}": f"where is the {w}?" for i, w in enumerate(WORDS[x])}) for x in languages}
    corpora = {
        x: Candidates(
            [f"{x}-s{i}" for i in range(len(WORDS[x]))], [f"the {w} is number {i}." for i, w in enumerate(WORDS[x])], x
        )
        for x in languages
    }
    tasks = [
        Task("mono", x, x, {f"q{i}": {f"{x}-s{i}": 1} for i in range(len(WORDS[x]))}, run_prefix=f"{x}:")
        for x in languages
    ]
    return Benchmark(name, proto, Plan(query_sets, corpora, tasks), languages=languages)
