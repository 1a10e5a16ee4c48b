"""``model.unpad``: encode a training batch in length-sorted chunks, each padded only to its own longest text.

The collator pads a batch to its longest text, so in the default job 44% of the query
tokens and 56% of the passage tokens a training step computed on were padding
(perf/RESULTS.md).  A text's embedding depends on its own tokens only, so encoding the
rows sorted by length, in chunks cut by :func:`plan_chunks`, gives the same embeddings up
to floating-point rounding, and autograd the same gradients.

Dropout is what ties a row to the padded batch: its masks are drawn for the padded
shape, in call order.  To keep that random stream, the first chunk to reach dropout call
*j* of a forward pass draws call *j*'s mask for the whole padded batch, with the op the
padded forward would have used (``F.dropout``'s ``bernoulli_`` on the same shape, drawn
bit for bit by :mod:`~hybrid_retrieval.model.torch_masks` 2-4x faster, or
:func:`~hybrid_retrieval.model.fast_dropout.keep_mask` under ``model.fast_dropout``);
every chunk then takes its rows and positions of it.  Nothing else draws in between, so a
seeded run draws the same masks as the padded one and trains the same model up to rounding
(tests/test_unpad.py).  A batch that needs one chunk takes the same path, for the faster
draw.  What remains of dropout's cost is the full-shape draw.

CPU only: on a GPU, SDPA draws attention dropout inside fused kernels that cannot be
replayed, so there the padded forward runs (and GPUs lose less to padding).
"""
from __future__ import annotations

import contextlib
import functools
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from hybrid_retrieval.model.dropout import swap_dropouts
from hybrid_retrieval.model.fast_dropout import (ATTENTION as FAST_ATTENTION, FastDropout, fast_dropout_attention,
                                                 keep_mask, masked_scores)
from hybrid_retrieval.model.torch_masks import keep_mask_like_torch

ATTENTION = "hybrid_retrieval_unpadded"
FAST = "hybrid_retrieval_unpadded_fast"


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
        chunks.append(order[cut[j]:j])
        j = int(cut[j])
    return chunks[::-1]


class _Replay:
    """Full-batch dropout masks of one forward pass, drawn once per call index and sliced per chunk."""

    def __init__(self, rows: int, width: int):
        self.rows, self.width = rows, width
        self.masks: list[torch.Tensor] = []
        self.index: torch.Tensor | None = None
        self.length = 0
        self.call = 0
        self.calls_per_chunk: int | None = None

    def start_chunk(self, index: torch.Tensor, length: int) -> None:
        self.index, self.length, self.call = index, length, 0

    def end_chunk(self) -> None:
        """Every chunk must make the first one's dropout calls, or the masks would pair up wrongly."""
        if self.calls_per_chunk is None:
            self.calls_per_chunk = self.call
        elif self.call != self.calls_per_chunk:
            raise RuntimeError(f"model.unpad: a chunk made {self.call} dropout calls, the first "
                               f"{self.calls_per_chunk}; set model.unpad=false for this backbone")

    def mask(self, shape: torch.Size, seq_dims: Sequence[int], draw: Callable[[tuple[int, ...]], torch.Tensor]):
        """This chunk's part of dropout call ``call``'s full-batch mask (drawn by ``draw`` on first use)."""
        if any(shape[d] != self.length for d in seq_dims) or shape[0] != len(self.index):
            raise RuntimeError(f"model.unpad: a dropout input of shape {tuple(shape)} is not (rows, length, ...) "
                               f"of this chunk ({len(self.index)}, {self.length}); set model.unpad=false")
        if self.call == len(self.masks):
            full = list(shape)
            full[0] = self.rows
            for d in seq_dims:
                full[d] = self.width
            self.masks.append(draw(tuple(full)))
        full_mask = self.masks[self.call]
        self.call += 1
        part = full_mask.index_select(0, self.index)
        for d in seq_dims:
            part = part.narrow(d, 0, self.length)
        return part


_active: _Replay | None = None


@contextlib.contextmanager
def _replaying(rows: int, width: int) -> Iterator[_Replay]:
    global _active
    _active = replay = _Replay(rows, width)
    try:
        yield replay
    finally:
        _active = None


