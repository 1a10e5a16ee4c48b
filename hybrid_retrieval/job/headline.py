"""The one line a job ends with: its headline metrics, so a log answers "how did it do?" at a glance.

Which metrics: ``optimized_metric`` (the sweep's objective) first, then each
benchmark's declared headline (``benchmarks.json``, written by the job beside
metrics.json: the reader's default or ``eval.benchmarks.<name>.headline``).
``train/final_loss`` and ``disk/job_mb`` follow when present.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from hybrid_retrieval.eval.declaration import Declarations
from hybrid_retrieval.eval.declaration import headline_keys as declared_keys

EXTRAS = ("train/final_loss", "disk/job_mb")


def headline_keys(metrics: Mapping[str, float], declarations: Declarations, optimized: str | None = None) -> list[str]:
    """The metrics.json keys to show, in order, each once; only keys the job actually has."""
    keys = ([str(optimized)] if optimized else []) + declared_keys(declarations) + list(EXTRAS)
    seen: set[str] = set()
    return [k for k in keys if k in metrics and not (k in seen or seen.add(k))]


def _format(value: float) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return str(value)
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.0f}"


def headline_line(metrics: Mapping[str, float], declarations: Declarations, optimized: str | None = None) -> str:
    """``headline: xquad_r/mono/map=0.7921 xquad_r/cross/map=0.6740 ... disk/job_mb=12``."""
    shown = " ".join(f"{k}={_format(metrics[k])}" for k in headline_keys(metrics, declarations, optimized))
    return f"headline: {shown or '(no metrics)'}"
