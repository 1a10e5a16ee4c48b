"""The swept axes of a sweep, their values in order, and which values are the baselines.

An axis is any override key whose value differs between trained jobs (``collect.swept_keys``).
Baselines: chosen on the command line (``--baseline data.cross_ratio=0,1``), else both ends of a
numeric axis and the first value of any other (in the sweep's own order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybrid_retrieval.report.collect import swept_keys


@dataclass(frozen=True)
class Axis:
    key: str
    values: tuple[str, ...]  # override values as written, in plotting order
    numeric: bool
    baselines: tuple[str, ...]
    sizes: tuple[float, ...] = ()  # a backbone axis: each value's parameter count (plotted on a log scale)

    @property
    def log(self) -> bool:
        return bool(self.sizes)

    def position(self, value: str) -> float:
        """x coordinate in a plot: the number itself, a backbone's parameter count, or the value's rank."""
        if self.numeric:
            return float(value)
        return float(self.sizes[self.values.index(value)]) if self.sizes else float(self.values.index(value))


def _as_float(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def find_axes(jobs: pd.DataFrame, chosen: dict[str, list[str]] | None = None) -> list[Axis]:
    """Every swept axis with its values and baselines; ``chosen`` maps an axis key to baseline values."""
    chosen = chosen or {}
    trained = jobs[~jobs["reference"].astype(bool)]
    unknown = sorted(set(chosen) - set(swept_keys(jobs)))
    if unknown:
        raise ValueError(f"--baseline {unknown}: not a swept key; swept keys: {swept_keys(jobs)}")
    axes = []
    for key in swept_keys(jobs):
        seen = list(dict.fromkeys(m[key] for m in trained["_override_map"] if key in m))
        numbers = [_as_float(v) for v in seen]
        numeric = all(n is not None for n in numbers)
        if numeric:
            seen = [v for _, v in sorted(zip(numbers, seen))]
        elif key == "model" and trained["model_size"].notna().any():  # a backbone axis: by size
            size = parameter_counts(trained)
            seen.sort(key=lambda v: np.nan_to_num(size.get(v, np.inf), nan=np.inf))
        if key in chosen:
            missing = [v for v in chosen[key] if v not in seen]
            if missing:
                raise ValueError(f"--baseline {key}={','.join(chosen[key])}: {missing} not among its values {seen}")
            base = tuple(chosen[key])
        else:
            base = tuple(dict.fromkeys([seen[0], seen[-1]])) if numeric else (seen[0],)
        sizes = ()
        if key == "model" and not numeric:  # by parameter count on a log scale when every backbone has one
            counts = parameter_counts(trained)
            if all(np.isfinite(counts.get(v, np.nan)) and counts.get(v, 0) > 0 for v in seen):
                sizes = tuple(float(counts[v]) for v in seen)
        axes.append(Axis(key, tuple(seen), numeric, base, sizes))
    return axes


def parameter_counts(trained: pd.DataFrame) -> dict[str, float]:
    """Each backbone's parameter count: the job's measured ``backbone/parameters`` (backbone.json), else the
    config's ``size``."""
    measured = trained["backbone/parameters"] if "backbone/parameters" in trained else pd.Series(np.nan, trained.index)
    out: dict[str, float] = {}
    for overrides, size, count in zip(trained["_override_map"], trained["model_size"], measured):
        value = count if count == count and count else size
        if overrides.get("model") is not None and value == value and value:
            out.setdefault(overrides["model"], float(value))
    return out


def parse_baselines(items: list[str] | None) -> dict[str, list[str]]:
    """``["data.cross_ratio=0,1", "model=me5_small"]`` -> {key: [values]}."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"--baseline {item!r}: expected KEY=VALUE[,VALUE...], e.g. data.cross_ratio=0,1")
        out[key.lstrip("+~")] = values.split(",")
    return out
