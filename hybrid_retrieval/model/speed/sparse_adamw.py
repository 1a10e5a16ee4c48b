"""``model.speed.sparse_embeddings``: AdamW that updates an embedding table only where it has ever had a gradient.

A 250k-row vocabulary gets a dense 96M-entry gradient every step although a
batch touches a few thousand rows; zeroing it and running AdamW over all of it
costs more than the transformer's own backward on a CPU.  With no weight decay
on embedding tables (our default), AdamW leaves a row that has never had a
gradient exactly unchanged (m = v = 0), and a row that has had one must be
updated every step (its moments decay).  So updating the *ever-touched* rows,
with sparse gradients from ``nn.Embedding(sparse=True)``, gives the same
parameters as dense AdamW, at a fraction of the cost.
"""

from __future__ import annotations

import torch


class AdamWSparseRows(torch.optim.AdamW):
    """torch AdamW for dense gradients; exact row-wise AdamW for sparse ones (weight decay must be 0 there)."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self._rows: dict[torch.Tensor, torch.Tensor] = {}

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None  # before the sparse split: closure runs backward
        sparse = [(g, p) for g in self.param_groups for p in g["params"] if p.grad is not None and p.grad.is_sparse]
        stash = [(p, p.grad) for _, p in sparse]
        for p, _ in stash:
            p.grad = None  # hide from the dense AdamW step
        super().step()
        for (group, p), (_, grad) in zip(sparse, stash, strict=True):
            self._sparse_step(group, p, grad)
            p.grad = grad
        return loss

    def _sparse_step(self, group: dict, p: torch.Tensor, grad: torch.Tensor) -> None:
        if group["weight_decay"] != 0:
            raise ValueError("sparse embedding updates are exact only without weight decay on the embedding table")
        beta1, beta2 = group["betas"]
        state = self.state[p]
        if "exp_avg" not in state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        step = float(state["step"])
        grad = grad.coalesce()
        rows_now, values = grad.indices()[0], grad.values()
        if p not in self._rows:  # first step, or optimizer state restored from a checkpoint
            moved = (state["exp_avg"] != 0).any(dim=1) | (state["exp_avg_sq"] != 0).any(dim=1)
            self._rows[p] = torch.nonzero(moved).flatten()
        rows = torch.unique(torch.cat([self._rows[p], rows_now]))  # sorted
        self._rows[p] = rows
        g = torch.zeros((len(rows), p.shape[1]), dtype=values.dtype, device=values.device)
        g.index_copy_(0, torch.searchsorted(rows, rows_now), values)
        m = state["exp_avg"].index_select(0, rows).lerp_(g, 1 - beta1)
        v = state["exp_avg_sq"].index_select(0, rows).mul_(beta2).addcmul_(g, g, value=1 - beta2)
        state["exp_avg"].index_copy_(0, rows, m)
        state["exp_avg_sq"].index_copy_(0, rows, v)
        bias1, bias2 = 1 - beta1**step, 1 - beta2**step
        denom = (v.sqrt() / bias2**0.5).add_(group["eps"])
        p.index_copy_(0, rows, p.index_select(0, rows).addcdiv_(m, denom, value=-group["lr"] / bias1))
