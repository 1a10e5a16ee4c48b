"""``model.speed.unpad``: encode a training batch in length-sorted chunks, each padded only to its own longest text.

The collator pads a batch to its longest text, so in the default job 44% of the query
tokens and 56% of the passage tokens a training step computed on were padding
(perf/RESULTS.md).  A text's embedding depends on its own tokens only, so encoding the
rows sorted by length, in chunks cut by :func:`plan_chunks`, gives the same embeddings up
to floating-point rounding, and autograd the same gradients (tests/test_unpad.py, with
dropout off).

Dropout: each chunk draws its own masks for its own shape, with the NumPy draw that
``model.speed.fast_dropout`` uses (:mod:`.masks`; PyTorch's CPU ``bernoulli_`` is a slow
serial loop on AMD CPUs).  The rates and scaling are the backbone's; only the random
stream differs from the padded step's, as another seed would.

CPU only: on a GPU the padded forward runs (GPUs lose less to padding), with the
backbone's own dropout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn


def plan_chunks(lengths: Sequence[int], overhead_tokens: int) -> list[list[int]]:
    """Row indices grouped into chunks of similar length: rows sorted by length, cut where
    ``sum(rows x longest) + overhead_tokens x chunks`` is least (exact, by dynamic programming).

    ``overhead_tokens`` prices one more forward pass in tokens (its fixed costs, and the slower
    matrix products of small chunks); 0 would give one chunk per distinct length.
    """
    order = sorted(range(len(lengths)), key=lambda r: lengths[r])
    if not order:
        return []
    sorted_lengths = np.asarray([lengths[r] for r in order], dtype=np.int64)
    n = len(order)
    best = np.zeros(n + 1, dtype=np.int64)  # best[j]: least cost of the first j sorted rows
    cut = np.zeros(n + 1, dtype=np.int64)
    starts = np.arange(n, dtype=np.int64)
    for j in range(1, n + 1):  # the last chunk is rows i..j-1, whose longest is the (j-1)th
        costs = best[:j] + (j - starts[:j]) * sorted_lengths[j - 1] + overhead_tokens
        cut[j] = int(np.argmin(costs))
        best[j] = costs[cut[j]]
    chunks, j = [], n
    while j > 0:
        chunks.append(order[cut[j] : j])
        j = int(cut[j])
    return chunks[::-1]


def can_unpad(model: nn.Module) -> bool:
    """Whether a row's embedding depends on its own tokens only: not where an attention is causal
    (the NumPy-mask attention would not know it), so such a backbone keeps the padded forward."""
    return not any(getattr(m, "is_causal", False) for m in model.modules())


def embed_unpadded(
    embed: Callable[..., torch.Tensor], input_ids: torch.Tensor, attention_mask: torch.Tensor, overhead_tokens: int
) -> torch.Tensor:
    """``embed(input_ids, attention_mask)`` of a right-padded batch, computed chunk by chunk (see module doc)."""
    lengths = attention_mask.sum(dim=1)
    chunks = plan_chunks(lengths.tolist(), overhead_tokens)
    right_padded = bool((attention_mask.cumprod(dim=1).sum(dim=1) == lengths).all())  # ones, then zeros
    if not chunks or not right_padded:
        return embed(input_ids=input_ids, attention_mask=attention_mask)
    parts, order = [], []
    for rows in chunks:
        index = torch.tensor(rows, dtype=torch.long, device=input_ids.device)
        length = int(lengths[index].max())
        parts.append(
            embed(
                input_ids=input_ids.index_select(0, index)[:, :length],
                attention_mask=attention_mask.index_select(0, index)[:, :length],
            )
        )
        order.extend(rows)
    inverse = torch.argsort(torch.tensor(order, device=input_ids.device))  # back to the batch's row order
    return torch.cat(parts).index_select(0, inverse)
