"""Weights & Biases for sweeps: one run per job, grouped by sweep, never lost for want of a network.

Without an API key the run is written offline (upload later with ``wandb sync``);
with a key but an unreachable or refusing server, the job falls back to offline
instead of failing. Every job finishes its run, so a multirun (one process) never
merges two jobs into one W&B run.
"""

from __future__ import annotations

import html
import logging
import math
import netrc
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger(__name__)
MODES = ("online", "offline", "disabled")
PAIR_TABLE_KEY = "eval/map_by_language_pair"
MAX_GROUP_CHARS = 128  # W&B's limit on group names


def wandb_logger(
    project: str = "hybrid-retrieval",
    entity: str | None = None,
    group: str | None = None,
    name: str | None = None,
    tags: Iterable[str] = (),
    mode: str | None = None,
    save_dir: str | Path = ".",
    init_timeout: float = 60.0,
    job_type: str = "train",
):
    """A Lightning ``WandbLogger`` around a run started here, so the offline fallback happens up front."""
    from pytorch_lightning.loggers import WandbLogger
    from pytorch_lightning.utilities import rank_zero_only

    if rank_zero_only.rank != 0:  # Lightning gives other DDP ranks a dummy experiment; they start no run
        return WandbLogger(project=project, save_dir=str(save_dir))
    finish()  # a run left open by an earlier job of this process must not swallow this one
    run = start_run(
        project=project,
        entity=entity,
        group=group or sweep_group(),
        name=name or job_name(),
        tags=list(tags or ()),
        mode=mode,
        dir=str(save_dir),
        init_timeout=init_timeout,
        job_type=job_type,
    )
    # training curves are plotted against the trainer step, as Lightning's own WandbLogger does
    run.define_metric("trainer/global_step")
    run.define_metric("*", step_metric="trainer/global_step", step_sync=True)
    return WandbLogger(experiment=run, save_dir=str(save_dir), project=project)


def start_run(*, mode: str | None = None, init_timeout: float = 60.0, dir: str = ".", **init_kwargs: Any):
    """``wandb.init`` in the resolved mode; online failures (bad key, no network) fall back to offline."""
    import wandb

    mode = resolve_mode(mode)
    Path(dir).mkdir(parents=True, exist_ok=True)
    if mode == "online":
        try:
            return wandb.init(mode="online", dir=dir, settings=wandb.Settings(init_timeout=init_timeout), **init_kwargs)
        except Exception as err:  # wandb raises CommError, AuthenticationError, UsageError, ... by cause
            log.warning(
                "W&B: online run failed (%s: %s); logging offline instead",
                type(err).__name__,
                str(err).splitlines()[0] if str(err) else "",
            )
            mode = "offline"
    run = wandb.init(mode=mode, dir=dir, **init_kwargs)
    if mode == "offline":
        log.warning(
            "W&B: logging offline to %s; upload later with: wandb sync %s", run.settings.sync_dir, run.settings.sync_dir
        )
    return run


def resolve_mode(mode: str | None) -> str:
    """Explicit mode, else ``$WANDB_MODE``, else online when an API key is configured and offline otherwise."""
    if mode is None:
        env = os.environ.get("WANDB_MODE", "").strip().lower()
        mode = {"dryrun": "offline", "run": "online"}.get(env, env) or None
    if mode is None:
        if has_api_key():
            return "online"
        log.warning("W&B: no API key (WANDB_API_KEY or `wandb login`); logging offline")
        return "offline"
    if mode not in MODES:
        raise ValueError(f"logger.mode={mode!r}: valid values are {MODES} or null (online if an API key is set)")
    return mode


def has_api_key() -> bool:
    """A key in the environment or in ~/.netrc for the W&B host (where `wandb login` stores it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host or "") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def sweep_group() -> str | None:
    """All jobs of one multirun share a group: its sweep dir. Single runs get none."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return str(HydraConfig.get().sweep.dir)[-MAX_GROUP_CHARS:]


