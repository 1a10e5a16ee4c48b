"""Is a cross ratio really better than pure-mono (0) or pure-cross (1) training? Paired tests over queries.

The unit is a question in one query language: its score is averaged over corpus
languages (cross) and over the configuration's seeds, then paired with the same
question under the baseline. The test is a two-sided paired randomisation
(sign-flip) test of the mean difference, via ``scipy.stats.permutation_test``;
p-values over the whole table are Holm-corrected.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

from hybrid_retrieval.job_status import COMPLETE

BASELINES = (0.0, 1.0)
DEFAULT_TESTS = (("mono", "map"), ("cross", "map"), ("multi", "map"), ("multi", "rank_distance"))


def paired_randomisation_test(a: np.ndarray, b: np.ndarray, n_resamples: int = 10_000,
                              seed: int = 0) -> tuple[float, float]:
    """(mean of a - b, two-sided p) under H0: within each pair, which score belongs to which system is random."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores need equal 1-d shapes, got {a.shape} and {b.shape}")
    if len(a) == 0:
        return np.nan, np.nan
    diff = a - b
    if not np.any(diff):
        return 0.0, 1.0  # every sign flip gives the same statistic
    res = stats.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis), vectorized=True,
                                 permutation_type="samples", n_resamples=n_resamples, alternative="two-sided",
                                 batch=max(1, 20_000_000 // len(a)), rng=np.random.default_rng(seed))
    return float(diff.mean()), float(res.pvalue)


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN).

    Written out because statsmodels is not a dependency and scipy only offers FDR control:
    sort ascending, multiply the i-th smallest by (m - i), make monotone, cap at 1.
    """
    p = np.asarray(pvalues, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    order = ok[np.argsort(p[ok], kind="stable")]
    out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


def unit_scores(per_query: pd.DataFrame, setting: str, metric: str) -> pd.Series:
    """Score per (query language, question id): mean over corpus languages (and over seeds, if stacked)."""
    sub = per_query[per_query["setting"] == setting]
    if sub.empty or metric not in sub:
        return pd.Series(dtype=float)
    return sub.groupby(["query_lang", "qid"])[metric].mean().dropna()


def significance_table(jobs: pd.DataFrame, load_per_query: Callable[[str, str], pd.DataFrame],
                       benchmarks: list[str], tests=DEFAULT_TESTS, n_resamples: int = 10_000,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Every ratio against the 0 and 1 baselines of its own group, for each (setting, metric) test.

    ``load_per_query(job_path, benchmark)`` returns a job's per-query frame. A pair is
    tested once (1 vs 0 appears only against baseline 0). Holm runs over all rows.
    """
    done = jobs[jobs["status"] == COMPLETE]
    rows = []
    for bench in benchmarks:
        cache: dict[str, pd.DataFrame] = {}

        def config_scores(config: str) -> pd.DataFrame:
            if config not in cache:
                frames = [load_per_query(p, bench) for p in done.loc[done["config"] == config, "path"]]
                frames = [f for f in frames if not f.empty]
                cache[config] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            return cache[config]

        for group, grp in done.groupby("group", sort=False):
            ratios = grp.groupby("config")["cross_ratio"].first()
            for base in BASELINES:
                base_cfgs = ratios[np.isclose(ratios, base)].index.tolist()
                if len(base_cfgs) != 1:
                    continue
                for config, ratio in ratios.items():
                    if np.isclose(ratio, base) or (base == 1.0 and np.isclose(ratio, 0.0)):
                        continue
                    for setting, metric in tests:
                        a_frame, b_frame = config_scores(config), config_scores(base_cfgs[0])
                        if a_frame.empty or b_frame.empty:
                            continue
                        a, b = unit_scores(a_frame, setting, metric), unit_scores(b_frame, setting, metric)
                        a, b = a.align(b, join="inner")
                        if a.empty:
                            continue
                        diff, p = paired_randomisation_test(a.to_numpy(), b.to_numpy(), n_resamples)
                        rows.append({"benchmark": bench, "setting": setting, "metric": metric, "group": group,
                                     "cross_ratio": ratio, "baseline": base, "config": config,
                                     "n_seeds": int((grp["config"] == config).sum()),
                                     "n_queries": len(a), "mean": a.mean(), "baseline_mean": b.mean(),
                                     "diff": diff, "p": p})
    table = pd.DataFrame(rows, columns=["benchmark", "setting", "metric", "group", "cross_ratio", "baseline",
                                        "config", "n_seeds", "n_queries", "mean", "baseline_mean", "diff", "p"])
    table["p_holm"] = holm(table["p"].to_numpy()) if len(table) else []
    table["significant"] = table["p_holm"] < alpha
    return table
