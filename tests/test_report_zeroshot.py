"""The zero-shot reference callback: one evaluation-only job per backbone, cached, copied into the sweep."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import yaml
from omegaconf import OmegaConf

from hybrid_retrieval.job.job_status import write_status
from hybrid_retrieval.report import zeroshot


def _job(root: Path, num: int, model: str, ratio: str, seed: int) -> None:
    job = root / str(num)
    (job / ".hydra").mkdir(parents=True)
    overrides = [
        "experiment=smoke",
        f"model={model}",
        f"data.cross_ratio={ratio}",
        f"seed={seed}",
        "+reference=zeroshot",
    ]
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    cfg = {
        "seed": seed,
        "trainer": {"max_steps": 24},
        "data": {"cross_ratio": float(ratio)},
        "model": {"name": model, "backbone": f"/models/{model}", "pooling": "mean", "lr": 1e-3 * seed},
        "eval": {"languages": ["de", "en"], "benchmarks": {"xquad_r": {"name": "xquad_r"}}},
    }
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))


def _fake_evaluation(calls: list):
    """Stands in for `python run.py ... trainer.max_steps=0`: writes what a finished job writes."""

    def run(cmd, cwd):
        calls.append(cmd)
        job = Path(next(c for c in cmd if c.startswith("hydra.run.dir=")).split("=", 1)[1])
        (job / ".hydra").mkdir(parents=True)
        overrides = [c for c in cmd[2:] if not c.startswith("hydra.")]
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"trainer": {"max_steps": 0}}))
        (job / "metrics.json").write_text(json.dumps({"xquad_r/multi/map": 0.5}))
        (job / "per_query_xquad_r.csv.gz").write_bytes(b"")
        write_status(job, "complete")
        return SimpleNamespace(returncode=0)

    return run


def test_one_reference_per_backbone_with_the_jobs_evaluation_and_no_training(tmp_path):
    sweep = tmp_path / "sweep"
    for num, (model, ratio, seed) in enumerate([("tiny", "0", 1), ("tiny", "1", 2), ("me5_small", "0", 1)]):
        _job(sweep, num, model, ratio, seed)
    plan = zeroshot.plan(sweep)
    assert sorted(label for label, _ in plan.values()) == ["me5_small", "tiny"]  # seeds, ratios, lr do not matter
    for _, overrides in plan.values():
        assert "trainer.max_steps=0" in overrides and "experiment=smoke" in overrides
        assert not any(o.startswith(("seed=", "+reference")) for o in overrides)


def test_reference_is_evaluated_once_then_reused_across_sweeps(tmp_path):
    cache, calls = tmp_path / "cache", []
    for name in ("sweep_a", "sweep_b"):
        sweep = tmp_path / name
        _job(sweep, 0, "tiny", "0.5", 1)
        cfg = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}, "runtime": {"cwd": str(tmp_path)}}})
        callback = zeroshot.ZeroShotReference(cache_dir=str(cache))
        original = zeroshot.subprocess.run
        zeroshot.subprocess.run = _fake_evaluation(calls)
        try:
            callback.on_multirun_end(cfg)
        finally:
            zeroshot.subprocess.run = original
        copied = sweep / "reference" / "zeroshot_tiny"
        assert (copied / "metrics.json").is_file() and (copied / ".hydra" / "config.yaml").is_file()
        assert (copied / "per_query_xquad_r.csv.gz").is_file()
    assert len(calls) == 1  # the second sweep found it in the cache


def test_a_failed_reference_leaves_the_sweep_alone(tmp_path, caplog):
    sweep = tmp_path / "sweep"
    _job(sweep, 0, "tiny", "0", 1)
    cfg = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}, "runtime": {"cwd": str(tmp_path)}}})
    original = zeroshot.subprocess.run
    zeroshot.subprocess.run = lambda cmd, cwd: SimpleNamespace(returncode=1)
    try:
        zeroshot.ZeroShotReference(cache_dir=str(tmp_path / "c")).on_multirun_end(cfg)
    finally:
        zeroshot.subprocess.run = original
    assert not (sweep / "reference").exists() and "not added" in caplog.text
