"""What each benchmark declares about itself: headline metrics, low-resource languages, lower-is-better.

A benchmark node of the job config (``eval.benchmarks.<name>``) may carry ``headline:
[<setting>/<metric>[/<group>], ...]``, ``low_resource: [...]`` and ``lower_is_better: [...]``;
jobs written before those keys existed fall back to the LAReQA headline below.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

FALLBACK_HEADLINE = ("mono/map", "cross/map", "multi/map", "multi/rank_distance")
DEFAULT_LOWER_IS_BETTER = ("rank_distance",)
# Benchmarks whose query ids name one question across its parallel translations (LAReQA).
PARALLEL_LOADERS = ("lareqa",)
PARALLEL_NAMES = ("xquad_r", "mlqa_r")
RECALL = re.compile(r"^multi/recall@(\d+)$")
# metric prefixes a job writes about itself, not about a benchmark (metrics.json: train/, time/, data/<benchmark>/
# counts, mem/peak_rss_gib/<phase>, disk/)
JOB_PREFIXES = frozenset({"train", "time", "data", "mem", "disk"})


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    headline: tuple[str, ...]
    low_resource: tuple[str, ...] = ()
    lower_is_better: tuple[str, ...] = DEFAULT_LOWER_IS_BETTER
    parallel: bool = False          # qid shared by translations: a question cluster spans languages
    declared: bool = False          # headline from the config, not the fallback
    extra: tuple[str, ...] = field(default=())  # shown in tables, not tested (multi recall@k of old runs)

    def key(self, entry: str) -> str:
        return f"{self.name}/{entry}"

    def lower(self, entry: str) -> bool:
        return entry.split("/")[1] in self.lower_is_better


def benchmark_names(columns) -> list[str]:
    """Benchmark prefixes of the metric keys (``xquad_r`` in ``xquad_r/multi/map``)."""
    found = {c.split("/", 1)[0] for c in columns if isinstance(c, str) and c.count("/") >= 2}
    return sorted(found - JOB_PREFIXES)


def benchmark_specs(jobs: pd.DataFrame) -> dict[str, BenchmarkSpec]:
    """One spec per benchmark that the jobs report, from the first job config that declares it."""
    nodes: dict[str, dict] = {}
    for declared in jobs["_benchmarks"]:
        for name, node in (declared or {}).items():
            nodes.setdefault(name, node if isinstance(node, dict) else {})
    columns = set(jobs.columns)
    specs = {}
    for name in benchmark_names(jobs.columns):
        node = nodes.get(name, {})
        target = str(node.get("_target_", ""))
        parallel = node.get("parallel", any(t in target for t in PARALLEL_LOADERS) or name in PARALLEL_NAMES)
        headline = tuple(node.get("headline") or ())
        recalls = sorted((int(m.group(1)), c[len(name) + 1:]) for c in columns if str(c).startswith(f"{name}/")
                         for m in [RECALL.match(str(c)[len(name) + 1:])] if m)
        if headline:
            entries, extra = headline, ()
        else:
            entries = tuple(h for h in FALLBACK_HEADLINE if f"{name}/{h}" in columns)
            extra = tuple(r for _, r in recalls)
        specs[name] = BenchmarkSpec(
            name, tuple(entries), tuple(map(str, node.get("low_resource") or ())),
            tuple(node.get("lower_is_better") or DEFAULT_LOWER_IS_BETTER), bool(parallel), bool(headline), extra)
    return specs


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
    names = {"map": "mAP", "rank_distance": "rank distance", "mrr@10": "MRR@10", "ndcg@10": "nDCG@10",
             "low_resource": "low-resource"}
    return " ".join(names.get(p, p.replace("recall@", "R@").replace("ndcg@", "nDCG@")) for p in parts)
