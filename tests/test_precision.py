"""precision=auto picks bf16 only where the machine computes it natively."""

from __future__ import annotations

import pytest

from hybrid_retrieval import precision


@pytest.mark.parametrize("native, expected", [(True, "bf16-mixed"), (False, "32-true")])
def test_auto_follows_native_bf16(monkeypatch, native, expected):
    monkeypatch.setattr(precision, "native_bf16", lambda device="auto": native)
    assert precision.resolve_precision("auto") == expected
    assert precision.resolve_precision("16-mixed") == "16-mixed"  # an explicit choice is kept


def test_job_resolves_auto_before_building_the_trainer(data_root, tmp_path, monkeypatch):
    from conftest import compose_config, smoke_overrides

    from hybrid_retrieval.job.run_job import run_job

    monkeypatch.setattr(precision, "native_bf16", lambda device="auto": False)
    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["trainer.max_steps=1", "save_encoder=false"])
    assert cfg.trainer.precision == "auto"
    run_job(cfg)
    assert cfg.trainer.precision == "32-true" and cfg.eval.benchmarks.tydi.precision == "32-true"


def test_cpu_jobs_ask_about_the_cpu_even_with_a_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    cpu_native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert precision.resolve_precision("auto", "gpu") == "bf16-mixed"
    assert precision.resolve_precision("auto", "cpu") == ("bf16-mixed" if cpu_native else "32-true")
