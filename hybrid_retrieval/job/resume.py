"""Resume policy: whether a job continues from the ``last.ckpt`` in its dir, and only with its own config.

A checkpoint folder remembers the training config it belongs to (``job.yaml``: the keys that
decide the trained weights). Re-running the job with that config resumes from ``last.ckpt``;
another config is refused with the keys that differ and the ways out; ``checkpoint.resume=false``
starts over and removes the stale state. See docs/errors.md, "Resume after a crash".
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hybrid_retrieval.config.validate import ConfigError
from hybrid_retrieval.files import write_atomically

log = logging.getLogger(__name__)

JOB_FILE = "job.yaml"  # the training config that the checkpoints in the folder belong to
TRAINING_KEYS = ("seed", "data", "model", "trainer")  # what decides the trained weights


def training_config(cfg: DictConfig) -> str:
    """The part of ``cfg`` a checkpoint belongs to, as yaml (interpolations unresolved: the output dir may move)."""
    return OmegaConf.to_yaml({k: cfg.get(k) for k in TRAINING_KEYS if k in cfg}, resolve=False)


def resume_path(last: Path, job: str, resume: bool, record: bool) -> str | None:
    """``last`` when it exists, ``resume`` allows it and it belongs to ``job``; else None, after removing it.

    A fresh start writes ``job`` beside it (``record``: only when the job writes checkpoints),
    so that a later run with another config is refused instead of continuing from them.
    """
    job_file = last.parent / JOB_FILE
    if resume and last.is_file():
        saved = job_file.read_text(encoding="utf-8") if job_file.is_file() else None
        if saved is not None and saved != job:
            raise ConfigError(
                f"{last} belongs to a job with another config (differences: {differences(saved, job)}); "
                f"re-run with the same config to resume it, or start over in this dir with checkpoint.resume=false, "
                f"or give this job its own dir (hydra.run.dir=... / hydra.sweep.dir=...)"
            )
        log.info("resuming from %s", last)
        return str(last)
    last.unlink(missing_ok=True)  # checkpoint.resume=false: a stale state must not outlive this fresh start
    if record:
        write_atomically(job_file, job)
    return None


def differences(saved: str, current: str) -> str:
    """The first five keys whose values differ between two training configs, ``key: old -> new``."""
    old = _flatten(OmegaConf.to_container(OmegaConf.create(saved), resolve=False))
    new = _flatten(OmegaConf.to_container(OmegaConf.create(current), resolve=False))
    diffs = [
        f"{k}: {old.get(k, '<unset>')} -> {new.get(k, '<unset>')}"
        for k in sorted(old.keys() | new.keys())
        if old.get(k) != new.get(k)
    ]
    return "; ".join(diffs[:5]) + (f"; and {len(diffs) - 5} more" if len(diffs) > 5 else "")


def keep_earlier_log(logger: Any) -> None:
    """Lightning's CSVLogger deletes metrics.csv when it starts; a resumed job keeps the earlier curve beside it."""
    from pytorch_lightning.loggers import CSVLogger

    if isinstance(logger, CSVLogger) and (Path(logger.log_dir) / "metrics.csv").is_file():
        old = Path(logger.log_dir) / "metrics.csv"
        part = len(list(old.parent.glob("metrics.before-resume-*.csv"))) + 1
        old.rename(old.with_name(f"metrics.before-resume-{part}.csv"))


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): node}
