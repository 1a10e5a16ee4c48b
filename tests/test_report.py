"""The sweep report on hand-made job dirs: aggregation, significance, Holm, files, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hybrid_retrieval.job.job_status import write_status
from hybrid_retrieval.report.aggregate import aggregate, headline_metrics
from hybrid_retrieval.report.build import build_report
from hybrid_retrieval.report.cli import main as report_main
from hybrid_retrieval.report.collect import load_jobs
from hybrid_retrieval.report.significance import holm, paired_randomisation_test

LANGS = ("de", "en", "es")
N_QUESTIONS = 40


def make_job(
    sweep: Path,
    num: int,
    ratio: float,
    seed: int,
    metrics: dict | None,
    status: str = "complete",
    shift: float = 0.0,
    extra_overrides: tuple[str, ...] = (),
) -> Path:
    """A job dir as run.py + job/run_job.py leave it: .hydra files, status.json, metrics.json, per-query scores."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    overrides = [
        "experiment=smoke",
        f"paths.data_dir=/data/{num}",
        f"data.cross_ratio={ratio:g}",
        f"seed={seed}",
        *extra_overrides,
    ]
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    cfg = {
        "seed": seed,
        "data": {"cross_ratio": ratio, "languages": list(LANGS)},
        "model": {"name": "tiny", "size": 153856},
        "logger": {"_target_": "pytorch_lightning.loggers.CSVLogger"},
        # a job dir from before benchmarks.json: the report reads its benchmark from this node (report/legacy.py)
        "eval": {
            "benchmarks": {
                "xquad_r": {"_target_": "hybrid_retrieval.eval.benchmarks.lareqa.load_lareqa", "name": "xquad_r"}
            }
        },
    }
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
    (job / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"sweep": {"dir": str(sweep)}}}))
    if status == "complete":
        write_status(job, "complete")
        (job / "metrics.json").write_text(json.dumps(metrics))
        rng = np.random.default_rng(1000 * seed + num)
        rows = []
        for setting, pairs in (
            ("mono", [(x, x) for x in LANGS]),
            ("cross", [(x, y) for x in LANGS for y in LANGS if x != y]),
            ("multi", [(x, "multi") for x in LANGS]),
        ):
            for x, y in pairs:
                for q in range(N_QUESTIONS):
                    base = 0.3 + 0.4 * ((q * 7919) % 97) / 97  # the same question is equally hard everywhere
                    rows.append(
                        {
                            "benchmark": "xquad_r",
                            "setting": setting,
                            "query_lang": x,
                            "corpus_lang": y,
                            "qid": f"q{q}",
                            "map": min(1.0, base + shift + 0.01 * rng.standard_normal()),
                            "recall@10": 1.0,
                            "rank_distance": 10.0 if setting == "multi" else np.nan,
                        }
                    )
        pd.DataFrame(rows).to_csv(job / "per_query_xquad_r.csv.gz", index=False)
    else:
        write_status(job, status, error_type="FloatingPointError", error_message="non-finite training loss (nan)")
    return job


def metrics_for(mono: float, cross: float) -> dict:
    return {
        "xquad_r/mono/map": mono,
        "xquad_r/cross/map": cross,
        "xquad_r/multi/map": (mono + cross) / 2,
        "xquad_r/multi/rank_distance": 10.0,
        "xquad_r/multi/recall@10": 0.9,
        "xquad_r/multi/recall@1": 0.5,
        "xquad_r/mono/map/de": mono,
        "train/final_loss": 1.0,
    }


@pytest.fixture
def sweep(tmp_path) -> Path:
    """cross_ratio 0 / 0.5 / 1 x seeds 1, 2; one job at 0.5 failed. 0.5 is shifted +0.2 over 0; 1 equals 0."""
    root = tmp_path / "multirun"
    num = 0
    for ratio, shift, monos in ((0.0, 0.0, (0.50, 0.54)), (0.5, 0.2, (0.60, 0.70)), (1.0, 0.0, (0.40, 0.44))):
        for seed, mono in zip((1, 2), monos):
            make_job(root, num, ratio, seed, metrics_for(mono, mono / 2), shift=shift)
            num += 1
    make_job(root, num, 0.5, 3, None, status="failed")
    return root


def test_identical_scores_give_p_one():
    scores = np.linspace(0, 1, 50)
    diff, p = paired_randomisation_test(scores, scores.copy())
    assert diff == 0 and p == 1.0


