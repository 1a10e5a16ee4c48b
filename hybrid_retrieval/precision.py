"""``precision: auto``: bf16 where the hardware computes it natively, fp32 elsewhere.

bf16 autocast is a large win on GPUs and on CPUs with AVX512-BF16 or AMX, but
on a CPU without native bf16 (AVX2 only, e.g. AMD Zen 3) oneDNN emulates it
and a matrix product ran 53x slower than in fp32 (measured here: 9.0 s vs
0.17 s for 2048x384 @ 384x1536).  A default that is fast on one machine and
unusable on another is no default, so ``auto`` asks PyTorch what this machine
supports when the job starts.
"""
from __future__ import annotations

import torch

AUTO = "auto"


def native_bf16() -> bool:
    """True on a CUDA device with bf16 support, or a CPU where oneDNN runs bf16 natively (AVX512-BF16, AMX)."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(precision: str) -> str:
    """A Lightning precision string; ``auto`` becomes ``bf16-mixed`` or ``32-true`` for this machine."""
    precision = str(precision)
    if precision != AUTO:
        return precision
    return "bf16-mixed" if native_bf16() else "32-true"
