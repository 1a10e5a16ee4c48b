"""trainer=ddp: a 2-process CPU (gloo) run through the real CLI, and how extra ranks are started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import compose_config
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

import __main__
from hybrid_retrieval.config.validate import ConfigError
from hybrid_retrieval.job.hydra_ddp import _check_rerunnable, job_command

ROOT = Path(__file__).resolve().parents[1]
STEPS = 6


def run_cli(args: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "run.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def read_trace(job_dir: Path, rank: int) -> list[dict]:
    return [json.loads(line) for line in (job_dir / "batch_trace" / f"rank{rank}.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_rank_cli_run_shares_batch_kinds_and_writes_one_metrics_file(data_root, tmp_path):
    job = tmp_path / "job"
    proc = run_cli(
        [
            "experiment=smoke",
            f"paths.data_dir={data_root}",
            f"hydra.run.dir={job}",
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            f"trainer.max_steps={STEPS}",
            "data.batch_size=4",
            "data.cross_ratio=0.5",
            "data.cross_mode=per_batch",
            "data.hard_negatives=1",
            "model.cross_device_negatives=true",
            "model.grad_cache.chunk_size=3",
            "callbacks=with_batch_trace",
            "eval.benchmarks.xquad_r.depth=10",
            "eval.benchmarks.xquad_r.metrics=[map,recall@1,recall@10]",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    # the usual outputs, written once, by rank 0, in the job's dir
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("metrics.json")) == [Path("job/metrics.json")]
    metrics = json.loads((job / "metrics.json").read_text())
    assert metrics["train/steps"] == STEPS
    assert 0 <= metrics["xquad_r/multi/map"] <= 1
    assert (job / "encoder" / "config.json").is_file() and (job / ".hydra" / "config.yaml").is_file()
    assert (job / "run_rank1.log").is_file()  # rank 1 ran this job, in this dir

    # every step: both ranks took the same kind of batch and the same (query, passage) languages
    ranks = [read_trace(job, 0), read_trace(job, 1)]
    assert [len(t) for t in ranks] == [STEPS, STEPS]
    for step, (a, b) in enumerate(zip(*ranks)):
        assert a["step"] == b["step"] == step
        assert a["is_cross"] == b["is_cross"]
        assert set(a["query_langs"]) == set(b["query_langs"]) and len(set(a["query_langs"])) == 1  # per_batch
        assert set(a["passage_langs"]) == set(b["passage_langs"]) and len(set(a["passage_langs"])) == 1
        assert (a["query_langs"][0] != a["passage_langs"][0]) == a["is_cross"]
    kinds = [r["is_cross"] for r in ranks[0]]
    assert 0 < sum(kinds) < STEPS  # both kinds occur, so agreement is not trivial
    assert metrics["train/cross_batch_fraction"] == pytest.approx(sum(kinds) / STEPS)


@pytest.fixture
def hydra_job(monkeypatch, tmp_path):
    """A composed config installed as the running Hydra job, as ``run.py -m`` would see it for one job."""

    def install(overrides: list[str], mode: RunMode = RunMode.MULTIRUN, launcher: list[str] = ()):
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides + list(launcher), return_hydra_config=True)
        cfg.hydra.mode = mode
        cfg.hydra.runtime.output_dir = str(tmp_path / "sweep" / "3")
        cfg.hydra.runtime.cwd = str(ROOT)
        cfg.hydra.overrides.task = overrides  # the job's own overrides (sweep values resolved)
        cfg.hydra.overrides.hydra = ["hydra.job.chdir=true", "hydra.mode=MULTIRUN", "hydra.run.dir=elsewhere"]
        HydraConfig.instance().set_config(cfg)
        return cfg

    monkeypatch.setattr(sys, "argv", ["run.py", "-m", "data.cross_ratio=0,0.5,1", "trainer=ddp"])
    monkeypatch.setattr(__main__, "__spec__", None, raising=False)
    yield install
    HydraConfig.instance().cfg = None


def test_extra_rank_reruns_only_its_job_in_the_job_dir(hydra_job, tmp_path):
    hydra_job(["data.cross_ratio=0.5", "trainer=ddp"])
    argv, cwd = job_command(local_rank=1)
    assert argv[:2] == [sys.executable, str(ROOT / "run.py")] and cwd == str(ROOT)
    assert "-m" not in argv and "--multirun" not in argv  # not the whole sweep again
    assert "data.cross_ratio=0.5" in argv and "data.cross_ratio=0,0.5,1" not in argv
    assert f'hydra.run.dir="{tmp_path / "sweep" / "3"}"' in argv
    assert "hydra.output_subdir=null" in argv  # rank 0 alone writes .hydra/
    assert "hydra.job.chdir=true" in argv  # the user's Hydra settings hold for every rank
    assert "hydra.mode=MULTIRUN" not in argv and "hydra.run.dir=elsewhere" not in argv
    assert "--config-name=config" in argv and f"--config-path={ROOT / 'conf'}" in argv


def test_worker_process_launchers_refuse_ddp_naming_the_keys(hydra_job):
    hydra_job(["trainer=ddp"], launcher=["hydra/launcher=joblib"])
    with pytest.raises(ConfigError, match=r"trainer=ddp.*hydra/launcher \(JoblibLauncher\)"):
        _check_rerunnable()
    hydra_job(["trainer=ddp"])  # the basic launcher runs jobs in this process: rerunnable
    _check_rerunnable()
    hydra_job(["trainer=ddp"], mode=RunMode.RUN, launcher=["hydra/launcher=joblib"])  # no sweep: launcher unused
    _check_rerunnable()


def test_ddp_config_turns_lightning_sampler_off_and_uses_the_sweep_safe_strategy():
    cfg = compose_config(["trainer=ddp"])
    assert cfg.trainer.use_distributed_sampler is False
    assert cfg.trainer.strategy == "hydra_ddp"
    from pytorch_lightning.strategies import StrategyRegistry

    import hybrid_retrieval.job.hydra_ddp  # noqa: F401

    assert StrategyRegistry[cfg.trainer.strategy]["init_params"] == {"find_unused_parameters": True}


def test_stopping_a_failed_jobs_ranks_does_not_trigger_lightnings_kill_switch():
    """After rank 0 fails, its extra ranks are killed, but Lightning's observer must not kill the sweep process."""
    from lightning_fabric.plugins.environments import LightningEnvironment
    from lightning_fabric.strategies.launchers.subprocess_script import _ChildProcessObserver

    from hybrid_retrieval.job.hydra_ddp import HydraJobLauncher

    kill_switch = []

    class Observer(_ChildProcessObserver):
        def _terminate_all(self):  # Lightning: kill every child and the main process
            kill_switch.append(True)

    launcher = HydraJobLauncher(LightningEnvironment(), num_processes=2, num_nodes=1)
    launcher.procs.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]))
    rank1 = launcher.procs[0]
    observer = Observer(main_pid=os.getpid(), child_processes=launcher.procs, sleep_period=0.01)
    try:
        launcher.stop_children()
        observer.run()  # returns once it has nothing left to watch (or after pulling the kill switch)
        assert rank1.poll() is not None  # the stuck rank is gone
        assert kill_switch == []  # and the sweep lives on
    finally:
        rank1.kill()
        rank1.wait()
