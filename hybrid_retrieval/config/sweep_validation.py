"""Validate every job of a multirun before the first one starts.

Hydra's basic sweeper composes all job configs up front (so typos and wrong
types already fail at once), but our value checks (validate.py) run inside each
job: a bad value in the last job of a sweep would surface only after the others
had trained.  This Hydra callback runs them on every job's config first and
stops the multirun (exit status 1) before any job starts if one fails.
Sweepers that choose jobs as they go (Optuna, Ax) are left alone.
"""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def sweep_jobs(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides, expanded as the basic sweeper expands them; None for other sweepers."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if config.hydra.sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    params = [f"{key}={value}" for key, value in (config.hydra.sweeper.get("params") or {}).items()]
    parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
    overrides = parser.parse_overrides(params + list(config.hydra.overrides.task))
    return [list(job) for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


class ValidateSweep(Callback):
    """``hydra.callbacks.validate_sweep`` in conf/config.yaml."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.global_hydra import GlobalHydra

        from hybrid_retrieval.config.validate import validate
        from hybrid_retrieval.data.download import set_policy
        from hybrid_retrieval.quiet import silence_third_party

        silence_third_party()  # the checks below import faiss & co. in the launcher process, before any job

        jobs = sweep_jobs(config)
        loader = GlobalHydra.instance().config_loader()
        for num, job in enumerate(jobs or []):
            try:
                job_cfg = loader.load_sweep_config(master_config=config, sweep_overrides=job)
                set_policy(job_cfg.paths.get("download"))  # missing training/eval files are fetched here, once
                validate(job_cfg)
            except (ValueError, OSError) as err:
                # SystemExit, because Hydra turns a callback's exceptions into warnings and goes on
                raise SystemExit(
                    f"{type(err).__name__} in sweep job {num} ({' '.join(job)}): {err}\nno job of the sweep was started"
                ) from err
