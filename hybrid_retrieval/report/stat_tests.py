"""Tests that compare two configurations from per-question scores, seeds and question clusters kept apart.

Every test has one signature, ``test(a, b, *, alpha=0.05, b_fixed=False, seed_var=None) -> TestResult``:
``a`` and ``b`` are (seeds x question clusters) arrays of scores, columns aligned (the same
question cluster in both), a cluster being one question with all its parallel translations;
``b_fixed`` says ``b`` has no seed variance (an untrained, deterministic zero-shot model);
``seed_var`` is the seed variance pooled over a sweep's configurations (``pooled_seed_variance``).

``recipe_t_test`` asks "is recipe A better than recipe B?": its variance has a seed part
(how far the mean over a configuration's seeds moves when its seeds are drawn again) and a
question part (how far the mean moves when the questions are drawn again), from a crossed
random-effects model (seeds x question clusters) by the method of moments, with
Satterthwaite degrees of freedom (Reimers & Gurevych 2017; Miller 2024 for clustered
questions; docs/sweeps.md). The seed variance is pooled over the configurations of a sweep when
given (one-way ANOVA's pooled error, as in Dunnett's comparisons with a control): with three
seeds per configuration, a two-configuration Welch test has 4 or fewer degrees of freedom and
detects a shift of 3 seed standard deviations at most 78% of the time; pooled over three
configurations it has 6 and 86%. ``model_t_test`` asks only "is this trained model better than that
one on these questions?": a paired t-test over question clusters, all a single seed allows.
The CI and the p-value come from one t statistic, so "CI excludes 0" and "p < alpha" agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class TestResult:
    diff: float  # mean(a) - mean(b): mean over seeds of the mean over question clusters
    ci_low: float
    ci_high: float
    p: float  # two-sided
    se: float
    df: float
    n_seeds_a: int
    n_seeds_b: int
    n_clusters: int
    kind: str  # "recipes" (seed + question variance) or "models" (question variance only)

    def as_dict(self) -> dict:
        return asdict(self)


def _checked(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.atleast_2d(np.asarray(a, float)), np.atleast_2d(np.asarray(b, float))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"scores need shape (seeds, clusters) with the same clusters, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores must be finite: drop clusters missing in either configuration first")
    return a, b


def _result(diff: float, se: float, df: float, alpha: float, a, b, kind: str) -> TestResult:
    if se > 0 and np.isfinite(df):
        t = stats.t(df)
        half = t.ppf(1 - alpha / 2) * se
        p = float(2 * t.sf(abs(diff) / se))
    else:  # no variance at all: identical scores give p = 1, a constant shift p = 0
        half, p = 0.0, (1.0 if diff == 0 else 0.0)
    return TestResult(
        float(diff),
        float(diff - half),
        float(diff + half),
        p,
        float(se),
        float(df),
        a.shape[0],
        b.shape[0],
        a.shape[1],
        kind,
    )


def _residual_ms(x: np.ndarray) -> float:
    """Residual mean square of the two-way (seed x cluster) layout: the per-question seed noise."""
    n, q = x.shape
    resid = x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + x.mean()
    return float((resid**2).sum() / ((n - 1) * (q - 1)))


def pooled_seed_variance(configs) -> tuple[float, int]:
    """(variance of one seed's mean score, its df), pooled over configurations with >= 2 seeds.

    ``configs``: (seeds x clusters) arrays, one per configuration; the sum of squares of
    per-seed means around each configuration's own mean, over the summed n - 1.
    """
    ss, df = 0.0, 0
    for x in configs:
        means = np.atleast_2d(np.asarray(x, float)).mean(1)
        if len(means) >= 2:
            ss += float(((means - means.mean()) ** 2).sum())
            df += len(means) - 1
    return (ss / df if df else np.nan), df


def recipe_t_test(
    a, b, *, alpha: float = 0.05, b_fixed: bool = False, seed_var: tuple[float, int] | None = None
) -> TestResult:
    """Two configurations (recipes), each trained with >= 2 seeds; variance from seeds and question clusters.

    Var(diff) = Var_seeds(per-seed means of a) / n_a + (the same for b)
              + [Var_clusters(seed-averaged a - b) - MSres_a / n_a - MSres_b / n_b] / Q,
    where the bracket is the config x question interaction: the per-question seed noise
    (MSres) is already in the seed part and is taken out of the question part, so nothing
    is counted twice; a negative bracket counts as 0. With ``seed_var`` = (s2, df) the seed
    part is s2 * (1/n_a + 1/n_b) instead (equal seed variance assumed). df by Satterthwaite.
    """
    a, b = _checked(a, b)
    n_a, n_b, q = a.shape[0], b.shape[0], a.shape[1]
    pooled = seed_var is not None and seed_var[1] > 0 and np.isfinite(seed_var[0])
    if not pooled and (n_a < 2 or (n_b < 2 and not b_fixed)):
        raise ValueError(f"recipe_t_test needs >= 2 seeds per configuration, got {n_a} and {n_b}: use model_t_test")
    noise = _residual_ms(a) / n_a if n_a > 1 else 0.0
    if not b_fixed and n_b > 1:
        noise += _residual_ms(b) / n_b
    if pooled:
        parts, dfs = [seed_var[0] * (1 / n_a + (0 if b_fixed else 1 / n_b))], [seed_var[1]]
    else:
        parts, dfs = [a.mean(1).var(ddof=1) / n_a], [n_a - 1]
        if not b_fixed:
            parts.append(b.mean(1).var(ddof=1) / n_b)
            dfs.append(n_b - 1)
    delta = a.mean(0) - b.mean(0)
    parts.append(max(0.0, delta.var(ddof=1) - noise) / q)
    dfs.append(q - 1)
    parts, dfs = np.array(parts), np.array(dfs, float)
    var = parts.sum()
    df = var**2 / np.sum(parts**2 / dfs) if var > 0 else np.inf
    return _result(delta.mean(), np.sqrt(var), df, alpha, a, b, "recipes")


def model_t_test(
    a, b, *, alpha: float = 0.05, b_fixed: bool = False, seed_var: tuple[float, int] | None = None
) -> TestResult:
    """Paired t-test over question clusters of seed-averaged scores: two trained models, not two recipes.

    Seed variance is not estimated (one seed cannot show it), so a small p here says the two
    models differ on these questions, not that another seed would reproduce the difference.
    ``b_fixed`` and ``seed_var`` change nothing here; they are part of the shared signature.
    """
    a, b = _checked(a, b)
    delta = a.mean(0) - b.mean(0)
    q = len(delta)
    se = delta.std(ddof=1) / np.sqrt(q) if q > 1 else np.nan
    return _result(delta.mean(), se, q - 1, alpha, a, b, "models")


def compare(
    a, b, *, alpha: float = 0.05, b_fixed: bool = False, seed_var: tuple[float, int] | None = None
) -> TestResult:
    """The recipe test when the seed variance is known (pooled over the sweep, or each side has >= 2
    seeds; b_fixed: b needs none), else the model test."""
    a, b = _checked(a, b)
    pooled = seed_var is not None and seed_var[1] > 0 and np.isfinite(seed_var[0])
    enough = pooled or (a.shape[0] >= 2 and (b_fixed or b.shape[0] >= 2))
    test = recipe_t_test if enough else model_t_test
    return test(a, b, alpha=alpha, b_fixed=b_fixed, seed_var=seed_var)


def seeds_needed(seed_sd: float, effect: float, alpha: float = 0.05, power: float = 0.8, max_seeds: int = 50) -> int:
    """Seeds per configuration for a two-sided t-test over seeds to detect ``effect`` with ``power``.

    From the noncentral t distribution (scipy), so the small-sample penalty of few seeds is included.
    """
    if not (seed_sd > 0 and effect != 0):
        return 2
    for n in range(2, max_seeds + 1):
        df, ncp = 2 * n - 2, abs(effect) / (seed_sd * np.sqrt(2 / n))
        crit = stats.t.ppf(1 - alpha / 2, df)
        if stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp) >= power:
            return n
    return max_seeds
