"""Cheap checks of a composed config, run before anything is loaded or trained.

Each error names the key, the value and what would be valid, so a typo in a
sweep fails in a second instead of after an hour of training.  Types are
already checked by Hydra while it composes (hybrid_retrieval/config_schema.py);
here come the ranges declared in the schemas, the keys of closed groups, and
the checks that involve several keys or the data on disk.
"""
from __future__ import annotations

import os
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Iterator, get_type_hints

import numpy as np
from omegaconf import DictConfig, OmegaConf

from hybrid_retrieval.config_schema import CLOSED, SCHEMAS, Valid
from hybrid_retrieval.data.download import ENV_VAR, DataNotFoundError, require_file, resolve_root
from hybrid_retrieval.eval.benchmarks.lareqa import check_languages


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key."""


def validate(cfg: DictConfig) -> None:
    check_declared_ranges(cfg)
    check_closed_groups(cfg)
    check_training_length(cfg)
    check_grad_cache(cfg)
    check_cross_lingual_languages(cfg)
    check_data_root(cfg)
    check_languages_and_files(cfg)
    check_eval_metrics(cfg)


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
            if not _passes(valid, value):
                raise ConfigError(f"{key}={_show(value)}: must be {valid.explain()}")


def _passes(valid: Valid, value: Any) -> bool:
    try:
        return bool(valid.test(value))
    except TypeError:  # e.g. a string where a number belongs (set through an untyped interpolation)
        return False


def _show(value: Any) -> str:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)


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
        raise ConfigError("trainer.max_steps=-1 with trainer.max_epochs=-1: the job would never stop; "
                          "set trainer.max_steps (0: evaluate only) or trainer.max_epochs")


def check_grad_cache(cfg: DictConfig) -> None:
    """GradCache runs its own backward passes (manual optimisation), where Lightning cannot clip or accumulate."""
    chunk = OmegaConf.select(cfg, "model.grad_cache.chunk_size")
    trainer = cfg.get("trainer") or {}
    for key, off in (("gradient_clip_val", (None, 0)), ("accumulate_grad_batches", (None, 1))):
        if chunk is not None and trainer.get(key) not in off:
            raise ConfigError(f"model.grad_cache.chunk_size={chunk} with trainer.{key}={trainer.get(key)}: GradCache "
                              f"steps cannot be clipped or accumulated by Lightning; unset one of the two "
                              f"(a larger data.batch_size is what accumulation would give)")

    """Every batch kind in use (share not 0) must have the training languages it needs (``min_languages``)."""
    from hydra.utils import get_class


def check_cross_lingual_languages(cfg: DictConfig) -> None:
    data = cfg.data
    ratio, langs = float(data.cross_ratio), list(data.languages)
    kinds = data.get("batch_kinds") or {}
    if not kinds and ratio > 0 and len(set(langs)) < 2:  # no recipe: the datamodule's own hybrid default
        kinds = {"cross": {"_target_": "hybrid_retrieval.data.batch_kinds.CrossLingual", "share": ratio}}
    for name, kind in kinds.items():
        share = kind.get("share")
        if share == 0 or not kind.get("_target_"):
            continue
        try:
            needed = int(getattr(get_class(kind["_target_"]), "min_languages", 1))
        except Exception as err:  # an unknown class: say which key names it
            raise ConfigError(f"data.batch_kinds.{name}._target_={kind['_target_']!r}: cannot import it ({err})") from None
        if len(set(langs)) >= needed:
            continue
        if OmegaConf.is_config(kind) and OmegaConf.is_interpolation(kind, "share") \
                and "data.cross_ratio" in str(kind._get_node("share")._value()):
            raise ConfigError(f"data.cross_ratio={ratio} needs at least two training languages, "
                              f"but data.languages={langs}; add a language or set data.cross_ratio=0")
        raise ConfigError(f"data.batch_kinds.{name} ({kind['_target_'].rsplit('.', 1)[-1]}, share {share}) needs at "
                          f"least {needed} training languages, but data.languages={langs}; add a language or "
                          f"choose another recipe")


def check_data_root(cfg: DictConfig) -> None:
    root = cfg.paths.get("data_dir")
    if root not in (None, "") and not Path(os.path.expanduser(str(root))).is_dir():
        raise ConfigError(f"paths.data_dir={root}: directory does not exist "
                          f"(set paths.data_dir or ${ENV_VAR} to the data root, or run python -m hybrid_retrieval.data.download)")


def _lareqa_sources(cfg: DictConfig) -> Iterator[tuple[str, DictConfig]]:
    """(languages key, node) for every LAReQA-style node (a ``folder`` of ``<lang>.json`` files), in load order."""
    for bench in (cfg.eval.get("benchmarks") or {}).values():
        if bench is not None and bench.get("folder"):
            yield "eval.languages", bench
    if cfg.data.get("corpus") is not None and cfg.data.corpus.get("folder"):
        yield "data.languages", cfg.data.corpus


def check_languages_and_files(cfg: DictConfig) -> None:
    """Languages must belong to the benchmark and have a file under the data root."""
    for key, node in _lareqa_sources(cfg):
        try:
            langs = check_languages(node.folder, node.languages, key)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        root = resolve_root(node.get("root"))
        for lang in langs:
            try:
                require_file(root, f"{node.folder}/{lang}.json")
            except DataNotFoundError as err:
                raise DataNotFoundError(f"{key}: no data for {lang!r}: {err}") from None


def check_eval_metrics(cfg: DictConfig) -> None:
    """Metric names and cutoffs, checked by the metric code itself on a one-query dry run."""
    from hybrid_retrieval.eval.metrics import parse_metric, per_query_metrics

    metrics = list(cfg.eval.get("metrics") or [])
    for name in metrics:
        try:
            base, k = parse_metric(str(name))
        except ValueError:
            raise ConfigError(f"eval.metrics: {name!r} is not <metric> or <metric>@<k> with an integer k") from None
        if k is not None and k <= 0:
            raise ConfigError(f"eval.metrics: {name!r}: k must be a positive integer")
        try:
            per_query_metrics(np.zeros((1, max(k or 1, 1)), dtype=bool), np.ones(1), [str(name)])
        except ValueError as err:
            raise ConfigError(f"eval.metrics: {err}") from None
    depth = int(cfg.eval.get("depth") or 0)
    largest = max((k for k in (parse_metric(str(m))[1] for m in metrics) if k), default=0)
    if depth and largest > depth:
        raise ConfigError(f"eval.depth={depth} is smaller than the largest cutoff @{largest} in eval.metrics; "
                          f"set eval.depth>={largest} or drop that metric")
