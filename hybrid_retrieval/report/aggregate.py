"""Mean and standard deviation over seeds, per configuration, ordered along the swept axes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybrid_retrieval.job.job_status import COMPLETE
from hybrid_retrieval.report.collect import metric_columns
from hybrid_retrieval.report.headline import benchmark_names as benchmarks  # noqa: F401
from hybrid_retrieval.report.legacy import FALLBACK_HEADLINE, RECALL

HEADLINE = FALLBACK_HEADLINE


def headline_metrics(columns, benchmark: str) -> list[str]:
    """Fallback headline of old runs: mono/cross/multi mAP, rank distance and every multi recall@k, in that order."""
    columns = set(columns)
    keys = [f"{benchmark}/{h}" for h in HEADLINE]
    recalls = sorted(
        (int(m.group(1)), c)
        for c in columns
        if c.startswith(f"{benchmark}/")
        for m in [RECALL.match(c[len(benchmark) + 1 :])]
        if m
    )
    return [k for k in keys + [c for _, c in recalls] if k in columns]


def aggregate(jobs: pd.DataFrame, axes=()) -> pd.DataFrame:
    """One row per configuration: counts, axis values, and ``<metric>:mean`` / ``<metric>:std`` over its complete jobs.

    std is the sample standard deviation (ddof=1); with a single seed it is NaN, not 0,
    so a table never shows an error bar that was not measured. Zero-shot references come last.
    """
    metrics = metric_columns(jobs)
    rows = []
    for config, grp in jobs.groupby("config", sort=False):
        done = grp[grp["status"] == COMPLETE]
        overrides = grp["_override_map"].iloc[0]
        row = {
            "config": config,
            "group": grp["group"].iloc[0],
            "reference": bool(grp["reference"].iloc[0]),
            "cross_ratio": grp["cross_ratio"].iloc[0],
            "model": grp["model"].iloc[0],
            "model_size": grp["model_size"].iloc[0],
            "n_jobs": len(grp),
            "n_complete": len(done),
            "seeds": " ".join(str(s) for s in done["seed"].tolist()),
        }
        for axis in axes:
            row[f"axis:{axis.key}"] = overrides.get(axis.key) if not row["reference"] else None
        values = done[metrics].astype(float)
        for m in metrics:
            row[f"{m}:mean"] = values[m].mean() if len(done) else np.nan
            row[f"{m}:std"] = values[m].std(ddof=1) if len(done) > 1 else np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    order = []
    for _, r in frame.iterrows():
        pos = [a.position(r[f"axis:{a.key}"]) if r.get(f"axis:{a.key}") in a.values else np.inf for a in axes]
        order.append((r["reference"], r["group"], *pos[:1], r["config"]))
    frame["_order"] = order
    return frame.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def mean_pm_std(mean: float, std: float, digits: int = 3) -> str:
    if not np.isfinite(mean):
        return "–"
    if not np.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"
