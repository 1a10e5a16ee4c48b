"""Multiple-comparison correction (Holm) and a paired randomisation test for one pair of score vectors.

The report's comparisons use the seed-aware t-tests of ``stat_tests``; the randomisation
test stays for callers comparing two single runs query by query.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def paired_randomisation_test(
    a: np.ndarray, b: np.ndarray, n_resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """(mean of a - b, two-sided p) under H0: within each pair, which score belongs to which system is random."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores need equal 1-d shapes, got {a.shape} and {b.shape}")
    if len(a) == 0:
        return np.nan, np.nan
    diff = a - b
    if not np.any(diff):
        return 0.0, 1.0  # every sign flip gives the same statistic
    res = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        vectorized=True,
        permutation_type="samples",
        n_resamples=n_resamples,
        alternative="two-sided",
        batch=max(1, 20_000_000 // len(a)),
        rng=np.random.default_rng(seed),
    )
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