def _drop(x: torch.Tensor, p: float, seq_dims: Sequence[int], fast: bool, draw_dtype: torch.dtype) -> torch.Tensor:
    """Dropout of a chunk's ``x`` with its slice of the replayed full-batch mask; values as the padded forward's."""
    if fast:
        keep = _active.mask(x.shape, seq_dims, lambda shape: keep_mask(shape, p))
        return torch.where(keep, x * (1.0 / (1.0 - p)), 0.0)
    keep = _active.mask(x.shape, seq_dims, lambda shape: keep_mask_like_torch(shape, p, draw_dtype))
    scale = torch.ones((), dtype=x.dtype).div_(1.0 - p)  # the kept value F.dropout's noise holds
    return x * torch.where(keep, scale, torch.zeros((), dtype=x.dtype))


class _Replayable:
    """Dropout that takes its mask from the active replay, if any, else draws as its base class does."""

    fast = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _active is None or not self.training or self.p == 0.0:
            return super().forward(x)
        return _drop(x, self.p, (1,), self.fast, x.dtype)  # hidden states: (rows, length, hidden)


class ReplayDropout(_Replayable, nn.Dropout):
    pass


class ReplayFastDropout(_Replayable, FastDropout):
    fast = True


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, *, fast: bool, **kwargs):
    """Training with replay: softmax(QK^T * scale + mask) with the replayed mask, then V; else the inner attention
    (SDPA, or fast_dropout's), so evaluation computes exactly what it did."""
    if _active is not None and getattr(module, "is_causal", False):  # use_unpadded_dropout refuses such models
        raise RuntimeError("model.unpad: a causal attention cannot replay the padded dropout masks; "
                           "set model.unpad=false")
    if _active is None or dropout == 0.0 or not module.training:
        if fast:
            return fast_dropout_attention(module, query, key, value, attention_mask, scaling=scaling,
                                          dropout=dropout, **kwargs)
        from transformers.integrations.sdpa_attention import sdpa_attention_forward
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout,
                                      **kwargs)
    # SDPA's math path (the one CPU training takes) computes half-precision inputs in fp32, dropout included
    work = torch.float32 if (query.dtype in (torch.bfloat16, torch.float16) and not fast) else query.dtype
    scores = masked_scores(query.to(work), key.to(work), attention_mask, scaling)
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(work)
    probs = _drop(probs, dropout, (2, 3), fast, work)
    return torch.matmul(probs, value.to(probs.dtype)).to(query.dtype).transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    for name, fast in ((ATTENTION, False), (FAST, True)):
        AttentionInterface.register(name, functools.partial(_attention, fast=fast))
        AttentionMaskInterface.register(name, sdpa_mask)


def use_unpadded_dropout(model: nn.Module) -> bool:
    """Make ``model``'s dropout replayable; False (nothing changed) where its attention is not one we can replay."""
    config = getattr(model, "config", None)
    attention = getattr(config, "_attn_implementation", None) if config is not None else None
    if attention not in ("sdpa", FAST_ATTENTION) or any(getattr(m, "is_causal", False) for m in model.modules()):
        return False
    replayable = {nn.Dropout: ReplayDropout, FastDropout: ReplayFastDropout}
    swap_dropouts(model, lambda m: replayable[type(m)](m.p, m.inplace) if type(m) in replayable else None)
    _register_attention()
    model.set_attn_implementation(FAST if attention == FAST_ATTENTION else ATTENTION)
    return True


def embed_unpadded(embed: Callable[..., torch.Tensor], input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   overhead_tokens: int) -> torch.Tensor:
    """``embed(input_ids, attention_mask)`` of a right-padded batch, computed chunk by chunk (see module doc)."""
    lengths = attention_mask.sum(dim=1)
    chunks = plan_chunks(lengths.tolist(), overhead_tokens)
    right_padded = bool((attention_mask.cumprod(dim=1).sum(dim=1) == lengths).all())  # ones, then zeros
    if not chunks or not right_padded:
        return embed(input_ids=input_ids, attention_mask=attention_mask)
    parts, order = [], []
    with _replaying(input_ids.shape[0], attention_mask.shape[1]) as replay:
        for rows in chunks:
            index = torch.tensor(rows, dtype=torch.long, device=input_ids.device)
            length = int(lengths[index].max())
            replay.start_chunk(index, length)
            parts.append(embed(input_ids=input_ids.index_select(0, index)[:, :length],
                               attention_mask=attention_mask.index_select(0, index)[:, :length]))
            replay.end_chunk()
            order.extend(rows)
    inverse = torch.argsort(torch.tensor(order, device=input_ids.device))  # back to the batch's row order
    return torch.cat(parts).index_select(0, inverse)
