"""The random generators (dropout's) saved with each checkpoint and restored on resume.

Lightning restores weights, optimizer and loop counters but not the global generators that
dropout draws from, so without this a resumed job would train on another random stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.seed import _collect_rng_states, _set_rng_states
from pytorch_lightning.callbacks import Callback

from hybrid_retrieval.job.checkpoint_safety import plain_data


class RngState(Callback):
    """Saves the global random generators (torch, numpy, python; CUDA too) with each checkpoint.

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


def rng_to_plain(state: dict[str, Any]) -> dict[str, Any]:
    """Lightning's RNG state dict with numpy's legacy tuple turned into a list holding a tensor (plain data)."""
    out = dict(state)
    if "numpy" in out:
        name, keys, pos, has_gauss, gauss = out["numpy"]
        out["numpy"] = [
            str(name),
            torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            int(pos),
            int(has_gauss),
            float(gauss),
        ]
    return plain_data(out, "rng state")


def rng_from_plain(state: dict[str, Any]) -> dict[str, Any]:
    """Back to the form ``_set_rng_states`` takes (numpy wants its tuple with a uint32 array)."""
    out = dict(state)
    if "numpy" in out:
        name, keys, pos, has_gauss, gauss = out["numpy"]
        keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
        out["numpy"] = (name, keys.astype(np.uint32), int(pos), int(has_gauss), float(gauss))
    if "python" in out:
        version, internal, gauss = out["python"]
        out["python"] = (version, tuple(internal), gauss)
    return out
