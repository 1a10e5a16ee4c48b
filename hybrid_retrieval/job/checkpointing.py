"""A job's ``last.ckpt`` over its life: written every N steps and at the end, resumed from, dropped after success.

A job writes ``<output_dir>/checkpoints/last.ckpt`` every ``checkpoint.every_n_steps``
optimizer steps (:func:`periodic_checkpoint`, conf/callbacks/model_checkpoint.yaml) and once
more when training ends (:meth:`JobCheckpoints.save_final`). Re-running the job into the same
output dir resumes from it (resume.py): Lightning restores weights, optimizer, LR schedule and
loop counters, rng_state.py the random generators (dropout), and the HybridDataModule's sampler
skips the batches of the epoch already trained, so a resumed job ends with the same numbers as
one that never stopped. Once metrics.json is written the job drops ``last.ckpt`` unless
``checkpoint.keep``. Files are written atomically as plain data (checkpoint_io.py), never with
non-finite weights (finite_guard.py). See docs/errors.md, "Resume after a crash".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig
from pytorch_lightning.callbacks import ModelCheckpoint

from hybrid_retrieval.job import resume
from hybrid_retrieval.job.checkpoint_io import AtomicCheckpointIO

CHECKPOINT_DIR = "checkpoints"
LAST = "last.ckpt"


def periodic_checkpoint(
    dirpath: str, every_n_train_steps: int, save_last: bool = True, save_top_k: int = 0
) -> ModelCheckpoint | None:
    """Lightning's ModelCheckpoint writing ``last.ckpt`` every N optimizer steps; none at all when N is 0.

    ``checkpoint.every_n_steps=0`` means no checkpoints, so no callback (a ModelCheckpoint
    that never fires would still make Lightning expect checkpointing).
    """
    if not every_n_train_steps:
        return None
    return ModelCheckpoint(
        dirpath=dirpath, every_n_train_steps=int(every_n_train_steps), save_last=save_last, save_top_k=save_top_k
    )


class JobCheckpoints:
    """Where a job's checkpoints live, whether it resumes, and when its last state is written and dropped."""

    def __init__(self, cfg: DictConfig, out_dir: Path):
        node = cfg.get("checkpoint") or {}
        self.every_n_steps = int(node.get("every_n_steps", 0) or 0)
        self.resume = bool(node.get("resume", True))
        self.keep = bool(node.get("keep", False))
        self.dir = Path(out_dir) / CHECKPOINT_DIR
        self.last = self.dir / LAST
        self._job = resume.training_config(cfg)

    def trainer_kwargs(self) -> dict[str, Any]:
        """Trainer arguments beyond the callbacks (conf/callbacks/): checkpoints written atomically, as plain data."""
        return {"plugins": [AtomicCheckpointIO()]}

    def resume_path(self) -> str | None:
        """``last.ckpt`` when this job left one and may resume; also records which config the folder is for."""
        return resume.resume_path(self.last, self._job, self.resume, record=self.every_n_steps > 0)

    def save_final(self, trainer: pl.Trainer, trained_batches: int) -> None:
        """After training: the final state, so a crash while evaluating does not train again."""
        if self.every_n_steps > 0 and trained_batches > 0 and trainer.global_step % self.every_n_steps != 0:
            trainer.save_checkpoint(self.last)

    def finish(self) -> None:
        """After metrics.json is written: drop last.ckpt (weights and optimizer state) unless ``checkpoint.keep``."""
        if not self.keep:
            self.last.unlink(missing_ok=True)

    def stopped_message(self) -> str:
        if self.last.is_file():
            return (
                f"the last good checkpoint is kept at {self.last}; a run that resumes from it repeats the same "
                f"steps, so first change what made training diverge (e.g. lower model.lr, set "
                f"trainer.gradient_clip_val) in a new run dir or with checkpoint.resume=false"
            )
        return "no checkpoint had been written yet (checkpoint.every_n_steps)"
