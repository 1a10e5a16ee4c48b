"""GradCache: the contrastive loss of a large batch with the memory of a small one.

In-batch negatives need every embedding of the batch in one loss, but the
encoder's activations only need to exist for a chunk at a time (Gao et al.,
2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited
Setup").  Three passes:

1. embed every chunk without a graph and keep only the embeddings;
2. compute the loss on those embeddings and backpropagate it to them
   (this is where cross-device gathering, masking and hard negatives happen);
3. embed each chunk again *with* a graph and backpropagate
   ``sum(embedding * cached embedding gradient)``, which by the chain rule
   adds exactly that chunk's share of the parameter gradient.

The random state (dropout) is recorded before each chunk in pass 1 and
replayed in pass 3, so the recomputed embeddings are the ones the loss saw.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager

import torch

Inputs = Mapping[str, torch.Tensor]


class _RandomState:
    """CPU and accelerator generator states at one moment, to replay dropout masks."""

    def __init__(self, device: torch.device):
        self.cpu = torch.get_rng_state()
        self.device = device if device.type != "cpu" else None
        self.accel = None
        if self.device is not None:
            module = torch.get_device_module(self.device.type)
            self.accel = module.get_rng_state(
                self.device.index if self.device.index is not None else module.current_device()
            )

    @contextlib.contextmanager
    def replayed(self) -> Iterator[None]:
        """Run the block from the recorded state; the generators continue afterwards as if it never ran."""
        if self.device is None:
            with torch.random.fork_rng(devices=[]):
                torch.set_rng_state(self.cpu)
                yield
            return
        module = torch.get_device_module(self.device.type)
        index = self.device.index if self.device.index is not None else module.current_device()
        with torch.random.fork_rng(devices=[index], device_type=self.device.type):
            torch.set_rng_state(self.cpu)
            module.set_rng_state(self.accel, index)
            yield


def split_inputs(inputs: Inputs, chunk_size: int) -> list[dict[str, torch.Tensor]]:
    """Row chunks of a tokenised batch, each cut to its own longest sequence (trailing padding only)."""
    n = next(iter(inputs.values())).shape[0]
    chunks = []
    for start in range(0, n, chunk_size):
        chunk = {k: v[start : start + chunk_size] for k, v in inputs.items()}
        mask = chunk.get("attention_mask")
        if mask is not None and mask.dim() == 2:
            used = torch.nonzero(mask.any(dim=0))
            length = int(used.max()) + 1 if used.numel() else mask.shape[1]
            chunk = {
                k: (v[:, :length] if v.dim() >= 2 and v.shape[1] == mask.shape[1] else v) for k, v in chunk.items()
            }
        chunks.append(chunk)
    return chunks


class GradCache:
    """Chunked contrastive step whose parameter gradients equal those of the plain loss.

    Args:
        chunk_size: texts per encoder forward pass (``model.grad_cache.chunk_size``);
            queries and passages are chunked separately.
    """

    def __init__(self, chunk_size: int):
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(
                f"model.grad_cache.chunk_size={chunk_size!r}: must be a positive integer "
                f"(texts per forward pass), or null to turn GradCache off"
            )
        self.chunk_size = chunk_size

    def __call__(
        self,
        embed: Callable[..., torch.Tensor],
        groups: Sequence[Inputs],
        loss_fn: Callable[..., torch.Tensor],
        backward: Callable[[torch.Tensor], None] | None = None,
        no_sync: Callable[[], AbstractContextManager] | None = None,
    ) -> torch.Tensor:
        """Accumulate parameter gradients of ``loss_fn(*embeddings of groups)``; return the detached loss.

        ``backward`` runs the parameter backward passes (Lightning's ``manual_backward``
        for precision scaling and DDP); ``no_sync`` is entered for all but the last
        of them so DDP all-reduces the accumulated gradient once.
        """
        backward = backward or torch.Tensor.backward
        no_sync = no_sync or contextlib.nullcontext
        chunked = [split_inputs(g, self.chunk_size) for g in groups]

        states: list[list[_RandomState]] = []
        cached: list[torch.Tensor] = []
        with torch.no_grad():
            for chunks in chunked:
                states.append([])
                parts = []
                for chunk in chunks:
                    states[-1].append(_RandomState(next(iter(chunk.values())).device))
                    parts.append(embed(**chunk))
                cached.append(torch.cat(parts).detach().requires_grad_())

        loss = loss_fn(*cached)
        if not torch.isfinite(loss):
            return loss.detach()  # the caller reports it; no gradient is accumulated
        torch.autograd.backward(loss, inputs=cached)

        jobs = [
            (chunk, state, rep.grad[start : start + self.chunk_size])
            for chunks, group_states, rep in zip(chunked, states, cached)
            for chunk, state, start in zip(chunks, group_states, range(0, rep.shape[0], self.chunk_size))
        ]
        for i, (chunk, state, grad) in enumerate(jobs):
            with state.replayed():
                surrogate = torch.sum(embed(**chunk) * grad)
            with no_sync() if i < len(jobs) - 1 else contextlib.nullcontext():
                backward(surrogate)
        return loss.detach()
