"""model.speed.unpad (default): length-sorted chunks without the batch's padding compute the padded step's
embeddings, loss and gradients up to rounding (dropout off); with dropout on, each chunk draws its own masks
at the backbone's rates (tested statistically)."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import compose_config, smoke_overrides

from hybrid_retrieval.backbones.tiny import build_tiny_bert
from hybrid_retrieval.model.dual_encoder import DualEncoder
from hybrid_retrieval.model.speed import Speed, masks, unpad
from hybrid_retrieval.model.speed.fast_dropout import FastDropout

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
    padded = DualEncoder(path, speed={"unpad": False}, **kwargs)
    unpadded = DualEncoder(path, speed={"unpad": True, "unpad_chunk_overhead": 8}, **kwargs)
    unpadded.load_state_dict(padded.state_dict())
    return padded, unpadded


def step(
    model: DualEncoder, seed: int, autocast: bool = False, texts: list[str] = TEXTS
) -> tuple[torch.Tensor, dict[str, torch.Tensor], float]:
    """Embeddings of ``texts`` as queries, the gradient of an in-batch loss and the loss, in training mode."""
    enc = model.tokenizer(texts, padding=True, return_tensors="pt")
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        q = model.embed(enc["input_ids"], enc["attention_mask"])
        p = model.embed(enc["input_ids"], enc["attention_mask"])
        loss = model.loss_fn(q, p, None)
    loss.backward()
    grads = {
        n: (w.grad.to_dense() if w.grad.is_sparse else w.grad).clone()
        for n, w in model.named_parameters()
        if w.grad is not None
    }
    return torch.cat([q, p]).detach(), grads, loss.item()


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_unpadded_step_equals_padded_step_with_dropout_off():
    padded, unpadded = make_pair(dropout=0.0)
    assert unpadded.speed.unpadding and not padded.speed.unpadding
    e_pad, g_pad, l_pad = step(padded, seed=3)
    e_unp, g_unp, l_unp = step(unpadded, seed=3)
    assert torch.allclose(e_pad, e_unp, atol=1e-6)
    assert max_diff(g_pad, g_unp) < 1e-5
    assert l_unp == pytest.approx(l_pad, rel=1e-6)
    # the comparison can fail: the backbone's dropout moves embeddings and gradients far more
    noisy, _ = make_pair()
    noisy.load_state_dict(padded.state_dict())
    e_other, g_other, _ = step(noisy, seed=3)
    assert (e_pad - e_other).abs().max().item() > 1e-2
    assert max_diff(g_pad, g_other) > 1e-3


def test_unpadded_dropout_path_without_its_masks_is_the_padded_step(monkeypatch):
    """Chunks' dropout (modules and the eager attention) with masks that keep everything unscaled compute
    the padded step without dropout: the masks are all the unpadded path changes."""
    padded, unpadded = make_pair(dropout=0.0)
    e_pad, g_pad, _ = step(padded, seed=3)
    noisy = DualEncoder(str(build_tiny_bert()), speed={"unpad_chunk_overhead": 8})
    noisy.load_state_dict(padded.state_dict())
    monkeypatch.setattr(masks, "drop", lambda x, p, training=True: x)
    e_unp, g_unp, _ = step(noisy, seed=3)
    assert torch.allclose(e_pad, e_unp, atol=1e-5) and max_diff(g_pad, g_unp) < 1e-4


def within_binomial_bounds(kept: int, n: int, p: float, sds: float = 5.0) -> bool:
    """``kept`` of ``n`` is within ``sds`` standard deviations of a Binomial(n, 1 - p) draw's mean
    (p as the NumPy masks realise it: round(p * 2**16) / 2**16)."""
    q = 1 - round(p * 2**16) / 2**16
    return abs(kept - n * q) <= sds * math.sqrt(n * q * (1 - q))


def test_unpadded_chunks_draw_their_own_masks_at_the_backbones_rates(monkeypatch):
    _, unpadded = make_pair()
    drawn: list[tuple[tuple[int, ...], float, torch.Tensor]] = []  # (shape, rate, mask) of every draw
    real = masks.keep_mask

    def recorded(shape, p, *args):
        mask = real(shape, p, *args)
        drawn.append((tuple(shape), p, mask))
        return mask

    monkeypatch.setattr(masks, "keep_mask", recorded)
    realised = {}  # rate -> [kept, dropped] of the hidden-state dropouts' nonzero inputs

    def count(module, inputs, output):
        x = inputs[0]
        live = x != 0
        kept = (output != 0) & live
        assert torch.allclose(output[kept], x[kept] / (1 - module.p))  # F.dropout's scaling
        tally = realised.setdefault(module.p, [0, 0])
        tally[0] += int(kept.sum())
        tally[1] += int(live.sum())

    for m in unpadded.encoder.modules():
        if isinstance(m, FastDropout):
            m.register_forward_hook(count)
    enc = unpadded.tokenizer(TEXTS, padding=True, return_tensors="pt")
    unpadded.train()
    for seed in range(8):
        torch.manual_seed(seed)
        unpadded.embed(enc["input_ids"], enc["attention_mask"])
    assert drawn and all(shape[0] < len(TEXTS) for shape, _, _ in drawn)  # chunks' rows, not the batch's
    config = unpadded.encoder.config
    rates = {p for _, p, _ in drawn}
    assert rates == {config.hidden_dropout_prob, config.attention_probs_dropout_prob}
    for rate in rates:  # every mask drawn (hidden states and attention probabilities)
        kept = sum(int(m.sum()) for _, p, m in drawn if p == rate)
        n = sum(m.numel() for _, p, m in drawn if p == rate)
        assert n > 100_000 and within_binomial_bounds(kept, n, rate), (rate, kept / n)
    for rate, (kept, n) in realised.items():  # what the hidden states really lost
        assert n > 100_000 and within_binomial_bounds(kept, n, rate), (rate, kept / n)


def test_binomial_bounds_reject_another_rate():
    assert within_binomial_bounds(90_000, 100_000, 0.1)
    assert not within_binomial_bounds(89_000, 100_000, 0.1) and not within_binomial_bounds(91_000, 100_000, 0.1)


def test_causal_attention_keeps_the_padded_forward():
    path = str(build_tiny_bert())
    model = DualEncoder(path, speed={"unpad": False})
    for module in model.encoder.modules():
        if hasattr(module, "is_causal"):
            module.is_causal = True
    assert not unpad.can_unpad(model.encoder)
    speed = Speed()
    speed.attach(model.encoder)
    assert not speed.unpadding


def test_bf16_autocast_step_differs_only_by_bf16_rounding():
    padded, unpadded = make_pair(dropout=0.0)
    e_pad, _, _ = step(padded, seed=3, autocast=True)
    e_unp, _, _ = step(unpadded, seed=3, autocast=True)
    e_fp32, _, _ = step(padded, seed=3)
    bf16_rounding = (e_pad - e_fp32).abs().max().item()
    assert 0 < bf16_rounding and (e_unp - e_fp32).abs().max().item() < 3 * bf16_rounding


def test_chunks_are_really_unpadded(monkeypatch):
    """The encoder sees chunks no wider than their longest text (else nothing was saved)."""
    _, unpadded = make_pair()
    widths: list[tuple[int, int]] = []
    unpadded.encoder.register_forward_pre_hook(
        lambda _m, _a, kw: widths.append(tuple(kw["attention_mask"].shape)) or None, with_kwargs=True
    )
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
    assert cfg.model.speed.unpad is True
    assert hydra.utils.instantiate(cfg.model).speed.unpadding
    off = compose_config(smoke_overrides(data_root, tmp_path) + ["model.speed.unpad=false"])
    assert not hydra.utils.instantiate(off.model).speed.unpadding