def test_clear_shift_gives_small_p_and_noise_does_not():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.8, 200)
    diff, p = paired_randomisation_test(base + 0.05 + 0.01 * rng.standard_normal(200), base, n_resamples=2000)
    assert diff == pytest.approx(0.05, abs=0.005) and p < 0.001
    _, p_null = paired_randomisation_test(base + 0.01 * rng.standard_normal(200), base, n_resamples=2000)
    assert p_null > 0.05


def test_paired_test_rejects_unpaired_shapes():
    with pytest.raises(ValueError, match="equal"):
        paired_randomisation_test(np.zeros(3), np.zeros(4))


def test_holm_on_known_pvalues():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone: .02 .03 .06 .06
    adjusted = holm([0.01, 0.04, 0.03, 0.005, np.nan])
    np.testing.assert_allclose(adjusted[:4], [0.03, 0.06, 0.06, 0.02])
    assert np.isnan(adjusted[4])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]


def test_jobs_table_has_status_overrides_and_labels(sweep):
    jobs = load_jobs([sweep])
    assert len(jobs) == 7
    assert jobs["status"].tolist() == ["complete"] * 6 + ["failed"]
    assert "FloatingPointError" in jobs["error"].iloc[6]
    # the configuration is what varies between jobs, seed and paths left out
    assert jobs["config"].tolist()[:2] == ["data.cross_ratio=0"] * 2
    assert set(jobs["group"]) == {"all"} and not jobs["reference"].any()
    assert jobs["overrides"].iloc[0].startswith("experiment=smoke paths.data_dir=/data/0")


def test_mean_and_std_over_seeds_per_configuration(sweep):
    agg = aggregate(load_jobs([sweep])).set_index("config")
    half = agg.loc["data.cross_ratio=0.5"]
    assert (half["n_jobs"], half["n_complete"]) == (3, 2)  # the failed seed is counted, not averaged
    assert half["xquad_r/mono/map:mean"] == pytest.approx(0.65)
    assert half["xquad_r/mono/map:std"] == pytest.approx(np.std([0.6, 0.7], ddof=1))
    assert list(agg["cross_ratio"]) == [0.0, 0.5, 1.0]


def test_single_seed_has_no_std(tmp_path):
    make_job(tmp_path, 0, 0.0, 1, metrics_for(0.5, 0.2))
    make_job(tmp_path, 1, 1.0, 1, metrics_for(0.4, 0.3))
    agg = aggregate(load_jobs([tmp_path]))
    assert agg["xquad_r/mono/map:std"].isna().all()


def test_headline_metrics_order_of_old_runs():
    cols = [
        "xquad_r/multi/recall@10",
        "xquad_r/multi/recall@1",
        "xquad_r/mono/map",
        "xquad_r/multi/map",
        "xquad_r/cross/map",
        "xquad_r/multi/rank_distance",
        "xquad_r/mono/map/de",
    ]
    assert headline_metrics(cols, "xquad_r") == [
        "xquad_r/mono/map",
        "xquad_r/cross/map",
        "xquad_r/multi/map",
        "xquad_r/multi/rank_distance",
        "xquad_r/multi/recall@1",
        "xquad_r/multi/recall@10",
    ]


def test_comparisons_each_ratio_against_both_ends_with_seed_aware_test(sweep):
    from hybrid_retrieval.eval.per_query import load_per_query
    from hybrid_retrieval.report.axes import find_axes
    from hybrid_retrieval.report.comparisons import comparison_table
    from hybrid_retrieval.report.headline import benchmark_specs

    jobs = load_jobs([sweep])
    axes = find_axes(jobs)
    assert [(a.key, a.values, a.baselines) for a in axes] == [("data.cross_ratio", ("0", "0.5", "1"), ("0", "1"))]
    specs = benchmark_specs(jobs)
    assert specs["xquad_r"].headline == ("mono/map", "cross/map", "multi/map", "multi/rank_distance")
    assert specs["xquad_r"].parallel and not specs["xquad_r"].declared
    table = comparison_table(jobs, axes, specs, lambda p, b: load_per_query(Path(p), b))
    pairs = set(zip(table["value"], table["baseline"]))
    assert pairs == {("0.5", "0"), ("1", "0"), ("0.5", "1")}  # 1 vs 0 once, never a baseline against itself
    row = table[(table["value"] == "0.5") & (table["baseline"] == "0") & (table["metric"] == "mono/map")].iloc[0]
    assert row["n_clusters"] == N_QUESTIONS  # a question in its three languages is one unit
    assert row["kind"] == "recipes" and (row["n_seeds"], row["n_baseline_seeds"]) == (2, 2)
    assert row["diff"] == pytest.approx(0.2, abs=0.01) and row["ci_low"] > 0.1 and row["better"]
    same = table[(table["value"] == "1") & (table["baseline"] == "0") & (table["metric"] == "mono/map")]
    assert (same["p"] > 0.05).all() and not same["significant"].any()
    np.testing.assert_allclose(table["p_holm"], holm(table["p"]))


