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


def native_bf16(device: str = "auto") -> bool:
    """Whether ``device`` computes bf16 natively: a CUDA GPU with bf16 support, or a CPU where oneDNN runs
    bf16 natively (AVX512-BF16, AMX).  ``auto``/``gpu``/``cuda`` mean the GPU when there is one (Lightning's
    ``accelerator=auto``); ``cpu`` asks about the CPU even on a machine with a GPU."""
    if str(device) in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(precision: str, device: str = "auto") -> str:
    """A Lightning precision string; ``auto`` becomes ``bf16-mixed`` or ``32-true`` for the device that runs it."""
    precision = str(precision)
    if precision != AUTO:
        return precision
    return "bf16-mixed" if native_bf16(device) else "32-true"
