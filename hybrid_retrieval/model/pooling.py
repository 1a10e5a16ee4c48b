"""Pooling: token states -> one vector per text, as sentence-transformers' Pooling module computes it.

Inputs are right-padded (``mask`` 1 for tokens, 0 for padding), as the collator and the evaluation
encoder pad them.
"""

from __future__ import annotations

import torch

from hybrid_retrieval.rules import one_of


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)


def cls_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return hidden[:, 0]


def max_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return hidden.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1).values


def mean_sqrt_len_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0).sqrt()


def weighted_mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Position-weighted mean (token i of the text weighs i), sentence-transformers' ``weightedmean``."""
    positions = torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype).view(1, -1, 1)
    weights = mask.unsqueeze(-1).to(hidden.dtype) * positions
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-9)


def last_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The state of each text's last token (its length - 1), sentence-transformers' ``lasttoken``."""
    last = (mask.sum(dim=1).long() - 1).clamp_min(0)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


POOLERS = {
    "mean": mean_pool,
    "cls": cls_pool,
    "max": max_pool,
    "mean_sqrt_len_tokens": mean_sqrt_len_pool,
    "weightedmean": weighted_mean_pool,
    "lasttoken": last_token_pool,
}
POOLING = one_of(lambda: tuple(sorted(POOLERS)))


def get_pooler(name: str):
    POOLING.require("model.pooling", name)
    return POOLERS[name]
