"""``model.dropout``: one dropout rate for the whole backbone; opt-in, a model key (not one of ``model.speed``).

Dropout's random masks took a quarter of a bf16 training step on CPU (RESULTS.md
profile).  Setting the rate to 0 removes that work, but it trains a *different
model* (no regularising noise), so it is an ablation with a measured speed-up,
never a default.  ``None`` keeps the backbone's own rates.
"""

from __future__ import annotations

from torch import nn

from hybrid_retrieval.rules import Valid

RATE = Valid(lambda v: v is None or 0.0 <= float(v) < 1.0, "in [0, 1) (or null for the backbone's own rates)")

CONFIG_KEYS = (
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "dropout",
    "attention_dropout",
    "activation_dropout",
)  # the names BERT, XLM-R and other encoders give their rates


def set_dropout(model: nn.Module, p: float | None) -> None:
    """Every ``nn.Dropout`` of ``model`` (attention included: BERT-style SDPA reads ``dropout.p``) to ``p``."""
    if p is None:
        return
    RATE.require("model.dropout", p)
    p = float(p)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = p
    config = getattr(model, "config", None)
    for key in CONFIG_KEYS:  # so the exported config says what was trained
        if config is not None and isinstance(getattr(config, key, None), float):
            setattr(config, key, p)
