"""Fault tolerance for one job: periodic checkpoints, exact resume, and no bad state on disk.

A job writes ``<output_dir>/checkpoints/last.ckpt`` every ``checkpoint.every_n_steps``
optimizer steps (Lightning's ModelCheckpoint) and once more when training ends.
Re-running the job into the same output dir resumes from it: Lightning restores
weights, optimizer, LR schedule and loop counters, :class:`RngState` restores the
random generators (dropout), and the HybridDataModule's sampler skips the batches
of the epoch already trained.  So a resumed job ends with the same numbers as one
that never stopped.  Once metrics.json is written the job drops ``last.ckpt`` unless
``checkpoint.keep``.  See docs/errors.md, "Resume after a crash".
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO
from lightning_fabric.utilities.seed import _collect_rng_states, _set_rng_states
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from hybrid_retrieval.job.batch_counts import BatchCounts
from hybrid_retrieval.files import replaced_atomically, write_atomically
from hybrid_retrieval.job.checkpoint_safety import load_plain, plain_data, rng_from_plain, rng_to_plain
from hybrid_retrieval.job.preemption import PreemptionCheckpoint
from hybrid_retrieval.config.validate import ConfigError

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
LAST = "last.ckpt"
JOB_FILE = "job.yaml"  # the training config that the checkpoints in the folder belong to
TRAINING_KEYS = ("seed", "data", "model", "trainer")  # what decides the trained weights


class RngState(Callback):
    """Saves the global random generators (torch, numpy, python; CUDA too) with each checkpoint.

    Lightning restores weights and loops but not these, and dropout draws from them.
    Every rank's generators are gathered into rank 0's checkpoint (``ranks``: one plain-data
    state per rank), and each rank restores its own; a resume with more ranks than were saved
    starts the extra ones from rank 0's.
    """

    def __init__(self) -> None:
        self._rank = 0

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._rank = trainer.global_rank

    def state_dict(self) -> dict[str, Any]:
        mine = rng_to_plain(_collect_rng_states(include_cuda=torch.cuda.is_available()))
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            ranks: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(ranks, mine)  # every rank saves a checkpoint's state; rank 0 writes it
            return {"ranks": ranks}
        return {"ranks": [mine]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        ranks = state_dict.get("ranks", [state_dict])  # checkpoints from before per-rank states held one
        _set_rng_states(rng_from_plain(ranks[self._rank] if self._rank < len(ranks) else ranks[0]))


class FiniteStateGuard(Callback):
    """Refuses to write a checkpoint whose weights hold NaN or inf, so the last good one survives.

    The model stops on a non-finite loss; this catches the step before, when a
    finite loss had non-finite gradients and the optimizer step spoiled the weights.
    """

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        for name, param in pl_module.named_parameters():
            if not torch.isfinite(param.detach()).all():
                raise FloatingPointError(f"non-finite weights in {name} after step {trainer.global_step}; "
                                         f"the checkpoint of that step was not written")


class TrainingRecord(Callback):
    """What train.py reports about training: ``batches`` this process trained (the basis of
    train/pairs_per_s, so not restored), the batches of each kind (``counts``, restored, so
    train/batch_share/<kind> covers the whole run) and the latest ``final_loss`` (kept in
    checkpoints, so a re-run of a finished job reports the same train/final_loss)."""

    def __init__(self) -> None:
        self.batches = 0
        self.counts = BatchCounts()
        self.final_loss: float | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.batches += 1
        if isinstance(batch, dict) and "kind" in batch:
            self.counts.add(batch)
            for key, value in self.counts.metrics().items():  # running shares: the curves in csv/metrics.csv
                pl_module.log(key, value, batch_size=1)
        loss = trainer.callback_metrics.get("train/loss")
        if loss is not None:
            self.final_loss = float(loss)

    def state_dict(self) -> dict[str, Any]:
        return {"final_loss": self.final_loss, "batch_counts": self.counts.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.final_loss = state_dict.get("final_loss")
        self.counts.load_state_dict(state_dict.get("batch_counts") or {})


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temp file beside it, then renames: a kill mid-write never tears last.ckpt.

    Lightning's own write stages in the system temp dir, which becomes a copy,
    not a rename, when the job dir is on another file system.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        checkpoint = plain_data(checkpoint)  # data, not code: loads with weights_only=True (checkpoint_safety.py)
        with replaced_atomically(Path(path)) as tmp, open(tmp, "wb") as fh:
            torch.save(checkpoint, fh)
            fh.flush()
            os.fsync(fh.fileno())

    def load_checkpoint(self, path: Any, map_location: Any = lambda storage, loc: storage,
                        weights_only: bool | None = True) -> dict[str, Any]:
        """Always ``weights_only=True``: a tampered checkpoint is refused, never executed."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"Checkpoint file not found: {path}")
        return load_plain(path, map_location=map_location)


