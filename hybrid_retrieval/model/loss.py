"""InfoNCE over in-batch (+ hard) negatives, separate from the encoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hybrid_retrieval.rules import above

TEMPERATURE = above(0)


class InfoNCELoss(nn.Module):
    """Cross-entropy of each query against all passages in the batch.

    Passages are ordered positives first (query i's positive at column i), then
    hard negatives.  A column that holds the *same passage* as a query's positive
    (two questions sharing one answer sentence) is masked: it is not a negative.
    """

    def __init__(self, temperature: float = 0.05):
        super().__init__()
        TEMPERATURE.require("model.loss.temperature", temperature)
        self.temperature = temperature

    def forward(
        self, q: torch.Tensor, p: torch.Tensor, passage_keys: torch.Tensor | None = None, offset: int = 0
    ) -> torch.Tensor:
        """``offset``: column of this shard's first positive when ``p`` is gathered from several ranks."""
        scores = (q @ p.T).float() / self.temperature
        labels = torch.arange(q.shape[0], device=q.device) + offset
        if passage_keys is not None:
            same = passage_keys[labels].unsqueeze(1) == passage_keys.unsqueeze(0)
            same[torch.arange(q.shape[0], device=q.device), labels] = False
            scores = scores.masked_fill(same, float("-inf"))
        return F.cross_entropy(scores, labels)
