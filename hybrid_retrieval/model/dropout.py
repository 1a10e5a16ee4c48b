"""``model.dropout``: one dropout rate for the whole backbone, as an opt-in speed lever.

Dropout's random masks took a quarter of a bf16 training step on CPU (RESULTS.md
profile).  Setting the rate to 0 removes that work, but it trains a *different
model* (no regularising noise), so it is an ablation with a measured speed-up,
never a default.  ``None`` keeps the backbone's own rates.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

CONFIG_KEYS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout",
               "activation_dropout")  # the names BERT, XLM-R and other encoders give their rates


def set_dropout(model: nn.Module, p: float | None) -> None:
    """Every ``nn.Dropout`` of ``model`` (attention included: BERT-style SDPA reads ``dropout.p``) to ``p``."""
    if p is None:
        return
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"model.dropout={p}: must be in [0, 1) (or null for the backbone's own rates)")
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = p
    config = getattr(model, "config", None)
    for key in CONFIG_KEYS:  # so the exported config says what was trained
        if config is not None and isinstance(getattr(config, key, None), float):
            setattr(config, key, p)


def swap_dropouts(model: nn.Module, replacement: Callable[[nn.Module], nn.Module | None]) -> int:
    """Put ``replacement(child)`` in place of each child module it returns one for; how many were swapped.
    The one walk the dropout levers (fast_dropout, unpad) share: they swap by exact type."""
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            new = replacement(child)
            if new is not None:
                setattr(parent, name, new)
                swapped += 1
    return swapped
