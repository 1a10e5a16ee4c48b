"""Preemption through the real CLI: SIGUSR1 or SIGTERM mid-step -> a checkpoint of that step, status.json
``preempted``, exit status 75 (requeue); running the same command again ends with the metrics of a job that
was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import without_timing
from fault_injection import PAUSE_ENV

from hybrid_retrieval.job.preemption import REQUEUE_EXIT_CODE

ROOT = Path(__file__).resolve().parents[1]
STEPS, EVERY, PAUSE_AT = 6, 4, 3  # the signal lands in step 3, which no periodic checkpoint covers


def cli_args(data_root: Path, run_dir: Path) -> list[str]:
    return [
        sys.executable,
        "run.py",
        "experiment=smoke",
        f"paths.data_dir={data_root}",
        f"hydra.run.dir={run_dir}",
        "data.batch_size=4",
        "data.num_batches=4",
        "save_encoder=false",
        f"trainer.max_steps={STEPS}",
        f"checkpoint.every_n_steps={EVERY}",
        "model.loss._target_=fault_injection.PauseAt",
    ]


def start(args: list[str], log: Path, **extra: str) -> subprocess.Popen:
    path = os.pathsep.join(filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "HYDRA_FULL_ERROR": "1", "OMP_NUM_THREADS": "1", **extra}
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))


def comparable(metrics: dict) -> dict:
    """Without timings and disk use (the job dir of a resumed job also holds the pre-resume curve)."""
    return {k: v for k, v in without_timing(metrics).items() if not k.startswith("disk/")}


def finished(proc: subprocess.Popen, log: Path) -> None:
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]


@pytest.fixture(scope="module")
def reference(data_root, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reference")
    finished(start(cli_args(data_root, out / "run"), out / "log.txt"), out / "log.txt")
    return json.loads((out / "run" / "metrics.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGUSR1, signal.SIGTERM], ids=["SIGUSR1", "SIGTERM"])
def test_signal_checkpoints_the_step_exits_for_requeue_and_the_rerun_ends_like_an_uninterrupted_job(
    data_root, tmp_path, reference, signum
):
    run, marker, log = tmp_path / "run", tmp_path / "paused", tmp_path / "preempted.log"
    proc = start(cli_args(data_root, run), log, HR_TEST_PAUSE_AT_CALL=str(PAUSE_AT), **{PAUSE_ENV: str(marker)})
    while not marker.exists():
        assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.02)
    os.kill(proc.pid, signum)
    marker.unlink()  # the step goes on; training stops at its end
    assert proc.wait(timeout=300) == REQUEUE_EXIT_CODE, log.read_text()[-3000:]

    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "preempted" and status["signal"] == signum and status["step"] == PAUSE_AT
    assert status["message"].startswith(f"preempted by {signum.name} after step {PAUSE_AT}; checkpoint written to")
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["global_step"] == PAUSE_AT
    assert not (run / "metrics.json").exists()

    finished(start(cli_args(data_root, run), tmp_path / "rerun.log"), tmp_path / "rerun.log")  # the requeued job
    got = json.loads((run / "metrics.json").read_text())
    assert comparable(got) == comparable(reference)
    assert json.loads((run / "status.json").read_text())["status"] == "complete"
