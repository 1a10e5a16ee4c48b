"""Cheap checks of a composed config, run before anything is loaded or trained.

Each error names the key, the value and what would be valid, so a typo in a
sweep fails in a second instead of after an hour of training.
"""
from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig

from hybrid_retrieval.data.download import ENV_VAR
from hybrid_retrieval.eval.benchmarks.lareqa import check_languages


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key."""


def validate(cfg: DictConfig) -> None:
    data = cfg.data
    ratio = data.cross_ratio
    if not isinstance(ratio, (int, float)) or not 0.0 <= float(ratio) <= 1.0:
        raise ConfigError(f"data.cross_ratio={ratio}: must be a number in [0, 1] (share of cross-lingual batches)")
    if int(data.batch_size) < 2:
        raise ConfigError(f"data.batch_size={data.batch_size}: in-batch negatives need at least 2")
    langs = list(data.languages)
    if float(ratio) > 0 and len(set(langs)) < 2:
        raise ConfigError(f"data.cross_ratio={ratio} needs at least two training languages, "
                          f"but data.languages={langs}; add a language or set data.cross_ratio=0")
    root = cfg.paths.get("data_dir")
    if root not in (None, "") and not Path(os.path.expanduser(str(root))).is_dir():
        raise ConfigError(f"paths.data_dir={root}: directory does not exist "
                          f"(set paths.data_dir or ${ENV_VAR} to the data root, or run python -m hybrid_retrieval.data.download)")
    folder = data.corpus.get("folder")
    if folder:
        try:
            check_languages(folder, langs, "data.languages")
        except ValueError as err:
            raise ConfigError(str(err)) from None
    for name, bench in (cfg.eval.get("benchmarks") or {}).items():
        if bench is not None and bench.get("folder"):
            try:
                check_languages(bench.folder, bench.languages, "eval.languages")
            except ValueError as err:
                raise ConfigError(str(err)) from None
