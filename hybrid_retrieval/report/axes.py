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
    values: tuple[str, ...]        # override values as written, in plotting order
    numeric: bool
    baselines: tuple[str, ...]

    def position(self, value: str) -> float:
        """x coordinate in a plot: the number itself, or the value's rank for a categorical axis."""
        return float(value) if self.numeric else float(self.values.index(value))


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
            size = {m.get("model"): s for m, s in zip(trained["_override_map"], trained["model_size"])}
            seen.sort(key=lambda v: (np.nan_to_num(size.get(v, np.inf), nan=np.inf)))
        if key in chosen:
            missing = [v for v in chosen[key] if v not in seen]
            if missing:
                raise ValueError(f"--baseline {key}={','.join(chosen[key])}: {missing} not among its values {seen}")
            base = tuple(chosen[key])
        else:
            base = tuple(dict.fromkeys([seen[0], seen[-1]])) if numeric else (seen[0],)
        axes.append(Axis(key, tuple(seen), numeric, base))
    return axes


def parse_baselines(items: list[str] | None) -> dict[str, list[str]]:
    """``["data.cross_ratio=0,1", "model=me5_small"]`` -> {key: [values]}."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"--baseline {item!r}: expected KEY=VALUE[,VALUE...], e.g. data.cross_ratio=0,1")
        out[key.lstrip("+~")] = values.split(",")
    return out
