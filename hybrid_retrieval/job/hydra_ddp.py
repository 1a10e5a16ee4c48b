"""``strategy: hydra_ddp``: Lightning DDP whose extra processes rerun *this Hydra job*.

On one machine Lightning starts ranks 1..N-1 by running the script again with
the same command line.  Under ``python run.py -m ...`` that command line is
the whole sweep: every extra process would run every job of the sweep in a
sweep dir of its own, and the next job in the main process would find the
previous job's ``LOCAL_RANK`` and process group still set and never start its
own workers.  This strategy

- starts each extra process with the job's own overrides, its output dir and
  no ``-m``, so a rank runs exactly one job, in the job's dir;
- after training, removes the variables its launcher set, and before the
  next launch in the same process ends the previous job's process group
  (not earlier: the job may still use it after fitting, e.g. to checkpoint),
  so the next job of a sequential sweep starts its own workers and group;
- when training fails on rank 0, stops that job's other ranks (which would
  otherwise wait in a collective) without ending the sweep;
- fails with a clear error under launchers that run jobs inside worker
  processes (joblib, submitit's local executor), where no script can be rerun.

Where a cluster starts the processes itself (SLURM via ``hydra/launcher=slurm``,
torchrun), nothing is launched and this is plain DDP.  It tolerates parameters
without a gradient (``find_unused_parameters``): backbones' pooler heads are
unused by mean/cls pooling.
"""

from __future__ import annotations

import os
import subprocess
import sys

import torch.distributed as dist
from pytorch_lightning.strategies import DDPStrategy, StrategyRegistry
from pytorch_lightning.strategies.launchers.subprocess_script import _SubprocessScriptLauncher
from pytorch_lightning.trainer.states import TrainerStatus

NAME = "hydra_ddp"
_LAUNCH_VARS = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
_RERUNNABLE_LAUNCHERS = ("hydra._internal.core_plugins.basic_launcher.BasicLauncher",)
# Hydra keys that job_command sets itself; hydra.mode would turn the rank into a sweep
_SET_FOR_RANKS = {"hydra.run.dir", "hydra.output_subdir", "hydra.job.name", "hydra.mode"}


def _hydra_quote(value: str) -> str:
    """A value as a quoted Hydra override string (paths may hold '=', ',' or ':')."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def job_command(local_rank: int) -> tuple[list[str], str]:
    """(argv, cwd) that rerun the current Hydra job, and only it, as ``local_rank``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd, to_absolute_path

    import __main__

    hc = HydraConfig.get()
    if __main__.__spec__ is None:
        argv = [sys.executable, to_absolute_path(sys.argv[0])]
    else:
        argv = [sys.executable, "-m", __main__.__spec__.name]
    for source in hc.runtime.config_sources:
        if source.schema == "file" and source.provider == "main":
            argv.append(f"--config-path={source.path}")
        elif source.schema == "file" and source.provider == "command-line":
            argv.append(f"--config-dir={source.path}")
    argv.append(f"--config-name={hc.job.config_name}")
    argv += list(hc.overrides.task)  # the job's own values: in a sweep, this job's point of the grid
    argv += [o for o in hc.overrides.hydra if o.split("=", 1)[0].lstrip("+~") not in _SET_FOR_RANKS]
    argv += [
        f"hydra.run.dir={_hydra_quote(hc.runtime.output_dir)}",
        "hydra.output_subdir=null",
        f"hydra.job.name={hc.job.name}_rank{local_rank}",
    ]
    return argv, get_original_cwd()


def _check_rerunnable() -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from hybrid_retrieval.config.validate import ConfigError

    hc = HydraConfig.get()
    launcher = hc.launcher.get("_target_", "")
    if hc.mode == RunMode.MULTIRUN and launcher not in _RERUNNABLE_LAUNCHERS:
        name = launcher.rsplit(".", 1)[-1]
        raise ConfigError(
            f"trainer=ddp with more than one trainer.devices cannot run under hydra/launcher ({name}): DDP on one "
            f"machine starts its extra processes by rerunning run.py, which this launcher's worker processes cannot "
            f"do. Run DDP sweeps with the default launcher (jobs one after another) or hydra/launcher=slurm (SLURM "
            f"starts one task per GPU); run this launcher's parallel jobs with trainer=default (one device each)."
        )


class HydraJobLauncher(_SubprocessScriptLauncher):
    """Lightning's script launcher, with each extra rank started as a rerun of the current Hydra job."""

    def _call_children_scripts(self) -> None:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():  # plain Python use: Lightning's own command line rerun
            return super()._call_children_scripts()
        _check_rerunnable()
        self._check_can_spawn_children()
        if dist.is_available() and dist.is_initialized():  # the previous job's group, in a sequential sweep
            dist.destroy_process_group()
        self.saved_env = {key: os.environ.get(key) for key in _LAUNCH_VARS}
        env = self.cluster_environment
        os.environ.update(
            {
                "MASTER_ADDR": env.main_address,
                "MASTER_PORT": str(env.main_port),
                "NODE_RANK": str(env.node_rank()),
                "LOCAL_RANK": str(env.local_rank()),
                "WORLD_SIZE": str(self.num_processes * self.num_nodes),
            }
        )
        self.procs = []
        for local_rank in range(1, self.num_processes):
            argv, cwd = job_command(local_rank)
            self.procs.append(subprocess.Popen(argv, cwd=cwd, env={**os.environ, "LOCAL_RANK": str(local_rank)}))

    def stop_children(self) -> None:
        """End this job's extra ranks after rank 0 failed, without taking the sweep down with them.

        Lightning's process observer kills the main process when a child exits
        non-zero; it watches ``self.procs``, so the children leave that list first.
        """
        children = list(self.procs)
        self.procs.clear()
        for proc in children:
            proc.kill()
            proc.wait()

    def restore_environment(self) -> None:
        """Undo the variables set for the children, so the next job in this process launches its own."""
        for key, value in getattr(self, "saved_env", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.saved_env = {}


class HydraJobDDPStrategy(DDPStrategy):
    """DDP for Hydra jobs, sweeps included (see the module docstring)."""

    def _configure_launcher(self) -> None:
        super()._configure_launcher()
        if isinstance(self._launcher, _SubprocessScriptLauncher):
            self._launcher = HydraJobLauncher(self.cluster_environment, self.num_processes, self.num_nodes)

    def teardown(self) -> None:
        trainer = getattr(self.lightning_module, "_trainer", None)
        failed = trainer is not None and trainer.state.status == TrainerStatus.INTERRUPTED
        super().teardown()
        if isinstance(self._launcher, HydraJobLauncher):
            if failed:  # the other ranks wait in a collective that will never complete
                self._launcher.stop_children()
            self._launcher.restore_environment()


if NAME not in StrategyRegistry:
    StrategyRegistry.register(
        NAME,
        HydraJobDDPStrategy,
        description="DDP that reruns the current Hydra job per rank",
        find_unused_parameters=True,
    )
