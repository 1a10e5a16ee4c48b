"""How checkpoint files are written and read: atomically, and as plain data only (checkpoint_safety.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins import TorchCheckpointIO

from hybrid_retrieval.files import replaced_atomically
from hybrid_retrieval.job.checkpoint_safety import load_plain, plain_data


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

    def load_checkpoint(
        self, path: Any, map_location: Any = lambda storage, loc: storage, weights_only: bool | None = True
    ) -> dict[str, Any]:
        """Always ``weights_only=True``: a tampered checkpoint is refused, never executed."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"Checkpoint file not found: {path}")
        return load_plain(path, map_location=map_location)
