"""How a job ended, written into its directory as ``status.json``.

A sweep keeps going past a failed job (run.py), so the failure has to be
recorded where the report will look for it: the job's own output dir.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import Any

from hybrid_retrieval.files import write_atomically

STATUS_FILE = "status.json"
RUNNING, COMPLETE, FAILED, INTERRUPTED = "running", "complete", "failed", "interrupted"
PREEMPTED = "preempted"  # stopped by a scheduler's signal after a checkpoint; the requeued job resumes
TRACEBACK_LINES = 40


def write_status(job_dir: Path, status: str, **fields: Any) -> dict[str, Any]:
    """Replace ``status.json``, keeping the start time written by an earlier call."""
    job_dir = Path(job_dir)
    previous = _read_json(job_dir / STATUS_FILE) or {}
    record = {"status": status, "started": previous.get("started", time.time()), "updated": time.time(), **fields}
    record["duration_s"] = record["updated"] - record["started"]
    write_atomically(job_dir / STATUS_FILE, json.dumps(record, indent=1))
    return record


def record_failure(job_dir: Path, err: BaseException) -> dict[str, Any]:
    """``failed`` (or ``interrupted`` for Ctrl-C) with the error's type, message and traceback tail."""
    status = FAILED if isinstance(err, Exception) else INTERRUPTED
    lines = "".join(traceback.format_exception(type(err), err, err.__traceback__)).splitlines()
    return write_status(
        job_dir,
        status,
        error_type=type(err).__name__,
        error_message=str(err)[:4000],
        input_error=is_input_error(err),
        traceback_tail="\n".join(lines[-TRACEBACK_LINES:]),
    )


def read_status(job_dir: Path) -> dict[str, Any]:
    """The recorded status; jobs from before status.json existed count as complete if they wrote metrics."""
    job_dir = Path(job_dir)
    found = _read_json(job_dir / STATUS_FILE)
    if found and "status" in found:
        return found
    return {"status": COMPLETE if (job_dir / "metrics.json").is_file() else "missing"}


def config_digest(cfg: Any) -> str:
    """sha256 of the job's config as composed (interpolations unresolved), ``rerun`` left out."""
    import hashlib

    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("rerun", None)
    return hashlib.sha256(OmegaConf.to_yaml(OmegaConf.create(plain)).encode()).hexdigest()


def finished_metrics(job_dir: Path, digest: str) -> dict[str, Any] | None:
    """The metrics of a job that already completed in ``job_dir`` with this very config, else None.

    A re-run sweep then skips its finished jobs and resumes the one that was cut off.
    A job finished by a version that did not record its config digest is run again.
    """
    job_dir = Path(job_dir)
    status = _read_json(job_dir / STATUS_FILE) or {}
    if status.get("status") != COMPLETE or status.get("config_sha256") != digest:
        return None
    return _read_json(job_dir / "metrics.json")


def is_input_error(err: BaseException) -> bool:
    """Bad config, data or backbone: a mistake to fix, so it is re-raised and the multirun exits non-zero.

    Our input checks raise ValueError (ConfigError, LareqaFormatError) or OSError
    (missing data or backbone); Hydra and OmegaConf raise their own types for
    composition and interpolation errors. Anything else (a NaN loss, running out
    of memory) is a property of this job and is recorded while the sweep goes on.
    """
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return isinstance(err, (ValueError, OSError, HydraException, OmegaConfBaseException))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
