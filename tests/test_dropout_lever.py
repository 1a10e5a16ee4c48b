"""model.dropout (opt-in speed lever): what it changes is stated as 'a different model', and tested as such."""

from __future__ import annotations

import pytest
import torch
from conftest import compose_config, smoke_overrides
from torch import nn

from hybrid_retrieval.backbones.tiny import build_tiny_bert
from hybrid_retrieval.model.dual_encoder import DualEncoder


def embed_twice(model: DualEncoder, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    enc = model.tokenizer(["query: a b c d e f", "query: g h"], padding=True, return_tensors="pt")
    model.train()
    torch.manual_seed(seed)
    first = model.embed(enc["input_ids"], enc["attention_mask"])
    second = model.embed(enc["input_ids"], enc["attention_mask"])
    return first, second


def rates(model: DualEncoder) -> set[float]:
    return {m.p for m in model.encoder.modules() if isinstance(m, nn.Dropout)}


def test_default_keeps_the_backbones_rates_and_their_noise():
    model = DualEncoder(str(build_tiny_bert()))
    assert rates(model) == {model.encoder.config.hidden_dropout_prob} and rates(model) != {0.0}
    first, second = embed_twice(model)
    assert not torch.equal(first, second)  # dropout noise: two training-mode passes differ


def test_dropout_zero_is_a_different_model_in_training():
    default, off = DualEncoder(str(build_tiny_bert())), DualEncoder(str(build_tiny_bert()), dropout=0.0)
    assert rates(off) == {0.0}
    assert off.encoder.config.hidden_dropout_prob == 0.0 and off.encoder.config.attention_probs_dropout_prob == 0.0
    a, b = embed_twice(off)
    assert torch.equal(a, b)  # no noise left in training
    off.eval()
    enc = off.tokenizer(["query: a b c d e f", "query: g h"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(a, off.embed(enc["input_ids"], enc["attention_mask"]))  # training pass == inference pass
    d, _ = embed_twice(default)
    assert not torch.allclose(a, d, atol=1e-4)  # same weights, other training computation: a different model


def test_dropout_out_of_range_names_the_key():
    with pytest.raises(ValueError, match=r"model\.dropout=1\.0"):
        DualEncoder(str(build_tiny_bert()), dropout=1.0)


def test_dropout_override_reaches_the_job(data_root, tmp_path):
    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["model.dropout=0.0"])
    assert cfg.model.dropout == 0.0
    import hydra

    model = hydra.utils.instantiate(cfg.model)
    assert rates(model) == {0.0} and model.hparams.dropout == 0.0


def test_dropout_out_of_range_fails_config_validation_naming_the_key(data_root, tmp_path):
    from hybrid_retrieval.config.validate import ConfigError, validate

    with pytest.raises(ConfigError, match=r"model\.dropout=1\.0: must be in \[0, 1\)"):
        validate(compose_config(smoke_overrides(data_root, tmp_path) + ["model.dropout=1.0"]))
