"""What each benchmark declared about itself, as the report uses it: headline, groups, direction, parallel queries.

A job writes its benchmarks' declarations to ``benchmarks.json`` beside metrics.json
(:mod:`hybrid_retrieval.eval.declaration`); the report reads them from there.
Job dirs written before that file existed are read through :mod:`.legacy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hybrid_retrieval.report.legacy import DEFAULT_LOWER_IS_BETTER, legacy_declaration

# metric prefixes a job writes about itself, not about a benchmark (metrics.json: train/, time/, data/<benchmark>/
# counts, mem/peak_rss_gib/<phase>, disk/)
JOB_PREFIXES = frozenset({"train", "time", "data", "mem", "disk"})


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    headline: tuple[str, ...]
    low_resource: tuple[str, ...] = ()
    lower_is_better: tuple[str, ...] = DEFAULT_LOWER_IS_BETTER
    parallel: bool = False  # qid shared by translations: a question cluster spans languages
    declared: bool = False  # headline declared by the benchmark, not the fallback of old job dirs
    extra: tuple[str, ...] = field(default=())  # shown in tables, not tested (multi recall@k of old runs)

    def key(self, entry: str) -> str:
        return f"{self.name}/{entry}"

    def lower(self, entry: str) -> bool:
        return entry.split("/")[1] in self.lower_is_better


def benchmark_names(columns) -> list[str]:
    """Benchmark prefixes of the metric keys (``xquad_r`` in ``xquad_r/multi/map``)."""
    found = {c.split("/", 1)[0] for c in columns if isinstance(c, str) and c.count("/") >= 2}
    return sorted(found - JOB_PREFIXES)


def spec_from_declaration(name: str, declared: Mapping[str, Any]) -> BenchmarkSpec:
    """The report's view of one entry of a job's ``benchmarks.json`` (or of :func:`.legacy.legacy_declaration`)."""
    return BenchmarkSpec(
        name,
        tuple(declared.get("headline") or ()),
        tuple(map(str, (declared.get("groups") or {}).get("low_resource") or ())),
        tuple(declared.get("lower_is_better") or ()),
        bool(declared.get("parallel")),
        bool(declared.get("declared", True)),
        tuple(declared.get("extra") or ()),
    )


def benchmark_specs(jobs: pd.DataFrame) -> dict[str, BenchmarkSpec]:
    """One spec per benchmark that the jobs report, from the first job that declared it (``benchmarks.json``);
    a benchmark that no job declared (old job dirs) from the job configs (:func:`.legacy.legacy_declaration`)."""
    declared: dict[str, dict] = {}
    for found in jobs["_benchmarks"]:
        for name, entry in (found or {}).items():
            declared.setdefault(name, entry)
    nodes: dict[str, dict] = {}
    for configured in jobs["_configured"]:
        for name, node in (configured or {}).items():
            nodes.setdefault(name, node if isinstance(node, dict) else {})
    return {
        name: spec_from_declaration(
            name, declared.get(name) or legacy_declaration(name, nodes.get(name, {}), set(jobs.columns))
        )
        for name in benchmark_names(jobs.columns)
    }


def parse_entry(entry: str) -> tuple[str, str, str | None]:
    """``mono/ndcg@10/low_resource`` -> (setting, metric, group); group None for all languages."""
    parts = entry.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(f"headline entry {entry!r}: expected <setting>/<metric>[/<group or language>]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def pretty_metric(key: str) -> str:
    """``xquad_r/multi/map`` -> ``multi mAP``; ``mono/ndcg@10/low_resource`` -> ``mono nDCG@10 low-resource``."""
    parts = key.split("/")
    if parts and parts[0] not in ("mono", "cross", "multi") and len(parts) >= 2:
        parts = parts[1:]
    names = {
        "map": "mAP",
        "rank_distance": "rank distance",
        "mrr@10": "MRR@10",
        "ndcg@10": "nDCG@10",
        "low_resource": "low-resource",
    }
    return " ".join(names.get(p, p.replace("recall@", "R@").replace("ndcg@", "nDCG@")) for p in parts)
