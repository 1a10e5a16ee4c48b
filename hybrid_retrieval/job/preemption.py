"""Preemption: on SIGUSR1, SIGUSR2 or SIGTERM, checkpoint at the next step boundary and exit asking for a requeue.

Schedulers warn a job before they stop it: SLURM sends ``--signal`` (submitit's default
USR2, or USR1) before the time limit and SIGTERM on preemption. Lightning already turns
SIGTERM into a clean stop: its handler (installed when ``fit`` starts) flags the trainer and
forwards the signal to the ranks it launched, and the loop raises ``SIGTERMException`` once
the step in flight is done. :class:`PreemptionCheckpoint` routes SIGUSR1/SIGUSR2 into that
same handler and writes ``last.ckpt`` when the exception comes, so no step is lost.

The job then records ``preempted`` in status.json (run.py) and :func:`hand_over` asks for
the requeue with the scheduler's own mechanism: under submitit (``hydra/launcher=slurm``)
submitit's handler for the signal, which requeues the Hydra job and exits; elsewhere the
process exits with :data:`REQUEUE_EXIT_CODE` (EX_TEMPFAIL, "try again later"; SLURM
requeues it with ``RequeueExit=75``). Re-running the job resumes from ``last.ckpt``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)

REQUEUE_EXIT_CODE = 75  # os.EX_TEMPFAIL
WARNING_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)  # sbatch --signal; SIGTERM is Lightning's already


class Preempted(SystemExit):
    """Training stopped on a scheduler's signal after checkpointing; exits with the requeue status."""

    def __init__(
        self,
        message: str,
        signum: int,
        checkpoint: Path,
        step: int,
        scheduler_handler: Callable[[int, Any], Any] | None = None,
    ):
        super().__init__(REQUEUE_EXIT_CODE)
        self.message, self.signum, self.checkpoint, self.step = message, signum, checkpoint, step
        self.scheduler_handler = scheduler_handler

    def __str__(self) -> str:
        return self.message


class PreemptionCheckpoint(Callback):
    """Writes ``last`` when a scheduler's signal stops training (Lightning's SIGTERMException)."""

    def __init__(self, last: Path):
        self.last = Path(last)
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning installs its SIGTERM handler when fit starts and restores every handler at teardown
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in WARNING_SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._on_warning)

    def _on_warning(self, signum: int, frame: Any) -> None:
        self.signum = signum
        lightning = signal.getsignal(signal.SIGTERM)  # flags the trainer, forwards to launched ranks
        if callable(lightning):
            lightning(signum, frame)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException):
            self.signum = self.signum or signal.SIGTERM
            trainer.save_checkpoint(self.last)  # every rank takes part; rank 0 writes

    def preempted(self, trainer: pl.Trainer) -> Preempted:
        signum = self.signum or signal.SIGTERM
        name = signal.Signals(signum).name
        previous = self._previous.get(signum)
        return Preempted(
            f"preempted by {name} after step {trainer.global_step}; checkpoint written to {self.last}; "
            f"the requeued job (or the same command again) resumes from it",
            signum,
            self.last,
            trainer.global_step,
            previous if callable(previous) else None,
        )


def hand_over(err: Preempted) -> None:
    """Ask for the requeue: the scheduler's own handler for the signal if it had one (submitit), else exit 75."""
    if err.scheduler_handler is not None:
        log.info(
            "handing %s over to the scheduler's handler %s",
            signal.Signals(err.signum).name,
            getattr(err.scheduler_handler, "__qualname__", err.scheduler_handler),
        )
        err.scheduler_handler(err.signum, None)  # submitit: requeue the job, then exit
    raise SystemExit(REQUEUE_EXIT_CODE)
