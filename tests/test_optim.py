"""Sparse embedding updates give the same parameters as dense AdamW."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from hybrid_retrieval.model.speed.sparse_adamw import AdamWSparseRows


class Toy(nn.Module):
    def __init__(self, sparse: bool):
        super().__init__()
        self.emb = nn.Embedding(50, 8, sparse=sparse)
        self.lin = nn.Linear(8, 3)

    def forward(self, ids):
        return self.lin(self.emb(ids)).sum(dim=1)


def groups(model: Toy):
    return [
        {"params": [model.lin.weight], "weight_decay": 0.1},
        {"params": [model.lin.bias, model.emb.weight], "weight_decay": 0.0},
    ]


def test_matches_dense_adamw_over_steps_with_changing_rows():
    torch.manual_seed(0)
    dense = Toy(sparse=False)
    sparse = copy.deepcopy(dense)
    sparse.emb.sparse = True
    opt_d = torch.optim.AdamW(groups(dense), lr=1e-2, foreach=False)
    opt_s = AdamWSparseRows(groups(sparse), lr=1e-2, foreach=False)
    gen = torch.Generator().manual_seed(1)
    for step in range(12):
        ids = torch.randint(0, 20 if step < 6 else 50, (4, 5), generator=gen)  # new rows appear later
        target = torch.randn(4, 3, generator=gen)
        for model, opt in ((dense, opt_d), (sparse, opt_s)):
            opt.zero_grad(set_to_none=True)
            ((model(ids) - target) ** 2).mean().backward()
            opt.step()
        for group in opt_s.param_groups:  # schedules change lr between steps
            group["lr"] *= 0.9
        for group in opt_d.param_groups:
            group["lr"] *= 0.9
    assert sparse.emb.weight.grad.is_sparse
    for a, b in zip(dense.parameters(), sparse.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_restored_state_keeps_updating_previously_touched_rows():
    torch.manual_seed(0)
    a = Toy(sparse=True)
    opt = AdamWSparseRows(groups(a), lr=1e-2)
    ids = torch.tensor([[1, 2, 3]])
    for _ in range(2):
        opt.zero_grad()
        a(ids).sum().backward()
        opt.step()
    restored = AdamWSparseRows(groups(a), lr=1e-2)
    restored.load_state_dict(opt.state_dict())
    before = a.emb.weight[1].clone()
    restored.zero_grad()
    a(torch.tensor([[7]])).sum().backward()  # row 1 gets no gradient now, but its moments still move it
    restored.step()
    assert not torch.equal(before, a.emb.weight[1])


def test_weight_decay_on_sparse_rows_is_refused():
    model = Toy(sparse=True)
    opt = AdamWSparseRows([{"params": model.parameters(), "weight_decay": 0.01}], lr=1e-2)
    model(torch.tensor([[1]])).sum().backward()
    with pytest.raises(ValueError, match="weight decay"):
        opt.step()
