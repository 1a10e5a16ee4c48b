"""Mean and standard deviation over seeds, per configuration, and the headline metrics a paper reports."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from hybrid_retrieval.job_status import COMPLETE
from hybrid_retrieval.report.collect import metric_columns

HEADLINE = ("mono/map", "cross/map", "multi/map", "multi/rank_distance")
RECALL = re.compile(r"^multi/recall@(\d+)$")


def benchmarks(columns) -> list[str]:
    """Benchmark prefixes of the metric keys (``xquad_r`` in ``xquad_r/multi/map``)."""
    found = {c.split("/", 1)[0] for c in columns if c.count("/") >= 2}
    return sorted(found - {"train", "time"})


def headline_metrics(columns, benchmark: str) -> list[str]:
    """mono/cross/multi mAP, rank distance and every multi recall@k that the jobs report, in that order."""
    columns = set(columns)
    keys = [f"{benchmark}/{h}" for h in HEADLINE]
    recalls = sorted((int(m.group(1)), c) for c in columns if c.startswith(f"{benchmark}/")
                     for m in [RECALL.match(c[len(benchmark) + 1:])] if m)
    return [k for k in keys + [c for _, c in recalls] if k in columns]


def aggregate(jobs: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: counts, and ``<metric>:mean`` / ``<metric>:std`` over its complete jobs.

    std is the sample standard deviation (ddof=1); with a single seed it is NaN, not 0,
    so a table never shows an error bar that was not measured.
    """
    metrics = metric_columns(jobs)
    rows = []
    for config, grp in jobs.groupby("config", sort=False):
        done = grp[grp["status"] == COMPLETE]
        row = {"config": config, "group": grp["group"].iloc[0], "cross_ratio": grp["cross_ratio"].iloc[0],
               "model": grp["model"].iloc[0], "n_jobs": len(grp), "n_complete": len(done),
               "seeds": " ".join(str(s) for s in done["seed"].tolist())}
        values = done[metrics].astype(float)
        for m in metrics:
            row[f"{m}:mean"] = values[m].mean() if len(done) else np.nan
            row[f"{m}:std"] = values[m].std(ddof=1) if len(done) > 1 else np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.sort_values(["group", "cross_ratio", "config"], kind="stable", na_position="last").reset_index(drop=True)


def mean_pm_std(mean: float, std: float, digits: int = 3) -> str:
    if not np.isfinite(mean):
        return "–"
    if not np.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def pretty_metric(key: str) -> str:
    """``xquad_r/multi/map`` -> ``multi mAP``; for table headers and axis labels."""
    parts = key.split("/")[1:]
    names = {"map": "mAP", "rank_distance": "rank distance", "mrr@10": "MRR@10", "ndcg@10": "nDCG@10"}
    return " ".join(names.get(p, p.replace("recall@", "R@")) for p in parts)
