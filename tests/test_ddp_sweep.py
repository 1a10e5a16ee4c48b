"""A DDP sweep on one machine: every job gets its own ranks, in its own dir, one job after another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_multirun_with_ddp_runs_each_job_once_with_its_own_ranks(data_root, tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    proc = subprocess.run(
        [
            sys.executable,
            "run.py",
            "-m",
            "experiment=smoke",
            f"paths.data_dir={data_root}",
            f"hydra.sweep.dir={sweep}",
            "data.cross_ratio=0,1",
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.max_steps=3",
            "data.batch_size=4",
            "callbacks=with_batch_trace",
            "eval.benchmarks.xquad_r.depth=10",
            "eval.benchmarks.xquad_r.metrics=[map,recall@1,recall@10]",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Lightning alone would rerun `-m ...` in every extra rank: the whole sweep again, in a sweep dir of its own
    assert (proc.stdout + proc.stderr).count("Launching 2 jobs") == 1
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    for job, cross in (("0", False), ("1", True)):
        job_dir = sweep / job
        metrics = json.loads((job_dir / "metrics.json").read_text())
        assert metrics["train/steps"] == 3 and metrics["train/cross_batch_fraction"] == float(cross)
        for rank in (0, 1):  # the second job started its own rank 1 (not the first job's, nor none)
            trace = [
                json.loads(line) for line in (job_dir / "batch_trace" / f"rank{rank}.jsonl").read_text().splitlines()
            ]
            assert [r["is_cross"] for r in trace] == [cross] * 3
        assert (job_dir / "run_rank1.log").is_file()
