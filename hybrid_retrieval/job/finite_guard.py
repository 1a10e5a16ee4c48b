"""No bad state on disk: a checkpoint whose weights hold NaN or inf is never written."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback


class FiniteStateGuard(Callback):
    """Refuses to write a checkpoint whose weights hold NaN or inf, so the last good one survives.

    The model stops on a non-finite loss; this catches the step before, when a
    finite loss had non-finite gradients and the optimizer step spoiled the weights.
    """

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        for name, param in pl_module.named_parameters():
            if not torch.isfinite(param.detach()).all():
                raise FloatingPointError(
                    f"non-finite weights in {name} after step {trainer.global_step}; "
                    f"the checkpoint of that step was not written"
                )
