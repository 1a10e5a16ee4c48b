"""Faults: a killed job resumes from its last checkpoint and ends with the numbers of an uninterrupted run;
a NaN or infinite loss stops the job and keeps the last good checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from conftest import compose_config, smoke_overrides, without_timing
from fault_injection import HOLD_ENV

from hybrid_retrieval.job import train
from hybrid_retrieval.job.run_job import run_job

ROOT = Path(__file__).resolve().parents[1]
# epochs of 4 batches, a checkpoint every 2 steps: resumes from mid-epoch and from an epoch's last batch
STEPS, EVERY = 8, 2
SMALL = [
    "data.batch_size=4",
    "data.num_batches=4",
    "save_encoder=false",
    "eval.benchmarks.xquad_r.settings=[mono]",
    "eval.benchmarks.xquad_r.metrics=[map,recall@1,recall@10,ndcg@10]",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def job(data_root, out_dir, *extra: str):
    return compose_config(
        smoke_overrides(data_root, out_dir)
        + SMALL
        + [f"trainer.max_steps={STEPS}", f"checkpoint.every_n_steps={EVERY}", *extra]
    )


class Crash(Exception):
    """Stands in for a kill: raised before the step ``at``, after the checkpoint of step ``at`` is written."""


class CrashAt(pl.Callback):
    def __init__(self, at: int):
        self.at = at

    def on_train_batch_start(self, trainer, *args):
        if trainer.global_step == self.at:
            raise Crash(f"crash before step {self.at}")


def crash_at(monkeypatch, step: int) -> None:
    original = train.instantiate_callbacks

    def with_crash(cfg):
        return [*original(cfg), CrashAt(step)]

    monkeypatch.setattr(train, "instantiate_callbacks", with_crash)


def checkpoint_step(out_dir: Path) -> int:
    return int(torch.load(out_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["global_step"])


@pytest.fixture(scope="module")
def uninterrupted(data_root, tmp_path_factory):
    """Built once, before the function-scoped one_torch_thread applies: pin one thread here too, or its
    float sums are ordered differently from the resumed runs' (final loss differed in the 7th digit)."""
    out = tmp_path_factory.mktemp("uninterrupted")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return out, run_job(job(data_root, out, "checkpoint.keep=true"))
    finally:
        torch.set_num_threads(before)


# crash before step 3: resume mid-epoch 0 (checkpoint 2); 5: after the epoch's last batch (checkpoint 4);
# 7: mid-epoch 1 (checkpoint 6)
@pytest.mark.parametrize("crash", [3, 5, 7])
def test_resumed_job_ends_like_an_uninterrupted_one(data_root, tmp_path, monkeypatch, uninterrupted, crash):
    with monkeypatch.context() as m:
        crash_at(m, crash)
        with pytest.raises(Crash):
            run_job(job(data_root, tmp_path))
    assert checkpoint_step(tmp_path) == crash - crash % EVERY
    assert not (tmp_path / "metrics.json").exists()
    logged = (tmp_path / "csv" / "metrics.csv").is_file()
    assert logged == (crash > 4)  # the smoke experiment logs every 4 steps
    resumed = run_job(job(data_root, tmp_path))
    assert without_timing(resumed) == without_timing(uninterrupted[1])
    assert json.loads((tmp_path / "metrics.json").read_text()) == pytest.approx(resumed)
    assert not (tmp_path / "checkpoints" / "last.ckpt").exists()  # a finished job drops it (checkpoint.keep=false)
    # the training curve from before the crash is kept beside the resumed one
    assert (tmp_path / "csv" / "metrics.before-resume-1.csv").is_file() == logged
    assert (tmp_path / "csv" / "metrics.csv").is_file()


def test_rerun_of_a_finished_job_trains_no_more_and_gives_the_same_numbers(data_root, uninterrupted):
    out, first = uninterrupted
    assert checkpoint_step(out) == STEPS  # the final state is kept, not only the last multiple of every_n_steps
    again = run_job(job(data_root, out, "checkpoint.keep=true"))
    assert without_timing(again) == without_timing(first)


# --- non-finite loss -------------------------------------------------------------------------


