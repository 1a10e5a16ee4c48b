"""The untrained backbone as a reference: one evaluation-only job per backbone of a sweep, reused.

Turned on with ``+reference=zeroshot`` (conf/reference/zeroshot.yaml), which adds this Hydra
callback. When the multirun ends, it finds the sweep's distinct backbones (from the jobs'
configs), evaluates each once with ``trainer.max_steps=0`` (the job's own overrides otherwise,
so the same benchmarks and languages), and copies the result into
``<sweep dir>/reference/zeroshot_<backbone>/``, where the report finds it. Results are cached
under ``cache_dir`` by a hash of the backbone and evaluation config, so the next sweep with the
same backbone and evaluation reuses them instead of evaluating again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback

from hybrid_retrieval.job.job_status import COMPLETE, read_status

log = logging.getLogger(__name__)
# What a backbone's zero-shot scores depend on: the encoder, and how it is evaluated.
MODEL_KEYS = ("name", "backbone", "pooling", "query_prefix", "passage_prefix", "max_query_length", "max_passage_length")
# training only: the twin does not train, so neither Hydra's callbacks (hydra.*) nor the Trainer's (callbacks*) apply
DROP_OVERRIDES = ("seed", "trainer.max_steps", "save_encoder", "hydra", "reference", "checkpoint.", "callbacks")
COPIED = ("metrics.json", "benchmarks.json", "status.json", ".hydra")


def reference_key(cfg: dict) -> str:
    """A hash of the backbone and evaluation parts of a job config (data and training left out)."""
    model = {k: (cfg.get("model") or {}).get(k) for k in MODEL_KEYS}
    ident = {"model": model, "eval": cfg.get("eval"), "data_dir": (cfg.get("paths") or {}).get("data_dir")}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


def reference_overrides(overrides: list[str]) -> list[str]:
    """A job's overrides for its evaluation-only twin: seed, training length, checkpoints and callbacks left out."""
    keep = [o for o in overrides if not o.lstrip("+~").startswith(DROP_OVERRIDES)]
    return keep + ["trainer.max_steps=0", "save_encoder=false"]


def plan(sweep_dir: Path) -> dict[str, tuple[str, list[str]]]:
    """{cache key: (backbone label, overrides)} for the sweep's trained jobs, one entry per backbone."""
    from hybrid_retrieval.report.collect import find_job_dirs

    found: dict[str, tuple[str, list[str]]] = {}
    for job in find_job_dirs([sweep_dir]):
        if "reference" in job.relative_to(sweep_dir).parts:
            continue
        cfg = yaml.safe_load((job / ".hydra" / "config.yaml").read_text(encoding="utf-8")) or {}
        if (cfg.get("trainer") or {}).get("max_steps") == 0:
            continue
        overrides_file = job / ".hydra" / "overrides.yaml"
        overrides = yaml.safe_load(overrides_file.read_text(encoding="utf-8")) or [] if overrides_file.is_file() else []
        key = reference_key(cfg)
        label = next(
            (o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == "model"),
            (cfg.get("model") or {}).get("name", "backbone"),
        )
        found.setdefault(key, (str(label), reference_overrides(overrides)))
    return found


def _entry_point(cwd: Path) -> Path:
    """run.py beside the package (an editable checkout), else in the directory the sweep started from."""
    beside = Path(__file__).resolve().parents[2] / "run.py"
    return beside if beside.is_file() else Path(cwd) / "run.py"


def ensure_reference(key: str, overrides: list[str], cache_dir: Path, cwd: Path, runner=None) -> Path:
    """The cached evaluation-only job dir for ``key``, evaluated now only if no complete one is cached."""
    job = Path(cache_dir) / key
    if (job / "metrics.json").is_file() and read_status(job).get("status") == COMPLETE:
        log.info("zero-shot reference %s: reusing %s", key, job)
        return job
    cmd = [sys.executable, str(_entry_point(cwd)), *overrides, f"hydra.run.dir={job}"]
    log.info("zero-shot reference %s: %s", key, " ".join(cmd))
    result = (runner or subprocess.run)(cmd, cwd=str(cwd))
    if getattr(result, "returncode", 0) != 0:
        raise RuntimeError(f"zero-shot reference failed (exit {result.returncode}): {' '.join(cmd)}; see {job}")
    return job


def copy_into_sweep(job: Path, sweep_dir: Path, label: str) -> Path:
    """Small files only (metrics, per-query scores, config): the report reads these, nothing else."""
    dest = Path(sweep_dir) / "reference" / f"zeroshot_{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}"
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = job / name
        if src.is_dir():
            shutil.copytree(src, dest / name, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    for src in job.glob("per_query_*.csv.gz"):
        shutil.copy2(src, dest / src.name)
    return dest


class ZeroShotReference(Callback):
    """Hydra callback: after a multirun, one zero-shot evaluation per backbone, cached and copied in."""

    def __init__(self, cache_dir: str | None = None, enabled: bool = True) -> None:
        self.cache_dir = Path(cache_dir or Path.home() / ".cache" / "hybrid_retrieval" / "zeroshot").expanduser()
        self.enabled = enabled

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if not self.enabled:
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        cwd = Path(config.hydra.runtime.cwd)
        for key, (label, overrides) in plan(sweep_dir).items():
            try:
                job = ensure_reference(key, overrides, self.cache_dir, cwd)
                log.info("zero-shot reference for %s: %s", label, copy_into_sweep(job, sweep_dir, label))
            except Exception as err:  # noqa: BLE001 - the sweep's own results stand without a reference
                log.error("zero-shot reference for %s not added: %s", label, err)
