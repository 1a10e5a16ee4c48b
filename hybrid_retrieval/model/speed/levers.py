"""``model.speed``: how fast a DualEncoder trains, never what it learns; the one object the model consults.

Each lever leaves the model the same: the same parameters (``sparse_embeddings``,
``fused_adamw``, ``compile``: up to rounding), or the same computation with dropout
masks from another random stream, as another seed would give (``unpad``,
``fast_dropout``).  Keys that change the model (``model.dropout``,
``model.freeze_embeddings``) or the loss (``model.cross_device_negatives``,
``model.grad_cache``) are model keys, not levers.  Defaults: the schema's
``SpeedSchema`` (hybrid_retrieval/config/schema.py), the same values as here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import nn

from hybrid_retrieval.model.speed.fast_dropout import use_fast_dropout
from hybrid_retrieval.model.speed.sparse_adamw import AdamWSparseRows
from hybrid_retrieval.model.speed.unpad import can_unpad, embed_unpadded


@dataclass
class Speed:
    """The levers (``model.speed.*``) and what they do to an encoder, its steps and its optimizer."""

    sparse_embeddings: bool = True  # sparse embedding gradients, row-wise AdamW (one process only)
    fused_adamw: bool = True  # fused AdamW kernel for the dense parameters
    unpad: bool = True  # CPU training steps in length-sorted chunks without the batch's padding
    unpad_chunk_overhead: int = 64  # tokens: the price of one more forward pass when cutting chunks
    fast_dropout: bool = False  # the padded CPU step's dropout masks from NumPy too (unpad's chunks draw so)
    compile: bool = False  # torch.compile the backbone for training (pays off on long runs)
    unpadding: bool = field(default=False, init=False, repr=False)  # unpad, on a backbone it applies to

    @classmethod
    def of(cls, config: Mapping[str, Any] | Speed | None) -> Speed:
        """From ``model.speed`` (a mapping; unknown keys fail naming them), or the defaults."""
        if isinstance(config, Speed):
            return config
        config = dict(config or {})
        unknown = sorted(set(config) - set(cls.keys()))
        if unknown:
            raise ValueError(f"model.speed: unknown keys {unknown}; valid keys: {sorted(cls.keys())}")
        return cls(**config)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.init]

    def attach(self, encoder: nn.Module) -> None:
        """Make ``encoder``'s CPU dropout draw NumPy masks where a lever wants them (see .masks)."""
        self.unpadding = bool(self.unpad) and can_unpad(encoder)
        if self.fast_dropout or self.unpadding:
            use_fast_dropout(encoder)

    def embed(
        self,
        embed_padded: Callable[..., torch.Tensor],
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        training: bool,
    ) -> torch.Tensor:
        """``embed_padded(input_ids, attention_mask)``, in unpadded chunks in a CPU training step under unpad."""
        if self.unpadding and training and input_ids.device.type == "cpu":
            return embed_unpadded(embed_padded, input_ids, attention_mask, self.unpad_chunk_overhead)
        return embed_padded(input_ids, attention_mask)

    def setup(self, encoder: nn.Module, world_size: int, stage: str) -> None:
        """Sparse embedding gradients on one process (DDP all-reduces dense ones only); compile for fitting."""
        encoder.get_input_embeddings().sparse = bool(self.sparse_embeddings) and world_size == 1
        if self.compile and stage == "fit":  # in place, so state_dict keys stay those of the backbone
            encoder.compile(dynamic=True)

    def optimizer(self, groups: list[dict[str, Any]], lr: float) -> AdamWSparseRows:
        """AdamW over ``groups``; exact row-wise updates for sparse embedding gradients."""
        return AdamWSparseRows(groups, lr=lr, fused=self.fused_adamw)
