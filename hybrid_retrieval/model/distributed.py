"""Cross-device in-batch negatives: gather passages from every rank, keep the local gradient.

With ``model.cross_device_negatives=true`` each rank scores its own queries
against the passages of *all* ranks, so a run on W devices with per-device
batch B trains on the same contrastive problem as one device with batch W*B.

Why the gradients come out right: ``torch.distributed.nn.functional.all_gather``
is differentiable and its backward *sums* over ranks the gradient that every
rank's loss sends to a shard, so each rank receives for its own passages the
gradient of the sum of all ranks' losses.  DDP then averages parameter
gradients over ranks.  Each rank's loss is its local queries' mean scaled by
``W * local_queries / global_queries`` (1 with the equal shards the hybrid
sampler makes), so the mean over ranks, and therefore the averaged gradient,
is exactly the loss of one process on the concatenated batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F


def world() -> tuple[int, int]:
    """(world size, rank) of the default process group; (1, 0) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def _all_counts(counts: list[int], device: torch.device) -> torch.Tensor:
    """Every rank's ``counts`` as a (world, len(counts)) tensor."""
    local = torch.tensor(counts, dtype=torch.long, device=device)
    out = [torch.empty_like(local) for _ in range(world()[0])]
    dist.all_gather(out, local)
    return torch.stack(out).cpu()


def gather_rows(x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Concatenate every rank's ``x`` (``sizes[r]`` rows on rank r) in rank order.

    Rows are padded to the largest shard for the collective and cut back after,
    so shards may differ in length (e.g. a paragraph with fewer hard negatives).
    A tensor that requires grad is gathered differentiably; others are not.
    """
    pad = max(sizes) - x.shape[0]
    padded = F.pad(x, (0, 0) * (x.dim() - 1) + (0, pad)) if pad else x
    if x.requires_grad:
        from torch.distributed.nn.functional import all_gather

        with warnings.catch_warnings():  # deprecated in favour of private functional collectives; still correct
            warnings.simplefilter("ignore", FutureWarning)
            parts = all_gather(padded)
    else:
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:n] for part, n in zip(parts, sizes)])


def cross_device_loss(
    loss_fn: Callable[..., torch.Tensor], q: torch.Tensor, p: torch.Tensor, passage_keys: torch.Tensor | None = None
) -> torch.Tensor:
    """``loss_fn(q, passages of all ranks, their keys, offset)``, scaled as the module docstring explains.

    ``passage_keys`` must be globally meaningful (equal key = same passage on any
    rank; the collator hashes passage ids) so that false-negative masking is the
    same as on one process.  Without a process group this is ``loss_fn(q, p, keys)``.
    """
    world_size, rank = world()
    if world_size == 1:
        return loss_fn(q, p, passage_keys, 0)
    counts = _all_counts([q.shape[0], p.shape[0]], p.device)
    q_counts, p_counts = counts[:, 0].tolist(), counts[:, 1].tolist()
    p_all = gather_rows(p, p_counts)
    keys_all = gather_rows(passage_keys, p_counts) if passage_keys is not None else None
    offset = sum(p_counts[:rank])  # column of this rank's first positive
    weight = world_size * q.shape[0] / sum(q_counts)
    return loss_fn(q, p_all, keys_all, offset) * weight
