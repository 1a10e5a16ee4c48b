"""``model.speed.fast_dropout``: the padded CPU training step draws its dropout masks from NumPy.

Rates and scaling are unchanged; only the random stream differs (:mod:`.masks`), so a run
trains the same model *as another seed would*.  ``model.speed.unpad`` (the default) draws
its chunks' masks the same way already; this lever gives the padded step (``unpad=false``,
or a batch unpad leaves padded) the faster draw too.  Off the CPU, and in evaluation, the
backbone's own code runs.

The attention-probability dropout lives inside the attention function, so an attention
implementation that calls the backbone's SDPA when no dropout applies (evaluation: the
same numbers as the default) and an eager softmax with these masks in training is
registered with transformers under :data:`ATTENTION`.
"""

from __future__ import annotations

import torch
from torch import nn

from hybrid_retrieval.model.speed import masks

ATTENTION = "hybrid_retrieval_fast_dropout"


class FastDropout(nn.Dropout):
    """An ``nn.Dropout`` (``p`` stays readable and settable) whose mask comes from :func:`.masks.keep_mask`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return masks.drop(x, self.p, self.training)


def masked_scores(
    query: torch.Tensor, key: torch.Tensor, attention_mask: torch.Tensor | None, scaling: float | None
) -> torch.Tensor:
    """QK^T * scale plus the SDPA mask (bool, True = attend, or additive float): eager attention's logits."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is None:
        return scores
    if attention_mask.dtype == torch.bool:
        return scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
    return scores + attention_mask.to(scores.dtype)


def fast_dropout_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """SDPA where no dropout applies; in training, softmax(QK^T * scale + mask) with NumPy masks, then V."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if dropout == 0.0 or not module.training or query.device.type != "cpu":
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    scores = masked_scores(query, key, attention_mask, scaling)
    probs = masks.drop(torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype), dropout)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(ATTENTION, fast_dropout_attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)  # masks built as for SDPA, which evaluation calls


def use_fast_dropout(model: nn.Module) -> int:
    """Swap every ``nn.Dropout`` of ``model`` for :class:`FastDropout` and route attention through
    :func:`fast_dropout_attention`; returns how many dropout modules were swapped."""
    swapped = masks.swap_dropouts(model, lambda m: FastDropout(m.p, m.inplace) if type(m) is nn.Dropout else None)
    config = getattr(model, "config", None)
    if config is not None and getattr(config, "_attn_implementation", None) in ("sdpa", "eager"):
        _register_attention()
        model.set_attn_implementation(ATTENTION)
    return swapped  # transformers does not save the attention name with the weights: exports load anywhere
