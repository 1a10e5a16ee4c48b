"""Dropout masks from NumPy's generator: the one mask draw the CPU dropout levers share.

PyTorch draws CPU dropout masks element by element (``bernoulli_``, one thread; Intel
CPUs get an MKL path, others do not): 17% of an fp32 training step of me5-small on the
AMD EPYC of perf/RESULTS.md, 25% of a bf16 one.  NumPy's PCG64DXSM fills the same mask
about 8x faster.  Rates and scaling are those of ``F.dropout``; only the random stream
differs, so a run trains the same model *as another seed would*.  Each mask's keep
probability is ``1 - round(p * 2**16) / 2**16`` (0.9000 for p = 0.1 to 5 decimals).
Seeds come from torch's generator, so seeded runs, checkpoint resumes and GradCache's
replayed passes see the same masks.  Used by ``model.speed.fast_dropout`` (the padded
step) and ``model.speed.unpad`` (each chunk draws its own masks).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

_RESOLUTION = 1 << 16  # masks compare uint16 draws against round(p * 2**16)


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """Bool mask, each entry True with probability ~1 - p, drawn from a generator seeded by torch's."""
    seed = int(torch.randint(0, 2**62, (1,)).item())  # torch's RNG: torch.manual_seed / resume / replay govern it
    rng = np.random.Generator(np.random.PCG64DXSM(seed))
    count = int(np.prod(shape, dtype=np.int64))
    draws = np.frombuffer(rng.bytes(2 * count), dtype=np.uint16)
    keep = draws >= np.uint16(round(p * _RESOLUTION))
    return torch.from_numpy(keep).view(*shape).to(device)


def drop(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout`` with a NumPy mask on CPU (same rate, same 1/(1-p) scaling); ``F.dropout`` elsewhere."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return nn.functional.dropout(x, p, training=True)
    return torch.where(keep_mask(x.shape, p), x * (1.0 / (1.0 - p)), 0.0)  # where saves only the bool mask


def swap_dropouts(model: nn.Module, replacement: Callable[[nn.Module], nn.Module | None]) -> int:
    """Put ``replacement(child)`` in place of each child module it returns one for; how many were swapped."""
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            new = replacement(child)
            if new is not None:
                setattr(parent, name, new)
                swapped += 1
    return swapped
