"""What a job reports about its training (``train/*`` in metrics.json), counted as the batches go by."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from hybrid_retrieval.job.batch_counts import BatchCounts


class TrainingRecord(Callback):
    """What train.py reports about training: ``batches`` this process trained (the basis of
    train/pairs_per_s, so not restored), the batches of each kind (``counts``, restored, so
    train/batch_share/<kind> covers the whole run) and the latest ``final_loss`` (kept in
    checkpoints, so a re-run of a finished job reports the same train/final_loss)."""

    def __init__(self) -> None:
        self.batches = 0
        self.counts = BatchCounts()
        self.final_loss: float | None = None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
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
