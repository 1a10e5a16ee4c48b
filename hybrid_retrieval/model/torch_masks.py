"""The dropout masks PyTorch's CPU ``bernoulli_`` draws, bit for bit, 2-4x faster.

On CPU, ``F.dropout`` fills its noise with ``bernoulli_``, which draws element by element
from the default generator (an MT19937): two 32-bit outputs per element, kept when their
low 53 bits scaled to [0, 1) fall below ``1 - p``.  That serial loop was a fifth of an
unpadded training step (perf/RESULTS.md).  This module reads the generator's state with
``torch.get_rng_state``, runs the same Mersenne Twister in a compiled loop (numba), and
writes the advanced state back: the same masks and the same generator state after, so a
seeded run trains exactly the model it trained before.  Written by hand because no
library reproduces torch's stream; checked against ``bernoulli_`` once per process (and
by tests/test_torch_masks.py), with ``F.dropout``'s own draw as the fallback wherever the
check fails (another PyTorch build) or numba is missing.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

_N = 624  # MT19937 state words
_STATE_BYTES = 5056  # CPUGeneratorImpl's serialised state: seed, left, seeded, next, 624 words, normal caches
_LEFT, _NEXT, _WORDS = 8, 16, 24  # byte offsets of left (int32), next (uint64), the words (uint64 each)

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; without it the fallback draws
    njit = None

_verified: bool | None = None


def _twist(mt):
    """MT19937's regeneration of its 624 words, in place."""
    upper, lower, a, one = np.uint32(0x80000000), np.uint32(0x7FFFFFFF), np.uint32(0x9908B0DF), np.uint32(1)
    for i in range(227):
        y = (mt[i] & upper) | (mt[i + 1] & lower)
        mt[i] = mt[i + 397] ^ (y >> one) ^ (a * (y & one))
    for i in range(227, 623):
        y = (mt[i] & upper) | (mt[i + 1] & lower)
        mt[i] = mt[i - 227] ^ (y >> one) ^ (a * (y & one))
    y = (mt[623] & upper) | (mt[0] & lower)
    mt[623] = mt[396] ^ (y >> one) ^ (a * (y & one))


def _temper(y):
    y ^= y >> np.uint32(11)
    y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
    y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
    return y ^ (y >> np.uint32(18))


def _fill(mt, pos, threshold, out):
    """out[i] = (53 low bits of draws 2i, 2i+1) < threshold; returns the next word's position."""
    low21, shift = np.uint64(0x1FFFFF), np.uint64(32)
    n, i = out.size, 0
    while i < n:
        if pos >= 624:
            _twist(mt)
            pos = 0
        if pos % 2 == 0:  # whole elements left in this block: a branch-free loop
            m = min((624 - pos) // 2, n - i)
            for j in range(m):
                hi = np.uint64(_temper(mt[pos + 2 * j]))
                lo = np.uint64(_temper(mt[pos + 2 * j + 1]))
                out[i + j] = (((hi & low21) << shift) | lo) < threshold
            i += m
            pos += 2 * m
            continue
        hi = np.uint64(_temper(mt[pos]))  # an element whose two draws straddle a twist
        pos += 1
        if pos >= 624:
            _twist(mt)
            pos = 0
        lo = np.uint64(_temper(mt[pos]))
        pos += 1
        out[i] = (((hi & low21) << shift) | lo) < threshold
        i += 1
    return pos


if njit is not None:  # compiled on first call, cached on disk (numba's cache) for later processes
    _twist, _temper, _fill = (njit(cache=True, nogil=True)(f) for f in (_twist, _temper, _fill))


def _fast_keep(shape: tuple[int, ...], p: float) -> torch.Tensor:
    count = math.prod(shape)
    out = np.empty(count, dtype=np.bool_)
    if count == 0:
        return torch.from_numpy(out).view(shape)
    state = torch.get_rng_state().numpy().copy()
    left = int(state[_LEFT:_LEFT + 4].view(np.int32)[0])
    words = state[_WORDS:_WORDS + 8 * _N].view(np.uint64)
    mt = words.astype(np.uint32)
    pos = _N if left == 1 else int(state[_NEXT:_NEXT + 8].view(np.uint64)[0])  # left 1: the next draw twists
    threshold = np.uint64(math.ceil((1.0 - p) * 2.0 ** 53))  # k / 2**53 < 1 - p  <=>  k < ceil((1 - p) 2**53)
    pos = _fill(mt, pos, threshold, out)
    words[:] = mt
    state[_LEFT:_LEFT + 4].view(np.int32)[0] = 1 if pos == _N else _N + 1 - pos
    state[_NEXT:_NEXT + 8].view(np.uint64)[0] = pos
    torch.set_rng_state(torch.from_numpy(state))
    return torch.from_numpy(out).view(shape)


def _torch_keep(shape: tuple[int, ...], p: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return nn.functional.dropout(torch.ones(shape, dtype=dtype), p, training=True) != 0


def _matches_torch() -> bool:
    """Same masks and same generator state after, on both word alignments and across a twist."""
    if njit is None or torch.get_rng_state().numel() != _STATE_BYTES:
        return False
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(20261203)
        for shape, p, odd, dtype in (((5,), 0.1, False, torch.float32), ((3, 401), 0.25, True, torch.float32),
                                     ((700,), 0.1, False, torch.bfloat16)):
            if odd:
                torch.rand(1)  # one 32-bit draw: the next element starts on an odd word
            before = torch.get_rng_state()
            ours, after = _fast_keep(shape, p), torch.get_rng_state()
            torch.set_rng_state(before)
            if not (torch.equal(ours, _torch_keep(shape, p, dtype)) and torch.equal(after, torch.get_rng_state())):
                return False
    return True


def available() -> bool:
    """Whether :func:`keep_mask_like_torch` takes the fast path in this process (checked once)."""
    global _verified
    if _verified is None:
        _verified = _matches_torch()
    return _verified


def keep_mask_like_torch(shape: tuple[int, ...], p: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The bool keep mask ``F.dropout(torch.ones(shape, dtype=dtype), p)`` draws on CPU, advancing torch's
    generator alike (the draws do not depend on the dtype)."""
    if available():
        return _fast_keep(tuple(shape), p)
    return _torch_keep(tuple(shape), p, dtype)
