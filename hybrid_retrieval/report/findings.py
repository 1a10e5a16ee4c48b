"""The findings in words, generated from the comparison table: no claim beyond what its numbers show.

Each sentence carries its effect size (difference, and in seed standard deviations when seeds
allow), its 95% CI and its Holm-corrected p.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybrid_retrieval.report.axes import Axis
from hybrid_retrieval.report.headline import BenchmarkSpec, pretty_metric

LOW_RESOURCE_HINTS = ("recall@10", "ndcg@10")


def seed_sd(agg: pd.DataFrame, key: str) -> float:
    """Seed standard deviation pooled over the trained configurations with >= 2 seeds (NaN if none)."""
    sub = agg[~agg["reference"].astype(bool) & (agg["n_complete"] >= 2)]
    if f"{key}:std" not in sub or sub.empty:
        return np.nan
    w = sub["n_complete"] - 1
    return float(np.sqrt((w * sub[f"{key}:std"] ** 2).sum() / w.sum()))


def _effect(row: pd.Series, sd: float, alpha: float) -> str:
    size = f", {abs(row['diff']) / sd:.1f} seed sd" if np.isfinite(sd) and sd > 0 else ""
    return (
        f"{row['diff']:+.4g} ({100 * (1 - alpha):.0f}% CI {row['ci_low']:+.4g} to {row['ci_high']:+.4g}{size}; "
        f"p_holm {row['p_holm']:.2g})"
    )


def seed_sentence(agg: pd.DataFrame, seeds_for: int = 3) -> str:
    trained = agg[~agg["reference"].astype(bool) & (agg["n_complete"] > 0)]
    if trained.empty:
        return "No trained configuration completed."
    most = int(trained["n_complete"].max())
    if most <= 1:
        return (
            "**One seed per configuration: every test below compares two trained models, not two recipes.** "
            "A second seed of the same recipe can differ as much as two recipes do (the default job's multi mAP "
            f"moved by 0.010 sd between seeds), so none of these differences is a finding about the recipes. "
            f"Add {seeds_for - 1} more seeds (`seed=1,2,3`: {seeds_for} per configuration); with three "
            "configurations of three seeds each, a difference of 3 seed standard deviations is found 86% of the "
            "time at alpha 0.05."
        )
    least = int(trained["n_complete"].min())
    return (
        f"{least}–{most} seeds per configuration: tests use seed and question variance (recipe t-test, seed "
        "variance pooled over the configurations compared)."
        if least != most
        else f"{most} seeds per configuration: tests use seed and question variance (recipe t-test, seed variance "
        "pooled over the configurations compared)."
    )


def findings(
    table: pd.DataFrame, agg: pd.DataFrame, axes: list[Axis], specs: dict[str, BenchmarkSpec], alpha: float = 0.05
) -> list[str]:
    """Markdown bullet points."""
    out = [seed_sentence(agg)]
    if table.empty:
        return out + ["No comparisons could be made (no pair of completed configurations with per-query scores)."]
    for spec in specs.values():
        for entry in spec.headline:
            key, name = spec.key(entry), f"{spec.name} {pretty_metric(entry)}"
            rows = table[(table["benchmark"] == spec.name) & (table["metric"] == entry)]
            sd = seed_sd(agg, key)
            for axis in axes:
                along = rows[rows["axis"] == axis.key]
                if along.empty:
                    continue
                if axis.numeric and len(axis.baselines) == 2:
                    out.append(_beats_both_ends(along, axis, name, sd, alpha))
                if "low_resource" in entry or any(h in entry for h in LOW_RESOURCE_HINTS):
                    out.append(_best_value(along, agg, axis, key, name, sd, alpha, spec.lower(entry)))
            ref = rows[rows["axis"] == "zero-shot"]
            if len(ref):
                out.append(_versus_zero_shot(ref, name, alpha))
    return [s for s in out if s]


def _beats_both_ends(rows: pd.DataFrame, axis: Axis, name: str, sd: float, alpha: float) -> str:
    lo, hi = axis.baselines
    parts = []
    for group, grp in rows.groupby("group", sort=False):
        mids = [v for v in axis.values if v not in (lo, hi)]
        winners, closest = [], None
        for v in mids:
            a = grp[(grp["value"] == v) & (grp["baseline"] == lo)]
            b = grp[(grp["value"] == v) & (grp["baseline"] == hi)]
            if a.empty or b.empty:
                continue
            a, b = a.iloc[0], b.iloc[0]
            if a["better"] and b["better"]:
                winners.append(f"{axis.key}={v}: vs {lo} {_effect(a, sd, alpha)}, vs {hi} {_effect(b, sd, alpha)}")
            closest = closest or (v, a, b)
        where = "" if group == "all" else f" ({group})"
        models = (grp["kind"] == "models").any()  # one seed: trained models compared, not recipes
        if winners and models:
            parts.append(
                f"{name}{where}: " + "; ".join(winners) + f" — this one trained model beats the two end "
                f"models ({lo} and {hi}) beyond question noise; with one seed that says nothing yet about "
                f"the recipes."
            )
        elif winners:
            parts.append(
                f"{name}{where}: " + "; ".join(winners) + f" — beats both ends ({lo} and {hi}) beyond seed "
                f"and question noise."
            )
        elif closest:
            v, a, b = closest
            noise = "question noise (one seed)" if models else "noise"
            parts.append(
                f"{name}{where}: no intermediate {axis.key} beats both {lo} and {hi} beyond {noise} "
                f"(e.g. {v}: vs {lo} {_effect(a, sd, alpha)}, vs {hi} {_effect(b, sd, alpha)})."
            )
    return " ".join(parts)


def _best_value(
    rows: pd.DataFrame, agg: pd.DataFrame, axis: Axis, key: str, name: str, sd: float, alpha: float, lower: bool
) -> str:
    col = f"axis:{axis.key}"
    cand = agg[~agg["reference"].astype(bool) & agg[col].isin(axis.values) & agg[f"{key}:mean"].notna()]
    if cand.empty:
        return ""
    best = cand.loc[cand[f"{key}:mean"].idxmin() if lower else cand[f"{key}:mean"].idxmax()]
    vs = rows[(rows["config"] == best["config"]) | (rows["baseline_config"] == best["config"])]
    text = [f"Best {axis.key} for {name}: {best[col]} ({best[f'{key}:mean']:.4g})"]
    for _, r in vs.iterrows():
        other = r["baseline"] if r["config"] == best["config"] else r["value"]
        sign = 1 if r["config"] == best["config"] else -1
        flipped = r.copy()
        flipped["diff"], flipped["ci_low"], flipped["ci_high"] = (
            sign * r["diff"],
            *sorted((sign * r["ci_low"], sign * r["ci_high"])),
        )
        noise = "larger than seed noise" if r["significant"] else "not distinguishable from seed and question noise"
        if r["kind"] == "models":
            noise = "significant between these two trained models" if r["significant"] else "not significant"
        text.append(f"vs {other}: {_effect(flipped, sd, alpha)}, {noise}")
    return "; ".join(text) + "."


def _versus_zero_shot(rows: pd.DataFrame, name: str, alpha: float) -> str:
    lower = bool(rows["lower_is_better"].iloc[0])
    better = rows[rows["better"]]
    worse = rows[rows["significant"] & ~rows["better"]]
    base = rows["baseline_config"].iloc[0] if rows["baseline_config"].nunique() == 1 else "its zero-shot backbone"
    parts = [f"{name} against {base}:"]
    if len(better):
        parts.append(f"better for {', '.join(better['config'])}")
    if len(worse):
        parts.append(
            f"**worse** for {', '.join(worse['config'])} (fine-tuning hurt; e.g. {worse.iloc[0]['config']}: "
            f"{_effect(worse.iloc[0], np.nan, alpha)})"
        )
    same = rows[~rows["significant"]]
    if len(same):
        parts.append(f"no significant difference for {', '.join(same['config'])}")
    return " ".join(parts[:1]) + " " + "; ".join(parts[1:]) + f" ({'lower' if lower else 'higher'} is better)."
