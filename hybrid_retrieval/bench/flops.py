"""The arithmetic of a transformer encoder: tokens computed on, parameters touched, FLOPs.

MFU and a job's floor divide these counts by a measured matrix-product rate
(:mod:`hybrid_retrieval.bench.hardware`); counting them once keeps every
benchmark on the same convention.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def non_embedding_params(model: torch.nn.Module) -> int:
    """The parameters a token's matrix products touch: 2 FLOPs each forward (6 with backward), the MFU convention."""
    return sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n and "pooler" not in n)


def count_tokens(backbone: torch.nn.Module) -> dict[str, int]:
    """Live counts of the tokens each forward of ``backbone`` computes on ("padded") and of those that
    are text ("real"): MFU counts what the hardware computed, padding included."""
    tokens = {"padded": 0, "real": 0}

    def count(_module, _args, kwargs):
        tokens["padded"] += int(kwargs["input_ids"].numel())
        tokens["real"] += int(kwargs["attention_mask"].sum())

    backbone.register_forward_pre_hook(count, with_kwargs=True)
    return tokens


def sequence_flops(lengths: Iterable[int], params: int, layers: int, width: int, backward: bool) -> float:
    """Matrix-product FLOPs of encoding sequences of these real lengths: 2 per non-embedding parameter per
    token plus attention's 4 x length^2 x width per layer (forward); x3 with backward."""
    forward = sum(2 * params * s + 4 * layers * width * s * s for s in lengths)
    return 3 * forward if backward else forward