def assert_good_checkpoint(out_dir: Path, step: int) -> None:
    state = torch.load(out_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["global_step"] == step
    assert all(torch.isfinite(t).all() for t in state["state_dict"].values())


def test_nan_loss_stops_the_job_keeping_the_last_good_checkpoint(data_root, tmp_path):
    cfg = job(data_root, tmp_path, "model.loss._target_=fault_injection.NaNLossFrom", "+model.loss.from_call=6")
    with pytest.raises(FloatingPointError) as err:
        run_job(cfg)
    text = str(err.value)
    assert "training stopped: non-finite training loss (nan) at step 5" in text
    assert f"the last good checkpoint is kept at {tmp_path / 'checkpoints' / 'last.ckpt'}" in text
    assert_good_checkpoint(tmp_path, 4)
    assert not (tmp_path / "metrics.json").exists()


def test_weights_spoiled_by_a_nan_gradient_never_overwrite_the_last_good_checkpoint(data_root, tmp_path):
    # the NaN gradient comes at step 4 (call 4), whose checkpoint would hold NaN weights
    cfg = job(data_root, tmp_path, "model.loss._target_=fault_injection.NaNGradientAt", "+model.loss.at=4")
    with pytest.raises(FloatingPointError) as err:
        run_job(cfg)
    assert "non-finite weights in" in str(
        err.value
    ) and "after step 4; the checkpoint of that step was not written" in str(err.value)
    assert_good_checkpoint(tmp_path, 2)


# --- the real CLI, killed with SIGKILL ---------------------------------------------------------

CLI_STEPS = 8


def cli_args(data_root: Path, run_dir: Path) -> list[str]:
    return [
        sys.executable,
        "run.py",
        "experiment=smoke",
        f"paths.data_dir={data_root}",
        f"hydra.run.dir={run_dir}",
        f"trainer.max_steps={CLI_STEPS}",
        f"checkpoint.every_n_steps={EVERY}",
        "model.loss._target_=fault_injection.HoldAt",
        *SMALL,
    ]


def cli_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))  # fault_injection
    return {**os.environ, "PYTHONPATH": path, "HYDRA_FULL_ERROR": "1", "OMP_NUM_THREADS": "1", **extra}


def start(args: list[str], log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=cli_env(**env), stdout=subprocess.DEVNULL, stderr=log.open("w"))


def finish(proc: subprocess.Popen, log: Path) -> None:
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]


@pytest.mark.slow
def test_cli_job_killed_after_a_checkpoint_resumes_with_the_same_metrics(data_root, tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    uninterrupted = start(cli_args(data_root, reference), tmp_path / "reference.log")  # alongside, to save time

    # the killed job's loss blocks at call 6, so SIGKILL lands after a checkpoint (step 2 or 4) and mid-training
    proc = start(cli_args(data_root, killed), tmp_path / "killed.log", **{HOLD_ENV: "6"})
    try:
        while not (killed / "checkpoints" / "last.ckpt").exists() and proc.poll() is None:
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-3000:]
    assert not (killed / "metrics.json").exists()
    assert checkpoint_step(killed) in (2, 4)

    finish(start(cli_args(data_root, killed), tmp_path / "rerun.log"), tmp_path / "rerun.log")  # the same command again
    finish(uninterrupted, tmp_path / "reference.log")
    got = json.loads((killed / "metrics.json").read_text())
    want = json.loads((reference / "metrics.json").read_text())
    assert without_timing(got) == without_timing(want)
    assert got["train/steps"] == CLI_STEPS

    # once more: the finished job is skipped, its results untouched (a re-run sweep finishes only what was left)
    before = {name: (killed / name).read_bytes() for name in ("metrics.json", "status.json")}
    finish(start(cli_args(data_root, killed), tmp_path / "third.log"), tmp_path / "third.log")
    assert "job already complete" in (killed / "run.log").read_text()
    assert {name: (killed / name).read_bytes() for name in before} == before


def test_only_a_job_complete_with_the_same_config_counts_as_finished(data_root, tmp_path):
    from hybrid_retrieval.job.job_status import COMPLETE, config_digest, finished_metrics, write_status

    cfg = job(data_root, tmp_path)
    digest = config_digest(cfg)
    assert config_digest(job(data_root, tmp_path, "rerun=true")) == digest  # asking to rerun is not another config
    assert config_digest(job(data_root, tmp_path, "seed=7")) != digest
    (tmp_path / "metrics.json").write_text(json.dumps({"xquad_r/mono/map": 0.5}))
    write_status(tmp_path, "running")
    assert finished_metrics(tmp_path, digest) is None  # not complete: run (or resume) it
    write_status(tmp_path, COMPLETE)
    assert finished_metrics(tmp_path, digest) is None  # complete, but no record of its config: run it again
    write_status(tmp_path, COMPLETE, config_sha256=digest)
    assert finished_metrics(tmp_path, digest) == {"xquad_r/mono/map": 0.5}
    assert finished_metrics(tmp_path, config_digest(job(data_root, tmp_path, "seed=7"))) is None
