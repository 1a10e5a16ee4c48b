"""Cheap checks of a composed config, run before anything is loaded or trained.

Each error names the key, the value and what would be valid, so a typo in a
sweep fails in a second instead of after an hour of training.  Types are
already checked by Hydra while it composes (hybrid_retrieval/config/schema.py);
here come the rules the schemas declare or point at (each rule is written once,
by the code that owns the key: :mod:`hybrid_retrieval.rules`), the keys of closed
groups, the checks that involve several keys, and the hooks that the training
corpus' loader and each benchmark bring for their own languages and files, and
the arguments each training callback (``callbacks.<name>``) is given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import get_type_hints

from omegaconf import DictConfig, OmegaConf

from hybrid_retrieval.config.schema import CLOSED, SCHEMAS
from hybrid_retrieval.data.download import ENV_VAR
from hybrid_retrieval.rules import Valid, show


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key."""


def validate(cfg: DictConfig) -> None:
    check_declared_ranges(cfg)
    check_closed_groups(cfg)
    check_training_length(cfg)
    check_grad_cache(cfg)
    check_cross_lingual_languages(cfg)
    check_hard_negatives(cfg)
    check_data_root(cfg)
    check_benchmarks(cfg)
    check_training_corpus(cfg)
    check_callbacks(cfg)


# --- schema-driven -----------------------------------------------------------------------------


def _walk(schema: type, prefix: str) -> Iterator[tuple[str, Valid]]:
    """(dotted key, Valid) for every field declared with ``valid=...``, nested schemas included."""
    hints = get_type_hints(schema)
    for f in fields(schema):
        key = f"{prefix}{f.name}"
        if is_dataclass(hints[f.name]):
            yield from _walk(hints[f.name], f"{key}.")
        elif "valid" in f.metadata:
            yield key, f.metadata["valid"]


def check_declared_ranges(cfg: DictConfig) -> None:
    """Every key a schema declares with ``valid=...`` must hold a value that passes it."""
    for group, schema in SCHEMAS.items():
        prefix = "" if group == "root" else f"{group}."
        if prefix and OmegaConf.select(cfg, group) is None:
            continue  # group not in this config
        for key, valid in _walk(schema, prefix):
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if not isinstance(node, DictConfig) or leaf not in node:
                continue
            if OmegaConf.is_missing(node, leaf):
                raise ConfigError(f"{key}: no value given; it must be {valid.explain()}")
            value = node[leaf]
            if OmegaConf.is_config(value):
                value = OmegaConf.to_container(value, resolve=True)
            if not valid.passes(value):
                raise ConfigError(f"{key}={show(value)}: must be {valid.explain()}")


def check_closed_groups(cfg: DictConfig) -> None:
    """Closed groups take only their declared keys; ``+trainer.foo=1`` would otherwise pass silently."""
    for group, schema in CLOSED.items():
        node = cfg.get(group)
        if not isinstance(node, DictConfig):
            continue
        known = [f.name for f in fields(schema)]
        for key in node:
            if key not in known:
                raise ConfigError(f"{group}.{key}: not a key of the {group} group; valid keys: {known}")


# --- several keys ------------------------------------------------------------------------------


def check_training_length(cfg: DictConfig) -> None:
    trainer = cfg.get("trainer")
    if trainer is not None and trainer.get("max_steps") == -1 and trainer.get("max_epochs") in (-1, None):
        raise ConfigError(
            "trainer.max_steps=-1 with trainer.max_epochs=-1: the job would never stop; "
            "set trainer.max_steps (0: evaluate only) or trainer.max_epochs"
        )


def check_grad_cache(cfg: DictConfig) -> None:
    """GradCache runs its own backward passes (manual optimisation), where Lightning cannot clip or accumulate."""
    chunk = OmegaConf.select(cfg, "model.grad_cache.chunk_size")
    trainer = cfg.get("trainer") or {}
    for key, off in (("gradient_clip_val", (None, 0)), ("accumulate_grad_batches", (None, 1))):
        if chunk is not None and trainer.get(key) not in off:
            raise ConfigError(
                f"model.grad_cache.chunk_size={chunk} with trainer.{key}={trainer.get(key)}: GradCache "
                f"steps cannot be clipped or accumulated by Lightning; unset one of the two "
                f"(a larger data.batch_size is what accumulation would give)"
            )


