"""model.unpad (default): length-sorted chunks without the batch's padding compute the padded step's
embeddings and gradients, with the same dropout masks, up to rounding."""
from __future__ import annotations

import pytest
import torch

from conftest import compose_config, smoke_overrides
from hybrid_retrieval.model import unpad
from hybrid_retrieval.model.dual_encoder import DualEncoder
from hybrid_retrieval.backbones.tiny import build_tiny_bert

# lengths from 3 to ~40 tokens: several chunks at a small overhead
TEXTS = [("word " * n).strip() for n in (1, 30, 2, 7, 7, 18, 3, 25, 1, 12, 5, 36)]


def test_plan_chunks_matches_hand_computed_costs():
    lengths = [5, 1, 5, 2]  # sorted: row 1 (1), row 3 (2), rows 0 and 2 (5)
    assert unpad.plan_chunks(lengths, 0) == [[1], [3], [0, 2]]  # 1 + 2 + 10 tokens
    # overhead 3: one chunk 20 + 3 = 23; two 4 + 3 + 10 + 3 = 20; three 13 + 9 = 22
    assert unpad.plan_chunks(lengths, 3) == [[1, 3], [0, 2]]
    assert unpad.plan_chunks(lengths, 100) == [[1, 3, 0, 2]]
    assert unpad.plan_chunks([], 3) == []


@pytest.mark.parametrize("overhead", [0, 7, 10_000])
def test_plan_chunks_cover_every_row_once_in_length_order(overhead):
    lengths = torch.randint(1, 50, (97,), generator=torch.Generator().manual_seed(overhead)).tolist()
    chunks = unpad.plan_chunks(lengths, overhead)
    rows = [r for c in chunks for r in c]
    assert sorted(rows) == list(range(97))
    assert [lengths[r] for r in rows] == sorted(lengths)


def make_pair(**kwargs) -> tuple[DualEncoder, DualEncoder]:
    """The same tiny backbone padded and unpadded (tiny chunk overhead: several chunks)."""
    path = str(build_tiny_bert())
    padded = DualEncoder(path, unpad=False, **kwargs)
    unpadded = DualEncoder(path, unpad=True, unpad_chunk_overhead=8, **kwargs)
    unpadded.load_state_dict(padded.state_dict())
    return padded, unpadded


def step(model: DualEncoder, seed: int, autocast: bool = False,
         texts: list[str] = TEXTS) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Embeddings of ``texts`` as queries and the gradient of an in-batch loss, in training mode."""
    enc = model.tokenizer(texts, padding=True, return_tensors="pt")
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        q = model.embed(enc["input_ids"], enc["attention_mask"])
        p = model.embed(enc["input_ids"], enc["attention_mask"])
        loss = model.loss_fn(q, p, None)
    loss.backward()
    grads = {n: (w.grad.to_dense() if w.grad.is_sparse else w.grad).clone()
             for n, w in model.named_parameters() if w.grad is not None}
    return torch.cat([q, p]).detach(), grads


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("fast_dropout", [False, True])
def test_unpadded_step_equals_padded_step_with_the_same_masks(fast_dropout):
    padded, unpadded = make_pair(fast_dropout=fast_dropout)
    assert unpadded.unpad and not padded.unpad
    e_pad, g_pad = step(padded, seed=3)
    e_unp, g_unp = step(unpadded, seed=3)
    assert torch.allclose(e_pad, e_unp, atol=1e-6)
    assert max_diff(g_pad, g_unp) < 1e-5
    # the comparison can fail: another seed's masks move embeddings and gradients far more
    e_other, g_other = step(padded, seed=4)
    assert (e_pad - e_other).abs().max().item() > 1e-2
    assert max_diff(g_pad, g_other) > 1e-3


def test_one_chunk_batch_replays_its_masks_with_torch_masks(monkeypatch):
    """A batch of equal lengths is one chunk; it still takes the replay, whose masks torch_masks draws."""
    padded, unpadded = make_pair()
    same_length = [f"word{i} " * 6 for i in range(8)]
    draws = []
    real = unpad.keep_mask_like_torch
    monkeypatch.setattr(unpad, "keep_mask_like_torch", lambda *a: draws.append(a[0]) or real(*a))
    e_pad, g_pad = step(padded, seed=3, texts=same_length)
    assert not draws  # the padded model draws with F.dropout
    e_unp, g_unp = step(unpadded, seed=3, texts=same_length)
    assert draws and all(shape[0] == len(same_length) for shape in draws)
    assert torch.allclose(e_pad, e_unp, atol=1e-6) and max_diff(g_pad, g_unp) < 1e-5


def test_causal_attention_keeps_the_padded_forward():
    path = str(build_tiny_bert())
    model = DualEncoder(path, unpad=False)
    for module in model.encoder.modules():
        if hasattr(module, "is_causal"):
            module.is_causal = True
    assert not unpad.use_unpadded_dropout(model.encoder)


def test_bf16_autocast_step_differs_only_by_bf16_rounding():
    padded, unpadded = make_pair()
    e_pad, _ = step(padded, seed=3, autocast=True)
    e_unp, _ = step(unpadded, seed=3, autocast=True)
    e_other, _ = step(padded, seed=4, autocast=True)
    rounding = (e_pad - e_unp).abs().max().item()
    assert rounding < 0.2 * (e_pad - e_other).abs().max().item()


def test_chunks_are_really_unpadded(monkeypatch):
    """The encoder sees chunks no wider than their longest text (else nothing was saved)."""
    _, unpadded = make_pair()
    widths: list[tuple[int, int]] = []
    unpadded.encoder.register_forward_pre_hook(
        lambda _m, _a, kw: widths.append(tuple(kw["attention_mask"].shape)) or None, with_kwargs=True)
    enc = unpadded.tokenizer(TEXTS, padding=True, return_tensors="pt")
    unpadded.train()
    unpadded.embed(enc["input_ids"], enc["attention_mask"])
    assert len(widths) > 1 and sum(r for r, _ in widths) == len(TEXTS)
    padded_tokens = enc["attention_mask"].numel()
    assert sum(r * w for r, w in widths) < 0.7 * padded_tokens


def test_evaluation_mode_runs_the_padded_forward():
    padded, unpadded = make_pair()
    enc = padded.tokenizer(TEXTS, padding=True, return_tensors="pt")
    outs = []
    for model in (padded, unpadded):
        model.eval()
        with torch.no_grad():
            outs.append(model.embed(enc["input_ids"], enc["attention_mask"]))
    assert torch.equal(*outs)


def test_left_padded_batches_fall_back_to_the_padded_forward():
    _, unpadded = make_pair()
    ids = torch.tensor([[0, 0, 7, 8], [5, 6, 7, 8]])
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    calls = []
    unpadded.encoder.register_forward_pre_hook(lambda *_a, **_k: calls.append(1))
    unpadded.train()
    unpadded.embed(ids, mask)
    assert len(calls) == 1


def test_unpad_is_the_default_of_a_job(data_root, tmp_path):
    import hydra

    cfg = compose_config(smoke_overrides(data_root, tmp_path))
    assert cfg.model.unpad is True
    assert hydra.utils.instantiate(cfg.model).unpad
    off = compose_config(smoke_overrides(data_root, tmp_path) + ["model.unpad=false"])
    assert not hydra.utils.instantiate(off.model).unpad
