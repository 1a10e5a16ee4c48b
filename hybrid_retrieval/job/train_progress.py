"""Training progress as log lines: step/total, loss, pairs/s and ETA every N steps or M seconds.

Lightning's bar is written with carriage returns, which a log file or SLURM
output turns into one endless line; off a terminal the bar is switched off
(job/train.py) and this callback (``callbacks.progress``) speaks instead. On a terminal the bar stays and
these lines still reach the job's log file (progress.emit).
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from hybrid_retrieval.progress import EVERY_S, duration, emit


class ProgressLog(Callback):
    """``train: step 12/64 (19%), loss 2.3104, 41.5 pairs/s, 0:31 elapsed, ETA 2:14``.

    A line when ``every_n_steps`` optimizer steps (0: never by count) or
    ``every_s`` seconds have passed since the last one, and at the last step.
    Rates count this process's steps only, so a resumed job's ETA is honest.
    """

    def __init__(self, every_n_steps: int = 0, every_s: float = EVERY_S):
        self.every_n_steps, self.every_s = int(every_n_steps), float(every_s)
        self._t0 = self._last_t = 0.0
        self._start_step = self._last_step = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._t0 = self._last_t = time.monotonic()
        self._start_step = self._last_step = trainer.global_step
        total = self._total(trainer)
        emit("train: started at step %d of %s", trainer.global_step, total if total else "?")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any, **kwargs: Any) -> None:
        step, now = trainer.global_step, time.monotonic()
        if step == self._last_step:
            return  # gradient accumulation: no optimizer step yet
        total = self._total(trainer)
        due = (
            (self.every_n_steps > 0 and step - self._last_step >= self.every_n_steps)
            or now - self._last_t >= self.every_s
            or (total and step >= total)
        )
        if due:
            self._last_t, self._last_step = now, step
            emit("%s", self.line(trainer, step, total, now))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        emit(
            "train: done, %d steps in %s", trainer.global_step - self._start_step, duration(time.monotonic() - self._t0)
        )

    def line(self, trainer: pl.Trainer, step: int, total: int | None, now: float) -> str:
        elapsed = now - self._t0
        steps_per_s = (step - self._start_step) / elapsed if elapsed > 0 else math.nan
        parts = [
            f"train: step {step}/{total}" + (f" ({100 * step / total:.0f}%)" if total else "")
            if total
            else f"train: step {step}"
        ]
        loss = trainer.callback_metrics.get("train/loss")
        if loss is not None:
            parts.append(f"loss {float(loss):.4f}")
        pairs = self._pairs_per_step(trainer)
        if pairs:
            parts.append(f"{pairs * steps_per_s:.1f} pairs/s")
        parts.append(f"{duration(elapsed)} elapsed")
        if total:
            parts.append(f"ETA {duration((total - step) / steps_per_s if steps_per_s > 0 else math.nan)}")
        return ", ".join(parts)

    @staticmethod
    def _total(trainer: pl.Trainer) -> int | None:
        if trainer.max_steps and trainer.max_steps > 0:
            return int(trainer.max_steps)
        try:
            total = trainer.estimated_stepping_batches
        except Exception:  # noqa: BLE001 - a dataloader without a length: no total, no ETA
            return None
        return int(total) if math.isfinite(total) else None

    @staticmethod
    def _pairs_per_step(trainer: pl.Trainer) -> int | None:
        batch_size = getattr(getattr(trainer, "datamodule", None), "batch_size", None)
        if not batch_size:
            return None
        return int(batch_size) * trainer.world_size * int(trainer.accumulate_grad_batches)


def every_s(cfg: Any) -> float:
    """``progress.every_s``: seconds between progress lines (training, and phases' heartbeats)."""
    return float((cfg.get("progress") or {}).get("every_s", EVERY_S) or EVERY_S)


def trainer_kwargs(cfg: Any) -> dict[str, Any]:
    """Trainer arguments for progress: no bar when nobody watches a terminal (the lines then come from
    ProgressLog, conf/callbacks/progress.yaml)."""
    from hybrid_retrieval.progress import interactive

    if cfg.trainer.get("enable_progress_bar") is None:
        return {"enable_progress_bar": interactive()}
    return {}