def check_cross_lingual_languages(cfg: DictConfig) -> None:
    """The recipe names batch kinds, and every kind in use (share not 0) has the training languages it needs
    (``BatchKind.min_languages``). The error names the key that set the kind's share: the kind's
    ``share_key`` (``data.cross_ratio`` in recipe=hybrid) when the recipe declares one."""
    from hydra.utils import get_class

    langs = list(cfg.data.languages)
    kinds = cfg.data.get("batch_kinds") or {}
    if not kinds:
        raise ConfigError(
            "data.batch_kinds: empty; choose a recipe (recipe=hybrid, xx, xy, multilingual, "
            "code_switched or your own in conf/recipe/)"
        )
    for name, kind in kinds.items():
        share = kind.get("share")
        if share == 0 or not kind.get("_target_"):
            continue
        try:
            needed = int(getattr(get_class(kind["_target_"]), "min_languages", 1))
        except Exception as err:  # an unknown class: say which key names it
            raise ConfigError(
                f"data.batch_kinds.{name}._target_={kind['_target_']!r}: cannot import it ({err})"
            ) from None
        if len(set(langs)) >= needed:
            continue
        key = kind.get("share_key")
        if key:
            count = ("one", "two", "three", "four")[needed - 1] if needed <= 4 else str(needed)
            raise ConfigError(
                f"{key}={share} needs at least {count} training languages, but data.languages={langs}; "
                f"add a language or set {key}=0"
            )
        raise ConfigError(
            f"data.batch_kinds.{name} ({kind['_target_'].rsplit('.', 1)[-1]}, share {share}) needs at "
            f"least {needed} training languages, but data.languages={langs}; add a language or "
            f"choose another recipe"
        )


def check_data_root(cfg: DictConfig) -> None:
    root = cfg.paths.get("data_dir")
    if root not in (None, "") and not Path(os.path.expanduser(str(root))).is_dir():
        raise ConfigError(
            f"paths.data_dir={root}: directory does not exist "
            f"(set paths.data_dir or ${ENV_VAR} to the data root, or run python -m hybrid_retrieval.data.download)"
        )


def check_hard_negatives(cfg: DictConfig) -> None:
    """``data.hard_negatives``: its values and, for mined negatives, that the file exists (data/hard_negatives.py)."""
    from hybrid_retrieval.data.hard_negatives import check_config

    value = OmegaConf.select(cfg, "data.hard_negatives")
    if value is None:
        return
    try:
        check_config(OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value)
    except (ValueError, OSError) as err:
        raise ConfigError(str(err)) from None


def check_training_corpus(cfg: DictConfig) -> None:
    """The training corpus' loader checks its own languages and files (``data/corpus.py``'s SOURCE_CHECKS)."""
    from hybrid_retrieval.data.corpus import check_config

    node = cfg.data.get("corpus")
    if node is None or OmegaConf.is_missing(cfg.data, "corpus"):
        return
    try:
        check_config(OmegaConf.to_container(node, resolve=True), list(cfg.data.languages))
    except ValueError as err:
        raise ConfigError(str(err)) from None


def check_benchmarks(cfg: DictConfig) -> None:
    """Each benchmark checks its own node (protocol, languages, files) without loading data.

    A benchmark module may define ``check_config(name, node)``; otherwise its protocol keys are checked.
    """
    import importlib

    from hybrid_retrieval.eval.protocol import Protocol

    for name, node in (cfg.eval.get("benchmarks") or {}).items():
        if node is None:
            continue
        plain = OmegaConf.to_container(node, resolve=True)
        if not plain.get("_target_"):
            raise ConfigError(
                f"eval.benchmarks.{name} sets {sorted(plain)} but is not a selected benchmark (no "
                f"_target_); select it with eval/benchmarks=[...,{name}] or drop those keys"
            )
        module = importlib.import_module(str(plain.get("_target_", "")).rpartition(".")[0])
        try:
            if hasattr(module, "check_config"):
                module.check_config(name, plain)
            else:
                Protocol.from_node(name, plain, getattr(module, "SETTINGS", ("mono",)))
        except ValueError as err:
            raise ConfigError(str(err)) from None


# --- training callbacks ------------------------------------------------------------------------

HYDRA_KEYS = ("_target_", "_args_", "_recursive_", "_convert_", "_partial_")


def check_callbacks(cfg: DictConfig) -> None:
    """Each ``callbacks.<name>`` (conf/callbacks/) is null (off) or an importable ``_target_`` that takes its keys.

    A typo in a key that the yaml declares already fails while composing ("not in struct");
    this catches a ``+callbacks...`` key or ``_target_`` that instantiating would only reject
    after the model and data are loaded.
    """
    import difflib
    import inspect

    from hydra.utils import get_object

    node = cfg.get("callbacks")
    if node is None:
        return
    if not isinstance(node, DictConfig):
        raise ConfigError(f"callbacks={show(node)}: must be a mapping of name -> callback node (conf/callbacks/)")
    for name, callback in node.items():
        if callback is None:
            continue
        if not isinstance(callback, DictConfig) or not callback.get("_target_"):
            raise ConfigError(
                f"callbacks.{name}: a callback node needs a _target_ (a Callback class; see "
                f"conf/callbacks/), or null to turn it off"
            )
        try:
            target = get_object(str(callback._target_))
            params = inspect.signature(target).parameters
        except Exception as err:  # an unknown or unimportable name: say which key names it
            raise ConfigError(f"callbacks.{name}._target_={callback._target_!r}: cannot import it ({err})") from None
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            continue
        accepted = [k for k, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
        for key in callback:
            if key not in HYDRA_KEYS and key not in accepted:
                close = difflib.get_close_matches(str(key), accepted, n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise ConfigError(
                    f"callbacks.{name}.{key}: not an argument of {callback._target_}; {hint}its arguments: {accepted}"
                )
