"""A job that fails is recorded in its dir and the sweep goes on; a single failed run and bad input exit non-zero."""

from __future__ import annotations

import json

import pytest
from cli_helpers import FAST, job_dirs, run_cli

from hybrid_retrieval.report.build import build_report

# lr 1e30 makes the loss NaN at the first update and DualEncoder raises FloatingPointError: a real failure
NAN_LR = "model.lr=1e30"


@pytest.mark.slow
def test_failed_job_is_recorded_and_the_sweep_goes_on(data_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "experiment=smoke",
            "model.lr=1e30,1e-3",
            f"paths.data_dir={data_root}",
            f"hydra.sweep.dir={sweep}",
            *FAST,
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    failed, done = (json.loads((j / "status.json").read_text()) for j in job_dirs(sweep))
    assert failed["status"] == "failed" and done["status"] == "complete"
    assert failed["error_type"] == "FloatingPointError" and "non-finite" in failed["error_message"]
    assert "training_step" in failed["traceback_tail"] and failed["input_error"] is False
    assert not (sweep / "0" / "metrics.json").exists() and (sweep / "1" / "metrics.json").exists()

    report = build_report([sweep], n_resamples=100)
    assert report.jobs["status"].tolist() == ["failed", "complete"]
    assert "FloatingPointError" in report.jobs["error"].iloc[0]
    summary = (sweep / "report" / "summary.md").read_text()
    assert "Jobs that did not complete" in summary and "model.lr=1e+30" in summary


@pytest.mark.slow
def test_single_failed_run_exits_nonzero(data_root, tmp_path):
    proc = run_cli(["experiment=smoke", NAN_LR, f"paths.data_dir={data_root}", f"hydra.run.dir={tmp_path}", *FAST])
    assert proc.returncode != 0 and "FloatingPointError" in proc.stderr
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "failed"


@pytest.mark.slow
def test_bad_input_in_a_sweep_fails_before_training_and_exits_nonzero(data_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "experiment=smoke",
            "data.cross_ratio=1.5,-1",
            f"paths.data_dir={data_root}",
            f"hydra.sweep.dir={sweep}",
            *FAST,
        ]
    )
    assert proc.returncode != 0 and "data.cross_ratio" in proc.stderr
    # every job's config is checked before the first job starts (hybrid_retrieval/config/sweep_validation.py)
    assert "no job of the sweep was started" in proc.stderr and not sweep.exists()
