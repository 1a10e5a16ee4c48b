"""Cluster and parallel sweeps: hydra/launcher=slurm (submitit) and hydra/launcher=joblib."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_helpers import run_cli
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate

import hybrid_retrieval  # noqa: F401  (config schemas)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_slurm_launcher_config_composes_on_the_command_line():
    proc = run_cli(
        [
            "--cfg",
            "hydra",
            "hydra/launcher=slurm",
            "hydra.launcher.partition=gpu",
            "hydra.launcher.gpus_per_node=4",
            "hydra.launcher.timeout_min=30",
            "trainer=ddp",
        ],
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    launcher = proc.stdout.split("\n  launcher:\n", 1)[1]
    for line in (
        "_target_: hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
        "partition: gpu",
        "gpus_per_node: 4",
        "timeout_min: 30",
    ):
        assert f"    {line}\n" in launcher, line


def test_slurm_launcher_submits_one_task_per_gpu(tmp_path, monkeypatch):
    """Hydra's real submitit launcher, up to the sbatch script (submission itself is faked: no cluster here)."""
    import submitit

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit only checks that srun exists
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    submitted = {}

    def fake_map_array(executor, fn, *job_args):
        submitted.update(executor=executor, jobs=list(zip(*job_args)))
        return []

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", fake_map_array)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="config",
            return_hydra_config=True,
            overrides=[
                "hydra/launcher=slurm",
                "hydra.launcher.partition=gpu",
                "hydra.launcher.gpus_per_node=4",
                "hydra.launcher.timeout_min=90",
                f"hydra.sweep.dir={tmp_path / 'sweep'}",
                "trainer=ddp",
            ],
        )
    HydraConfig.instance().set_config(cfg)
    try:
        launcher = instantiate(cfg.hydra.launcher)
        launcher.config = cfg
        launcher.launch([["data.cross_ratio=0"], ["data.cross_ratio=1"]], initial_job_idx=0)
    finally:
        HydraConfig.instance().cfg = None
    assert [job[0] for job in submitted["jobs"]] == [["data.cross_ratio=0"], ["data.cross_ratio=1"]]
    script = submitted["executor"]._executor._make_submission_file_text("python -m job", "uid")
    for line in ("--partition=gpu", "--gpus-per-node=4", "--ntasks-per-node=4", "--time=90", "--nodes=1"):
        assert f"#SBATCH {line}\n" in script, line


@pytest.mark.slow
def test_joblib_launcher_runs_a_sweep_in_parallel_processes(data_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "hydra/launcher=joblib",
            "experiment=smoke",
            f"paths.data_dir={data_root}",
            f"hydra.sweep.dir={sweep}",
            "data.cross_ratio=0,1",
            "data.batch_size=4",
            "trainer.max_steps=4",
            "trainer.precision=32-true",
            "eval.benchmarks.xquad_r.depth=10",
            "eval.benchmarks.xquad_r.metrics=[map,recall@1,recall@10]",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2,backend=loky" in proc.stdout + proc.stderr
    for job, ratio in (("0", 0.0), ("1", 1.0)):
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        assert metrics["train/steps"] == 4
        assert metrics["train/cross_batch_fraction"] == ratio
