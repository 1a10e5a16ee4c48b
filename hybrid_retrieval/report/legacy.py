"""Fallback for job dirs written before ``benchmarks.json``: a benchmark's spec rebuilt from the job's .hydra config.

Such a job's config node (``eval.benchmarks.<name>``) holds what was configured:
``headline`` (else the LAReQA headline below, with every multi recall@k shown
beside it), ``low_resource`` and ``lower_is_better``.  Whether its queries are
parallel is the reader's own word, read from the module its ``_target_`` names
(``PARALLEL``).  New jobs never come here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

FALLBACK_HEADLINE = ("mono/map", "cross/map", "multi/map", "multi/rank_distance")
DEFAULT_LOWER_IS_BETTER = ("rank_distance",)
RECALL = re.compile(r"^multi/recall@(\d+)$")


def reader_is_parallel(target: str) -> bool:
    """``PARALLEL`` of the reader module a ``_target_`` names (False when it has none or cannot be imported)."""
    try:
        return bool(getattr(importlib.import_module(target.rpartition(".")[0]), "PARALLEL", False))
    except (ImportError, ValueError):
        return False


def legacy_declaration(name: str, node: Mapping[str, Any], columns: set) -> dict[str, Any]:
    """An old job's benchmark in the shape of a ``benchmarks.json`` entry, from its config node and the metric
    columns present; ``declared`` says whether the headline was configured, ``extra`` the recall@k shown beside
    the fallback headline."""
    headline = list(node.get("headline") or ())
    extra: list[str] = []
    if not headline:
        headline = [h for h in FALLBACK_HEADLINE if f"{name}/{h}" in columns]
        extra = [
            r
            for _, r in sorted(
                (int(m.group(1)), str(c)[len(name) + 1 :])
                for c in columns
                if str(c).startswith(f"{name}/")
                for m in [RECALL.match(str(c)[len(name) + 1 :])]
                if m
            )
        ]
    return {
        "headline": headline,
        "groups": {"low_resource": list(map(str, node.get("low_resource") or ()))},
        "lower_is_better": list(node.get("lower_is_better") or DEFAULT_LOWER_IS_BETTER),
        "parallel": reader_is_parallel(str(node.get("_target_", ""))),
        "declared": bool(node.get("headline")),
        "extra": extra,
    }