class JobCheckpoints:
    """Where a job's checkpoints live, whether it resumes, and the Trainer arguments that make it so."""

    def __init__(self, cfg: DictConfig, out_dir: Path):
        node = cfg.get("checkpoint") or {}
        self.every_n_steps = int(node.get("every_n_steps", 0) or 0)
        self.resume = bool(node.get("resume", True))
        self.keep = bool(node.get("keep", False))
        self.dir = Path(out_dir) / CHECKPOINT_DIR
        self.last = self.dir / LAST
        self.record = TrainingRecord()
        self.preemption = PreemptionCheckpoint(self.last)  # SIGUSR1/SIGTERM: checkpoint, then requeue
        self._job = OmegaConf.to_yaml({k: cfg.get(k) for k in TRAINING_KEYS if k in cfg}, resolve=False)

    def trainer_kwargs(self) -> dict[str, Any]:
        callbacks: list[Callback] = [self.record, RngState(), FiniteStateGuard(), self.preemption]
        if self.every_n_steps > 0:
            callbacks.append(ModelCheckpoint(dirpath=self.dir, save_last=True, save_top_k=0,
                                             every_n_train_steps=self.every_n_steps))
        return {"callbacks": callbacks, "enable_checkpointing": self.every_n_steps > 0,
                "plugins": [AtomicCheckpointIO()]}

    def resume_path(self) -> str | None:
        """``last.ckpt`` when this job left one and may resume; also records which config the folder is for."""
        job_file = self.dir / JOB_FILE
        if self.resume and self.last.is_file():
            saved = job_file.read_text(encoding="utf-8") if job_file.is_file() else None
            if saved is not None and saved != self._job:
                raise ConfigError(
                    f"{self.last} belongs to a job with another config (differences: {self._differences(saved)}); "
                    f"re-run with the same config to resume it, or start over in this dir with checkpoint.resume=false, "
                    f"or give this job its own dir (hydra.run.dir=... / hydra.sweep.dir=...)")
            log.info("resuming from %s", self.last)
            return str(self.last)
        self.last.unlink(missing_ok=True)  # checkpoint.resume=false: a stale state must not outlive this fresh start
        if self.every_n_steps > 0:
            write_atomically(job_file, self._job)
        return None

    def _differences(self, saved: str) -> str:
        old = _flatten(OmegaConf.to_container(OmegaConf.create(saved), resolve=False))
        new = _flatten(OmegaConf.to_container(OmegaConf.create(self._job), resolve=False))
        diffs = [f"{k}: {old.get(k, '<unset>')} -> {new.get(k, '<unset>')}"
                 for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]
        return "; ".join(diffs[:5]) + (f"; and {len(diffs) - 5} more" if len(diffs) > 5 else "")

    def keep_earlier_log(self, logger: Any) -> None:
        """Lightning's CSVLogger deletes metrics.csv when it starts; a resumed job keeps the earlier curve beside it."""
        from pytorch_lightning.loggers import CSVLogger

        if isinstance(logger, CSVLogger) and (Path(logger.log_dir) / "metrics.csv").is_file():
            old = Path(logger.log_dir) / "metrics.csv"
            part = len(list(old.parent.glob("metrics.before-resume-*.csv"))) + 1
            old.rename(old.with_name(f"metrics.before-resume-{part}.csv"))

    def save_final(self, trainer: pl.Trainer) -> None:
        """After training: the final state, so a crash while evaluating does not train again."""
        if self.every_n_steps > 0 and self.record.batches > 0 and trainer.global_step % self.every_n_steps != 0:
            trainer.save_checkpoint(self.last)

    def finish(self) -> None:
        """After metrics.json is written: drop last.ckpt (weights and optimizer state) unless ``checkpoint.keep``."""
        if not self.keep:
            self.last.unlink(missing_ok=True)

    def stopped_message(self) -> str:
        if self.last.is_file():
            return (f"the last good checkpoint is kept at {self.last}; a run that resumes from it repeats the same "
                    f"steps, so first change what made training diverge (e.g. lower model.lr, set "
                    f"trainer.gradient_clip_val) in a new run dir or with checkpoint.resume=false")
        return "no checkpoint had been written yet (checkpoint.every_n_steps)"


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): node}