def test_build_report_writes_tables_plots_and_lists_the_failed_job(sweep, tmp_path):
    out = tmp_path / "report"
    report = build_report([sweep], out, n_resamples=500)
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 7 and (summary["status"] == "failed").sum() == 1
    assert "xquad_r/multi/map" in summary.columns
    md = (out / "summary.md").read_text()
    assert "0.650 ± 0.071" in md  # mono mAP at ratio 0.5 over its two complete seeds
    assert "Jobs that did not complete" in md and "FloatingPointError" in md
    for name in (
        "xquad_r_vs_data_cross_ratio",
        "xquad_r_multi_map_vs_data_cross_ratio",
        "xquad_r_multi_rank_distance_vs_data_cross_ratio",
        "xquad_r_multi_recall10_vs_data_cross_ratio",
        "xquad_r_language_pairs_map",
    ):
        assert report.plots[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.rglob(".*tmp-*"))  # atomic writes leave no temp files behind
    sig = pd.read_csv(out / "significance.csv")
    assert len(sig) == 3 * 4  # three comparisons x (mono, cross, multi mAP; rank distance)
    assert "the paper's table" in md and "hybrid 0.5" in md and "X-X (paper, XLM-R)" in md
    assert "## Findings" in md and (out / "findings.md").is_file()
    findings = (out / "findings.md").read_text()
    assert "xquad_r mono mAP: data.cross_ratio=0.5: vs 0 +0.2" in findings and "beats both ends (0 and 1)" in findings
    assert "rank distance: no intermediate data.cross_ratio beats both" in findings  # equal everywhere: no claim
    assert "Δ vs X-X +0.2" in md


def test_cli_heatmap_jobs_and_errors(sweep, tmp_path, capsys):
    out = tmp_path / "r"
    assert (
        report_main([str(sweep), "--out", str(out), "--heatmap-jobs", "0", "4", "--resamples", "200", "--wandb", "off"])
        == 0
    )
    assert "7 jobs (6 complete, 1 failed)" in capsys.readouterr().out
    assert (out / "plots" / "xquad_r_language_pairs_map.png").is_file()
    assert report_main([str(sweep), "--out", str(out), "--heatmap-jobs", "99", "--wandb", "off"]) == 2
    assert "not jobs of this sweep" in capsys.readouterr().err
    assert report_main([str(tmp_path / "nowhere")]) == 2


def test_one_seed_findings_never_call_a_model_comparison_a_recipe_finding(tmp_path):
    """With one seed the middle ratio can beat both ends between models; the words must not claim the recipe does."""
    root = tmp_path / "multirun"
    for num, (ratio, shift, mono) in enumerate(((0.0, 0.0, 0.50), (0.5, 0.2, 0.70), (1.0, 0.0, 0.40))):
        make_job(root, num, ratio, 1, metrics_for(mono, mono / 2), shift=shift)
    report = build_report([root], tmp_path / "report", n_resamples=500)
    text = "\n".join(report.findings)
    assert "One seed per configuration" in text
    assert "xquad_r mono mAP: data.cross_ratio=0.5: vs 0 +0.2" in text
    assert "this one trained model beats the two end models (0 and 1)" in text
    assert "beats both ends" not in text


def test_job_level_metric_keys_are_not_taken_for_benchmarks():
    from hybrid_retrieval.report.headline import benchmark_names

    columns = [
        "xquad_r/multi/map",
        "tydi/mono/ndcg@10/low_resource",
        "train/batch_share/cross",
        "data/tydi/questions/sw",
        "mem/peak_rss_gib/train",
        "disk/job_mb",
        "time/eval_tydi_s",
    ]
    assert benchmark_names(columns) == ["tydi", "xquad_r"]
