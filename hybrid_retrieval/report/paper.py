"""The hybrid-batch paper's table (arXiv 2408.10536, Table on XQuAD-R with XLM-R): X-X, X-Y, hybrid.

Rows: cross ratio 0 (X-X), 1 (X-Y), every other ratio (hybrid), the zero-shot backbone, and the
paper's own XLM-R numbers as a reference row (from DESIGN.md; a different backbone and training
budget, so a scale to read ours against, not a target).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybrid_retrieval.report.aggregate import mean_pm_std
from hybrid_retrieval.report.collect import RATIO_KEY
from hybrid_retrieval.report.headline import pretty_metric

PAPER_XLMR = {  # mAP mono / cross / multi and rank distance, XQuAD-R, XLM-R
    "X-X (paper, XLM-R)": {"mono/map": 0.792, "cross/map": 0.674, "multi/map": 0.547, "multi/rank_distance": 410.2},
    "X-Y (paper, XLM-R)": {"mono/map": 0.755, "cross/map": 0.700, "multi/map": 0.593, "multi/rank_distance": 295.4},
    "hybrid (paper, XLM-R)": {"mono/map": 0.798, "cross/map": 0.705, "multi/map": 0.593, "multi/rank_distance": 286.6},
}
PAPER_COLUMNS = ("mono/map", "cross/map", "multi/map", "multi/rank_distance")


def recipe_name(value: str) -> str:
    x = float(value)
    return "X-X" if x == 0 else "X-Y" if x == 1 else f"hybrid {value}"


def paper_table(
    agg: pd.DataFrame, table: pd.DataFrame, benchmark: str, extra: list[str], group: str = "all"
) -> tuple[list[str], list[list[str]]] | None:
    """(header, rows) when the sweep has cross ratios 0 and 1 in ``group``; else None.

    ``extra``: full metric keys of other benchmarks (their low-resource headline metrics).
    Cells: mean ± std over seeds, and for non-baseline rows the difference to the better of X-X
    and X-Y on that metric with its CI (from the comparison table; * : Holm-significant).
    """
    col = f"axis:{RATIO_KEY}"
    if col not in agg:
        return None
    rows_ = agg[(~agg["reference"].astype(bool)) & (agg["group"] == group) & agg[col].notna()]
    values = {float(v) for v in rows_[col]}
    if not {0.0, 1.0} <= values:
        return None
    keys = [f"{benchmark}/{m}" for m in PAPER_COLUMNS if f"{benchmark}/{m}:mean" in agg]
    keys += [k for k in extra if f"{k}:mean" in agg]
    header = ["recipe", "seeds"] + [
        pretty_metric(k)
        if k.startswith(f"{benchmark}/")
        else f"{k.split('/', 1)[0]} {pretty_metric(k.split('/', 1)[1])}"
        for k in keys
    ]
    out = []
    ends = rows_[rows_[col].map(lambda v: float(v) in (0.0, 1.0))]
    for _, r in rows_.sort_values(col, key=lambda s: s.map(float)).iterrows():
        cells = [recipe_name(r[col]), f"{r['n_complete']}/{r['n_jobs']}"]
        for key in keys:
            bench, m = key.split("/", 1)
            digits = 1 if m.endswith("rank_distance") else 3
            cell = mean_pm_std(r[f"{key}:mean"], r[f"{key}:std"], digits)
            if float(r[col]) not in (0.0, 1.0) and len(ends):
                lower = m.endswith("rank_distance")
                best = ends.loc[ends[f"{key}:mean"].idxmin() if lower else ends[f"{key}:mean"].idxmax()]
                cmp = table[
                    (table["benchmark"] == bench)
                    & (table["metric"] == m)
                    & (table["axis"] == RATIO_KEY)
                    & (table["config"] == r["config"])
                    & (table["baseline_config"] == best["config"])
                ]
                if len(cmp):
                    c = cmp.iloc[0]
                    cell += (
                        f" (Δ vs {recipe_name(best[col])} {c['diff']:+.3g} [{c['ci_low']:+.3g}, "
                        f"{c['ci_high']:+.3g}]{' *' if c['significant'] else ''})"
                    )
            cells.append(cell)
        out.append(cells)
    for _, r in agg[agg["reference"].astype(bool)].iterrows():
        out.append(
            [r["config"], "eval only"]
            + [mean_pm_std(r[f"{k}:mean"], np.nan, 1 if k.endswith("rank_distance") else 3) for k in keys]
        )
    if benchmark == "xquad_r":
        for name, vals in PAPER_XLMR.items():
            out.append(
                [name, "1 (no seeds)"]
                + [
                    f"{vals[k.split('/', 1)[1]]:g}"
                    if k.startswith(f"{benchmark}/") and k.split("/", 1)[1] in vals
                    else "–"
                    for k in keys
                ]
            )
    return header, out