def job_name() -> str | None:
    """``<job number>: <overrides>`` in a multirun (paths left out), the output dir's name otherwise."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return Path(hc.runtime.output_dir).name
    overrides = [o for o in hc.overrides.task if not o.lstrip("+~").startswith(("paths.", "hydra."))]
    return f"{hc.job.num}: {' '.join(overrides)}"[:200]


def pair_table(out_dir: Path, metric: str = "map"):
    """Mean ``metric`` per (benchmark, setting, query language, corpus language) from the per-query files."""
    from hybrid_retrieval.eval.per_query import load_per_query, pair_means

    frame = load_per_query(out_dir)
    if frame.empty or metric not in frame:
        return None
    return pair_means(frame, metric, by=("benchmark", "setting")).rename(columns={"value": metric})


def backbone_card(out_dir: Path) -> dict | None:
    """The job's backbone.json (job/evaluate.py writes it), or None."""
    import json

    try:
        return json.loads((Path(out_dir) / "backbone.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def finish_run(logger: Any, cfg: Any, metrics: dict[str, float], out_dir: Path) -> None:
    """At the end of a successful job: full config, final metrics as summary, per-pair mAP table, finish."""
    run = _run_of(logger)
    if run is None:
        return
    import wandb

    run.config.update(_resolved(cfg), allow_val_change=True)
    card = backbone_card(Path(out_dir))
    if card:  # which weights, exactly (backbone.json: id, revision, parameters, pooling, Dense, prompts, precision)
        run.config.update({"backbone": card}, allow_val_change=True)
    run.summary.update({k: v for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)})
    run.summary["status"] = "complete"
    table = pair_table(Path(out_dir))
    if table is not None:
        run.log({PAIR_TABLE_KEY: wandb.Table(dataframe=table)})
    finish()


def fail_run(cfg: Any, err: BaseException) -> None:
    """Mark the job's open W&B run (if any) as failed, with config and error, and finish it."""
    if "wandb" not in sys.modules:
        return
    import wandb

    if wandb.run is None:
        return
    try:
        wandb.run.config.update(_resolved(cfg), allow_val_change=True)
        wandb.run.summary.update({"status": "failed", "error": f"{type(err).__name__}: {err}"[:1000]})
    finally:
        finish(exit_code=1)


def finish(exit_code: int | None = None) -> None:
    """Close the current W&B run, if this process has one open."""
    if "wandb" not in sys.modules:
        return
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def log_report(
    tables: dict[str, Any],
    images: dict[str, Path],
    *,
    project: str,
    group: str | None,
    out_dir: Path,
    entity: str | None = None,
    mode: str | None = None,
    texts: dict[str, str] | None = None,
) -> str | None:
    """Upload a sweep report (DataFrames as W&B Tables, PNGs as images, Markdown texts as HTML panels and in
    the run summary) as one run of ``job_type=report``."""
    import wandb

    finish()
    run = start_run(
        project=project, entity=entity, group=group, name="report", job_type="report", mode=mode, dir=str(out_dir)
    )
    try:
        run.log({f"report/{k}": wandb.Table(dataframe=v.reset_index(drop=True)) for k, v in tables.items()})
        run.log({f"report/plots/{k}": wandb.Image(str(p)) for k, p in images.items()})
        for k, text in (texts or {}).items():
            run.log({f"report/{k}": wandb.Html(f"<pre>{html.escape(text)}</pre>")})
            run.summary[f"report/{k}"] = text
        return str(run.settings.sync_dir)
    finally:
        finish()


def _run_of(logger: Any):
    from pytorch_lightning.loggers import WandbLogger

    return logger.experiment if isinstance(logger, WandbLogger) else None


def _resolved(cfg: Any) -> dict:
    """The config as plain containers, resolved where possible (a broken interpolation must not hide the job's
    error)."""
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # noqa: BLE001 - fall back to the unresolved config
        return OmegaConf.to_container(cfg, resolve=False)
