"""The training callbacks of a job, built from the ``callbacks`` config group (conf/callbacks/), in one place.

Each entry of ``cfg.callbacks`` is a node with a ``_target_`` (a Callback class, or a factory
that may return None to stay off, e.g. checkpointing.periodic_checkpoint); an entry set to
null is off. config/validate.py has already checked that each target imports and takes its keys.
"""

from __future__ import annotations

from typing import Any, TypeVar

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig
from pytorch_lightning.callbacks import Callback

from hybrid_retrieval.config.validate import ConfigError

C = TypeVar("C", bound=Callback)


def instantiate_callbacks(cfg: DictConfig) -> list[Callback]:
    """The callbacks ``cfg.callbacks`` names, in its order (the defaults list of conf/callbacks/default.yaml)."""
    callbacks: list[Callback] = []
    for name, node in (cfg.get("callbacks") or {}).items():
        if node is None:
            continue
        try:
            callback = hydra.utils.instantiate(node)
        except InstantiationException as err:
            raise ConfigError(f"callbacks.{name}: {err.__cause__ or err}") from err
        if callback is None:
            continue
        if not isinstance(callback, Callback):
            raise ConfigError(
                f"callbacks.{name}._target_={node._target_}: gave a {type(callback).__name__}, "
                f"not a pytorch_lightning Callback"
            )
        callbacks.append(callback)
    return callbacks


def find_callback(callbacks: list[Any], kind: type[C]) -> C | None:
    """The first callback of type ``kind`` (e.g. in ``trainer.callbacks``), or None."""
    return next((cb for cb in callbacks if isinstance(cb, kind)), None)
