"""model.speed.fast_dropout (opt-in speed lever) and the NumPy masks it shares with unpad: same rates and scaling,
another random stream; evaluation unchanged."""

from __future__ import annotations

import torch
from conftest import compose_config, smoke_overrides
from torch import nn

from hybrid_retrieval.backbones.tiny import build_tiny_bert
from hybrid_retrieval.model.dual_encoder import DualEncoder
from hybrid_retrieval.model.speed import fast_dropout as fd
from hybrid_retrieval.model.speed import masks

TEXTS = ["query: a b c d e f g h", "query: g h"]  # unequal lengths: the padding mask matters


def embed(model: DualEncoder, train: bool, seed: int = 0) -> torch.Tensor:
    enc = model.tokenizer(TEXTS, padding=True, return_tensors="pt")
    model.train(train)
    torch.manual_seed(seed)
    with torch.set_grad_enabled(train):
        return model.embed(enc["input_ids"], enc["attention_mask"])


def test_mask_keeps_one_minus_p_and_scaling_keeps_the_mean():
    torch.manual_seed(0)
    keep = masks.keep_mask((1000, 1000), 0.1)
    assert keep.dtype == torch.bool and keep.shape == (1000, 1000)
    assert abs(keep.float().mean().item() - 0.9) < 0.002  # binomial sd 0.0003
    out = masks.drop(torch.ones(1000, 1000), 0.1)
    assert torch.equal(out.unique(), torch.tensor([0.0, 1 / 0.9]))
    assert abs(out.mean().item() - 1.0) < 0.003


def test_masks_follow_torch_seed():
    torch.manual_seed(3)
    a = masks.keep_mask((64, 64), 0.3)
    torch.manual_seed(3)
    b = masks.keep_mask((64, 64), 0.3)
    c = masks.keep_mask((64, 64), 0.3)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gradient_is_mask_times_scale():
    x = torch.randn(50, 40, requires_grad=True)
    torch.manual_seed(1)
    y = masks.drop(x, 0.25)
    (y * 2).sum().backward()
    kept = y != 0
    assert 0.6 < kept.float().mean().item() < 0.9
    assert torch.allclose(x.grad, kept.float() * 2 / 0.75)


def test_swaps_every_dropout_and_the_attention():
    model = DualEncoder(str(build_tiny_bert()), speed={"fast_dropout": True, "unpad": False})
    dropouts = [m for m in model.encoder.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and all(type(m) is fd.FastDropout for m in dropouts)
    assert model.encoder.config._attn_implementation == fd.ATTENTION


def test_evaluation_is_bit_identical_to_the_default():
    default = DualEncoder(str(build_tiny_bert()), speed={"unpad": False})  # the backbone's own modules
    fast = DualEncoder(str(build_tiny_bert()), speed={"fast_dropout": True})
    assert torch.equal(embed(default, train=False), embed(fast, train=False))


def test_training_has_noise_and_the_same_forward_without_it(monkeypatch):
    # fast_dropout's own padded training path (unpad's chunks drawing these masks: test_unpad.py)
    default = DualEncoder(str(build_tiny_bert()), speed={"unpad": False})
    fast = DualEncoder(str(build_tiny_bert()), speed={"fast_dropout": True, "unpad": False})
    assert not torch.equal(embed(fast, train=True, seed=0), embed(fast, train=True, seed=1))  # noise is there
    assert torch.equal(embed(fast, train=True, seed=5), embed(fast, train=True, seed=5))  # and seeded
    # with masks that keep everything unscaled, the training path (eager softmax, padding mask) is the
    # default's inference computation up to SDPA-vs-eager rounding
    monkeypatch.setattr(masks, "drop", lambda x, p, training=True: x)
    assert torch.allclose(embed(fast, train=True), embed(default, train=False), atol=1e-5)


def test_fast_dropout_reaches_the_job(data_root, tmp_path):
    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["model.speed.fast_dropout=true"])
    import hydra

    model = hydra.utils.instantiate(cfg.model)
    assert model.speed.fast_dropout is True
    assert any(isinstance(m, fd.FastDropout) for m in model.encoder.modules())


def test_unpad_alone_draws_numpy_masks_and_padded_default_keeps_torchs():
    """Unpadded chunks (the default) draw with the shared NumPy helper; unpad=false keeps nn.Dropout."""
    unpadded = DualEncoder(str(build_tiny_bert()))
    padded = DualEncoder(str(build_tiny_bert()), speed={"unpad": False})
    assert all(type(m) is fd.FastDropout for m in unpadded.encoder.modules() if isinstance(m, nn.Dropout))
    assert all(type(m) is nn.Dropout for m in padded.encoder.modules() if isinstance(m, nn.Dropout))
