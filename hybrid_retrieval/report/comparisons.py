"""The comparison table: every configuration against the baselines of each swept axis and against the
zero-shot backbone, for each headline metric, with seed-aware tests (stat_tests) and Holm over the table.

A configuration is compared along an axis only with configurations that agree on every other
axis (its ``group`` for that axis). Scores are per question cluster: a question with all its
parallel translations (LAReQA: the shared qid) or, for other benchmarks, one query.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from hybrid_retrieval.job.job_status import COMPLETE
from hybrid_retrieval.report.axes import Axis
from hybrid_retrieval.report.headline import BenchmarkSpec, parse_entry
from hybrid_retrieval.report.significance import holm
from hybrid_retrieval.report.stat_tests import compare, pooled_seed_variance

COLUMNS = [
    "benchmark",
    "metric",
    "axis",
    "group",
    "config",
    "baseline_config",
    "value",
    "baseline",
    "kind",
    "n_seeds",
    "n_baseline_seeds",
    "n_clusters",
    "mean",
    "baseline_mean",
    "diff",
    "ci_low",
    "ci_high",
    "p",
    "p_holm",
    "significant",
    "lower_is_better",
    "better",
]


def cluster_scores(per_query: pd.DataFrame, spec: BenchmarkSpec, entry: str) -> pd.Series:
    """One job's score per question cluster for a headline entry (setting/metric[/group])."""
    setting, metric, group = parse_entry(entry)
    if per_query.empty or metric not in per_query:
        return pd.Series(dtype=float)
    sub = per_query[per_query["setting"] == setting]
    if group == "low_resource":
        sub = sub[sub["query_lang"].isin(spec.low_resource)]
    elif group is not None:
        sub = sub[sub["query_lang"] == group]
    keys = sub["qid"] if spec.parallel else sub["query_lang"] + ":" + sub["qid"]
    return sub[metric].groupby(keys).mean().dropna()


def _matrix(series: list[pd.Series]) -> pd.DataFrame:
    """Seeds x clusters, only the clusters every seed scored."""
    return pd.concat(series, axis=1).T.dropna(axis=1) if series else pd.DataFrame()


def comparison_table(
    jobs: pd.DataFrame,
    axes: list[Axis],
    specs: dict[str, BenchmarkSpec],
    load_per_query: Callable[[str, str], pd.DataFrame],
    alpha: float = 0.05,
) -> pd.DataFrame:
    done = jobs[jobs["status"] == COMPLETE]
    trained, refs = done[~done["reference"].astype(bool)], done[done["reference"].astype(bool)]
    rows = []
    for spec in specs.values():
        for entry in spec.headline:
            scores: dict[str, pd.DataFrame] = {}

            # called within this iteration only: the defaults bind this entry's cache, spec and entry
            def config_matrix(frame: pd.DataFrame, config: str, scores=scores, spec=spec, entry=entry) -> pd.DataFrame:
                if config not in scores:
                    paths = frame.loc[frame["config"] == config, "path"]
                    series = [
                        s
                        for s in (cluster_scores(load_per_query(p, spec.name), spec, entry) for p in paths)
                        if not s.empty
                    ]
                    scores[config] = _matrix(series)
                return scores[config]

            lower = spec.lower(entry)
            for axis in axes:
                others = [a.key for a in axes if a.key != axis.key]
                labels = trained["_override_map"].map(
                    lambda m, others=others: " ".join(f"{k}={m.get(k)}" for k in others) or "all"
                )
                for group, grp in trained.groupby(labels, sort=False):
                    by_value = {m[axis.key]: c for m, c in zip(grp["_override_map"], grp["config"]) if axis.key in m}
                    pooled = pooled_seed_variance(
                        [
                            config_matrix(grp, c).to_numpy()
                            for c in set(by_value.values())
                            if not config_matrix(grp, c).empty
                        ]
                    )
                    tested = set()
                    for base in axis.baselines:
                        if base not in by_value:
                            continue
                        for value, config in by_value.items():
                            if value == base or frozenset((value, base)) in tested:
                                continue
                            tested.add(frozenset((value, base)))
                            row = _row(
                                config_matrix(grp, config), config_matrix(grp, by_value[base]), alpha, pooled, False
                            )
                            if row:
                                rows.append(
                                    {
                                        "benchmark": spec.name,
                                        "metric": entry,
                                        "axis": axis.key,
                                        "group": group,
                                        "config": config,
                                        "baseline_config": by_value[base],
                                        "value": value,
                                        "baseline": base,
                                        "lower_is_better": lower,
                                        **row,
                                    }
                                )
            # every trained configuration against its zero-shot backbone
            for config in dict.fromkeys(trained["config"]):
                model = trained.loc[trained["config"] == config, "_override_map"].iloc[0].get("model")
                name = trained.loc[trained["config"] == config, "model"].iloc[0]
                ref = refs[
                    [
                        (m.get("model") == model) if model else (n == name)
                        for m, n in zip(refs["_override_map"], refs["model"])
                    ]
                ]
                if ref.empty:
                    continue
                ref_config = ref["config"].iloc[0]
                same = trained[trained["model"] == name]  # seed variance pooled over this backbone's recipes
                group_pool = pooled_seed_variance(
                    [
                        config_matrix(trained, c).to_numpy()
                        for c in dict.fromkeys(same["config"])
                        if not config_matrix(trained, c).empty
                    ]
                )
                row = _row(
                    config_matrix(trained, config), config_matrix(ref, ref_config).iloc[:1], alpha, group_pool, True
                )
                if row:
                    rows.append(
                        {
                            "benchmark": spec.name,
                            "metric": entry,
                            "axis": "zero-shot",
                            "group": "",
                            "config": config,
                            "baseline_config": ref_config,
                            "value": config,
                            "baseline": ref_config,
                            "lower_is_better": lower,
                            **row,
                        }
                    )
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["p_holm"] = holm(table["p"].to_numpy()) if len(table) else []
    table["significant"] = table["p_holm"] < alpha
    sign = np.where(table["lower_is_better"].astype(bool), -1.0, 1.0)
    table["better"] = table["significant"] & (sign * table["diff"] > 0)
    return table


def _row(a: pd.DataFrame, b: pd.DataFrame, alpha: float, pooled, b_fixed: bool) -> dict | None:
    if a.empty or b.empty:
        return None
    common = a.columns.intersection(b.columns)
    if len(common) < 2:
        return None
    res = compare(a[common].to_numpy(), b[common].to_numpy(), alpha=alpha, b_fixed=b_fixed, seed_var=pooled)
    return {
        "kind": res.kind,
        "n_seeds": res.n_seeds_a,
        "n_baseline_seeds": res.n_seeds_b,
        "n_clusters": res.n_clusters,
        "mean": float(a[common].to_numpy().mean()),
        "baseline_mean": float(b[common].to_numpy().mean()),
        "diff": res.diff,
        "ci_low": res.ci_low,
        "ci_high": res.ci_high,
        "p": res.p,
    }
