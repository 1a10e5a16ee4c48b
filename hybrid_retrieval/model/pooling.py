"""Pooling: token states -> one vector per text."""
from __future__ import annotations

import torch

from hybrid_retrieval.rules import one_of


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)


def cls_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return hidden[:, 0]


POOLERS = {"mean": mean_pool, "cls": cls_pool}
POOLING = one_of(lambda: tuple(sorted(POOLERS)))


def get_pooler(name: str):
    POOLING.require("model.pooling", name)
    return POOLERS[name]
