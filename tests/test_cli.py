"""The real CLI as a user runs it: a Hydra multirun through `python run.py -m`."""

from __future__ import annotations

import json

import pytest
from cli_helpers import run_cli


@pytest.mark.slow
def test_multirun_sweep_writes_one_job_dir_per_ratio(data_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "experiment=smoke",
            "data.cross_ratio=0,0.5,1",
            f"paths.data_dir={data_root}",
            f"hydra.sweep.dir={sweep}",
            "data.batch_size=4",
            "trainer.max_steps=20",
            "eval.benchmarks.xquad_r.depth=10",
            "eval.benchmarks.xquad_r.metrics=[map,recall@1,recall@10]",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1", "2"]
    for job, ratio in zip(jobs, (0.0, 0.5, 1.0)):
        metrics = json.loads((job / "metrics.json").read_text())
        for key in (
            "xquad_r/mono/map",
            "xquad_r/cross/map",
            "xquad_r/multi/map",
            "xquad_r/multi/rank_distance",
            "xquad_r/multi/recall@10",
        ):
            assert 0 <= metrics[key] and key in metrics
        assert metrics["train/steps"] == 20
        assert abs(metrics["train/cross_batch_fraction"] - ratio) <= 0.1
        assert (job / ".hydra" / "overrides.yaml").is_file()


@pytest.mark.slow
@pytest.mark.parametrize(
    "override, key", [("data.cross_ratio=1.5", "data.cross_ratio"), ("data.languages=[en,zz]", "data.languages")]
)
def test_cli_bad_input_exits_nonzero_naming_key(data_root, tmp_path, override, key):
    proc = run_cli(
        ["experiment=smoke", f"paths.data_dir={data_root}", f"hydra.run.dir={tmp_path}", override], timeout=300
    )
    assert proc.returncode != 0
    assert key in proc.stderr
    assert not (tmp_path / "metrics.json").exists()
