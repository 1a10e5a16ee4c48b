"""model.speed: one typed config node and one entry point (Speed) hold the speed levers; every model key is declared."""

from __future__ import annotations

import inspect
from dataclasses import fields

import pytest
from conftest import compose_config, smoke_overrides

from hybrid_retrieval.config.schema import ModelSchema, SpeedSchema
from hybrid_retrieval.model.dual_encoder import DualEncoder
from hybrid_retrieval.model.speed import Speed


def test_schema_declares_the_levers_with_speeds_defaults():
    assert {f.name: f.default for f in fields(SpeedSchema)} == {k: getattr(Speed(), k) for k in Speed.keys()}


def test_every_dualencoder_argument_is_a_model_key_of_the_schema():
    arguments = set(inspect.signature(DualEncoder.__init__).parameters) - {"self"}
    declared = {f.name for f in fields(ModelSchema)} - {"_target_"}
    assert arguments <= declared
    assert declared <= arguments


def test_unknown_lever_names_the_key():
    with pytest.raises(ValueError, match=r"model\.speed: unknown keys \['unpadd'\]"):
        Speed.of({"unpadd": False})


def test_levers_reach_the_model_from_the_command_line(data_root, tmp_path):
    import hydra

    overrides = [
        "model.speed.fast_dropout=true",
        "model.speed.unpad_chunk_overhead=5",
        "model.speed.sparse_embeddings=false",
    ]
    cfg = compose_config(smoke_overrides(data_root, tmp_path) + overrides)
    speed = hydra.utils.instantiate(cfg.model).speed
    assert (speed.fast_dropout, speed.unpad_chunk_overhead, speed.sparse_embeddings) == (True, 5, False)
    with pytest.raises(Exception, match="unpadd"):  # Hydra's struct check: a typo fails while composing
        compose_config(smoke_overrides(data_root, tmp_path) + ["model.speed.unpadd=false"])


def test_chunk_overhead_range_is_checked_before_loading(data_root, tmp_path):
    from hybrid_retrieval.config.validate import ConfigError, validate

    with pytest.raises(ConfigError, match=r"model\.speed\.unpad_chunk_overhead=-1"):
        validate(compose_config(smoke_overrides(data_root, tmp_path) + ["model.speed.unpad_chunk_overhead=-1"]))
