"""A benchmark describes itself once: a toy added in tests only (its reader, tests/toy_benchmark.py, and its
config node, tests/conf/eval/benchmarks/toy.yaml) reaches the job's headline line, ``optimized_metric``
and the sweep report through the job's benchmarks.json, with no module of hybrid_retrieval naming it."""

from __future__ import annotations

import json
import logging

from conftest import ROOT, compose_config, smoke_overrides
from omegaconf import OmegaConf


def test_toy_benchmark_reaches_headline_optimized_metric_and_report(data_root, tmp_path, monkeypatch, caplog):
    from hybrid_retrieval.eval.per_query import load_per_query
    from hybrid_retrieval.job.evaluate import optimized_metric
    from hybrid_retrieval.job.run_job import run_job
    from hybrid_retrieval.report.build import build_report
    from hybrid_retrieval.report.comparisons import cluster_scores

    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    job = tmp_path / "multirun" / "0"
    cfg = compose_config(
        smoke_overrides(data_root, job)
        + [
            f"hydra.searchpath=[file://{ROOT / 'tests' / 'conf'}]",
            "eval=xquad_r",
            "eval/benchmarks=[toy]",
            "trainer.max_steps=2",
            "save_encoder=false",
        ]
    )
    with caplog.at_level(logging.INFO):
        metrics = run_job(cfg)

    declared = json.loads((job / "benchmarks.json").read_text())
    assert declared["toy"].pop("precision") == cfg.trainer.precision  # resolved by the job (auto: the device's)
    assert declared == {
        "toy": {
            "settings": ["mono"],
            "metrics": ["mrr@10", "recall@1", "recall@5"],
            "depth": 10,
            "groups": {"low_resource": ["es"]},
            "headline": ["mono/mrr@10", "mono/recall@1/low_resource"],
            "lower_is_better": ["rank_distance"],
            "parallel": True,
        }
    }
    # the headline comes from the reader (the config node has none), so only the declaration knows it
    assert "headline" not in cfg.eval.benchmarks.toy
    assert optimized_metric(cfg) == "toy/mono/mrr@10" and optimized_metric(cfg) in metrics
    line = [r.getMessage() for r in caplog.records][-1]
    assert line.startswith(
        f"headline: toy/mono/mrr@10={metrics['toy/mono/mrr@10']:.4f} "
        f"toy/mono/recall@1/low_resource={metrics['toy/mono/recall@1/low_resource']:.4f} "
    )

    (job / ".hydra").mkdir()  # what Hydra leaves beside the job's own files
    OmegaConf.save(cfg, job / ".hydra" / "config.yaml")
    (job / ".hydra" / "overrides.yaml").write_text("[]\n")
    report = build_report([tmp_path / "multirun"], tmp_path / "report")
    spec = report.specs["toy"]
    assert spec.declared and spec.parallel and spec.low_resource == ("es",) and spec.extra == ()
    assert spec.headline == ("mono/mrr@10", "mono/recall@1/low_resource")
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "## toy: mean ± std over seeds" in summary and "mono MRR@10" in summary
    assert f"{metrics['toy/mono/mrr@10']:.3f}" in summary
    # parallel: a question in its three languages is one cluster of the report's tests
    scores = cluster_scores(load_per_query(job, "toy"), spec, "mono/mrr@10")
    assert len(scores) == 8
