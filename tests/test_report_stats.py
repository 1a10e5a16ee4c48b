"""The seed-aware tests: calibration on synthetic per-question scores, and their exact arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hybrid_retrieval.report.stat_tests import compare, model_t_test, pooled_seed_variance, recipe_t_test, seeds_needed

REPS, SEEDS, QUESTIONS, LANGS = 100, 3, 1000, 4
SEED_SHIFT_SD, QUERY_NOISE_SD = 0.01, 0.15  # roughly the measured mAP seed sd; per-query seed noise


def synthetic_sweep(effect_in_seed_sds: float, rng) -> tuple[np.ndarray, float]:
    """(REPS, 3 configurations, SEEDS, QUESTIONS) cluster scores and the seed sd of a configuration's score.

    A question is equally hard in its 4 parallel languages (up to noise); each seed shifts the whole
    model and re-draws every query's noise. Configurations 0 and 1 differ only by seeds; configuration
    2 is shifted by ``effect_in_seed_sds`` seed standard deviations.
    """
    hardness = rng.uniform(0.2, 0.8, (REPS, 1, 1, QUESTIONS, 1)) + rng.normal(0, 0.05, (REPS, 1, 1, QUESTIONS, LANGS))
    shift = rng.normal(0, SEED_SHIFT_SD, (REPS, 3, SEEDS, 1, 1))
    noise = rng.normal(0, QUERY_NOISE_SD, (REPS, 3, SEEDS, QUESTIONS, LANGS))
    seed_sd = np.sqrt(SEED_SHIFT_SD**2 + QUERY_NOISE_SD**2 / (QUESTIONS * LANGS))
    scores = (hardness + shift + noise).astype(np.float32)
    scores[:, 2] += effect_in_seed_sds * seed_sd
    return scores.mean(-1, dtype=np.float64), seed_sd  # a cluster: one question in all its languages


@pytest.fixture(scope="module")
def rejections() -> dict[str, float]:
    clusters, _ = synthetic_sweep(3.0, np.random.default_rng(2024))
    null, power = [], []
    for rep in clusters:
        pooled = pooled_seed_variance(rep)
        null.append(recipe_t_test(rep[1], rep[0], seed_var=pooled).p < 0.05)
        power.append(recipe_t_test(rep[2], rep[0], seed_var=pooled).p < 0.05)
    return {"null": float(np.mean(null)), "power": float(np.mean(power))}


def test_seed_noise_alone_is_rejected_at_most_10_percent(rejections):
    assert rejections["null"] <= 0.10


def test_three_seed_sd_effect_is_found_at_least_80_percent(rejections):
    assert rejections["power"] >= 0.80


def test_the_question_only_test_is_fooled_by_seed_noise():
    """Why the recipe test exists: questions-only, the same null data are 'significant' most of the time."""
    clusters, _ = synthetic_sweep(0.0, np.random.default_rng(7))
    assert np.mean([model_t_test(rep[1], rep[0]).p < 0.05 for rep in clusters[:30]]) > 0.5


def test_welch_part_matches_scipy_when_question_part_vanishes():
    """Scores that vary only by seed: the recipe test is Welch's t-test on the per-seed means."""
    a = np.array([0.50, 0.52, 0.55])[:, None] + np.zeros((3, 20))
    b = np.array([0.45, 0.49])[:, None] + np.zeros((2, 20))
    ours = recipe_t_test(a, b)
    ref = stats.ttest_ind(a.mean(1), b.mean(1), equal_var=False)
    assert ours.p == pytest.approx(ref.pvalue, rel=1e-9) and ours.kind == "recipes"
    assert ours.diff == pytest.approx(a.mean() - b.mean())
    assert ours.ci_low < ours.diff < ours.ci_high


def test_model_test_is_the_paired_t_test_over_clusters():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(size=(1, 50)), rng.uniform(size=(1, 50))
    ours = model_t_test(a, b)
    assert ours.p == pytest.approx(stats.ttest_rel(a[0], b[0]).pvalue, rel=1e-9) and ours.kind == "models"


def test_ci_and_p_agree():
    rng = np.random.default_rng(5)
    for _ in range(20):
        a, b = rng.normal(0.5, 0.1, (3, 40)), rng.normal(0.5, 0.1, (3, 40)) + rng.normal(0, 0.05)
        r = recipe_t_test(a, b)
        assert (r.p < 0.05) == (r.ci_low > 0 or r.ci_high < 0)


def test_compare_falls_back_to_models_with_one_seed_and_uses_seed_free_baseline():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(size=(1, 30)), rng.uniform(size=(1, 30))
    assert compare(a, b).kind == "models"
    assert compare(rng.uniform(size=(3, 30)), b, b_fixed=True).kind == "recipes"  # b: deterministic zero-shot
    assert compare(a, b, seed_var=(0.01, 4)).kind == "recipes"


def test_identical_and_malformed_inputs():
    x = np.tile(np.linspace(0, 1, 10), (2, 1))
    r = recipe_t_test(x, x.copy())
    assert r.diff == 0 and r.p == 1.0
    with pytest.raises(ValueError, match="same clusters"):
        recipe_t_test(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=">= 2 seeds"):
        recipe_t_test(np.zeros((1, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        model_t_test(np.array([[np.nan, 1.0]]), np.zeros((1, 2)))


def test_pooled_seed_variance_and_seeds_needed():
    var, df = pooled_seed_variance([np.array([[1.0], [3.0]]), np.array([[0.0], [2.0], [4.0]]), np.array([[9.0]])])
    assert (var, df) == (pytest.approx((2 + 8) / 3), 3)
    assert seeds_needed(1.0, 3.0) == 4  # 3 seeds give a two-sample t-test 78% power at 3 sd
    assert seeds_needed(1.0, 1.0) > seeds_needed(1.0, 2.0)
