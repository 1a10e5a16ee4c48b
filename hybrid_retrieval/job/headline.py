"""The one line a job ends with: its headline metrics, so a log answers "how did it do?" at a glance.

Which metrics: ``optimized_metric`` (the sweep's objective) first, then each
benchmark's ``eval.benchmarks.<name>.headline`` list of ``<setting>/<metric>``;
a benchmark without one falls back to its pooled ``.../map`` and
``.../ndcg@10`` keys (no language suffix). ``train/final_loss`` and
``disk/job_mb`` follow when present.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

FALLBACK_SUFFIXES = ("/map", "/ndcg@10")
EXTRAS = ("train/final_loss", "disk/job_mb")


def headline_keys(metrics: Mapping[str, float], cfg: Any) -> list[str]:
    """The metrics.json keys to show, in order, each once; only keys the job actually has."""
    keys: list[str] = []
    optimized = cfg.get("optimized_metric") if cfg is not None else None
    if optimized:
        keys.append(str(optimized))
    benchmarks = ((cfg.get("eval") or {}).get("benchmarks") or {}) if cfg is not None else {}
    configured = set()
    for name, node in benchmarks.items():
        wanted = node.get("headline") if node is not None else None
        if wanted:
            configured.add(name)
            keys += [f"{name}/{item}" for item in wanted]
    keys += sorted(k for k in metrics if k.count("/") == 2 and k.endswith(FALLBACK_SUFFIXES)
                   and k.split("/", 1)[0] not in configured and not k.startswith(("train/", "time/", "disk/")))
    keys += list(EXTRAS)
    seen: set[str] = set()
    return [k for k in keys if k in metrics and not (k in seen or seen.add(k))]


def _format(value: float) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return str(value)
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.0f}"


def headline_line(metrics: Mapping[str, float], cfg: Any) -> str:
    """``headline: xquad_r/mono/map=0.7921 xquad_r/cross/map=0.6740 ... disk/job_mb=12``."""
    shown = " ".join(f"{k}={_format(metrics[k])}" for k in headline_keys(metrics, cfg))
    return f"headline: {shown or '(no metrics)'}"
