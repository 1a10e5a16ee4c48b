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


def encoder_shape(backbone: torch.nn.Module) -> dict[str, int]:
    """What the FLOP count of an encoder depends on: non-embedding parameters, layers, width."""
    return {
        "params": non_embedding_params(backbone),
        "layers": int(backbone.config.num_hidden_layers),
        "width": int(backbone.config.hidden_size),
    }


def encoding_flops(
    params: int, layers: int, width: int, tokens: float, token_squares: float, backward: bool = False
) -> float:
    """Matrix-product FLOPs of encoding texts whose real lengths sum to ``tokens`` and their squares to
    ``token_squares``: 2 per non-embedding parameter per token plus attention's 4 x length^2 x width per
    layer (forward); x3 with backward."""
    forward = 2 * params * tokens + 4 * layers * width * token_squares
    return 3 * forward if backward else forward


def sequence_flops(lengths: Iterable[int], params: int, layers: int, width: int, backward: bool) -> float:
    """:func:`encoding_flops` of sequences of these real lengths."""
    lengths = list(lengths)
    return encoding_flops(params, layers, width, sum(lengths), sum(s * s for s in lengths), backward)
