"""Read a multirun directory into one table: a row per job with its overrides, axes, status and metrics.

Job dirs are found by their ``.hydra/config.yaml``, so any ``hydra.sweep.subdir``
pattern works and several sweep dirs (a sweep and its re-run) can be read together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hybrid_retrieval.eval.declaration import read_declarations
from hybrid_retrieval.job.job_status import read_status

# Columns that describe a job; every other column of the jobs table is a metric.
INFO_COLUMNS = [
    "job",
    "path",
    "status",
    "error",
    "overrides",
    "config",
    "group",
    "reference",
    "cross_ratio",
    "model",
    "model_size",
    "languages",
    "seed",
    "max_steps",
    "logger",
    "sweep_dir",
    "wandb_project",
]
SEED_KEYS = ("seed",)
RATIO_KEY = "data.cross_ratio"
# Overrides that never make a configuration: output places, and what marks an evaluation-only job.
NOT_AXES = ("paths.", "hydra.", "trainer.max_steps", "save_encoder", "reference", "+reference")


def find_job_dirs(roots: Iterable[Path]) -> list[Path]:
    """Every directory below the roots that holds a Hydra job (``.hydra/config.yaml``), in natural order."""
    found: set[Path] = set()
    for root in map(Path, roots):
        if not root.is_dir():
            raise FileNotFoundError(
                f"{root}: not a directory (give the multirun dir, e.g. multirun/2025-01-31/12-00-00)"
            )
        found.update(p.parent.parent for p in root.rglob(".hydra/config.yaml"))
    return sorted(found, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(p))])


def load_jobs(roots: Iterable[Path]) -> pd.DataFrame:
    """The jobs table: one row per job dir, info columns first, then every metric of its metrics.json."""
    roots = [Path(r) for r in roots]
    dirs = find_job_dirs(roots)
    if not dirs:
        raise FileNotFoundError(f"no Hydra job dirs (with .hydra/config.yaml) under {', '.join(map(str, roots))}")
    rows = [_job_row(d, roots) for d in dirs]
    frame = pd.DataFrame(rows)
    _label_configurations(frame)
    metric_cols = sorted(c for c in frame.columns if c not in INFO_COLUMNS and not c.startswith("_"))
    out = frame[INFO_COLUMNS + metric_cols + ["_override_map", "_benchmarks", "_configured", "_optimized_metric"]]
    out.attrs["axes"] = frame.attrs["axes"]
    return out


def metric_columns(jobs: pd.DataFrame) -> list[str]:
    return [c for c in jobs.columns if c not in INFO_COLUMNS and not c.startswith("_")]


def _job_row(job_dir: Path, roots: list[Path]) -> dict:
    cfg = yaml.safe_load((job_dir / ".hydra" / "config.yaml").read_text(encoding="utf-8")) or {}
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    overrides = (yaml.safe_load(overrides_file.read_text(encoding="utf-8")) or []) if overrides_file.is_file() else []
    hydra_file = job_dir / ".hydra" / "hydra.yaml"
    hydra_cfg = (
        (yaml.safe_load(hydra_file.read_text(encoding="utf-8")) or {}).get("hydra", {}) if hydra_file.is_file() else {}
    )
    status = read_status(job_dir)
    error = f"{status['error_type']}: {status.get('error_message', '')}" if status.get("error_type") else ""
    data, model, logger = cfg.get("data") or {}, cfg.get("model") or {}, cfg.get("logger") or {}
    row = {
        "job": _relative(job_dir, roots),
        "path": str(job_dir),
        "status": status["status"],
        "error": error.splitlines()[0][:300] if error else "",
        "overrides": " ".join(overrides),
        "cross_ratio": _float(data.get("cross_ratio")),
        "model": model.get("name"),
        "model_size": _float(model.get("size")),
        "languages": ",".join(map(str, data.get("languages") or [])),
        "seed": cfg.get("seed"),
        "max_steps": _float((cfg.get("trainer") or {}).get("max_steps")),
        "logger": "wandb"
        if "tracking" in str(logger.get("_target_", ""))
        else str(logger.get("_target_", "")).rsplit(".", 1)[-1],
        "sweep_dir": str((hydra_cfg.get("sweep") or {}).get("dir", "")),
        "wandb_project": logger.get("project") if "tracking" in str(logger.get("_target_", "")) else None,
        "_override_map": dict(_split_override(o) for o in overrides),
        "_benchmarks": read_declarations(job_dir),  # what each benchmark declared (benchmarks.json); None: old dir
        "_configured": {k: v for k, v in ((cfg.get("eval") or {}).get("benchmarks") or {}).items() if v},
        "_optimized_metric": cfg.get("optimized_metric"),
    }
    row["reference"] = row["max_steps"] == 0  # evaluation only: the zero-shot backbone
    metrics_file = job_dir / "metrics.json"
    if metrics_file.is_file():
        try:
            row.update({k: _float(v) for k, v in json.loads(metrics_file.read_text(encoding="utf-8")).items()})
        except ValueError:
            row["error"] = row["error"] or "metrics.json unreadable"
    return row


def swept_keys(frame: pd.DataFrame) -> list[str]:
    """The configuration axes: override keys whose value differs between trained jobs, in the order
    the overrides name them (seed is the replicate axis, not a configuration axis)."""
    maps = [m for m, ref in zip(frame["_override_map"], frame["reference"]) if not ref]
    keys = list(dict.fromkeys(k for m in maps for k in m))
    return [k for k in keys if len({m.get(k) for m in maps}) > 1 and k not in SEED_KEYS and not k.startswith(NOT_AXES)]


def _label_configurations(frame: pd.DataFrame) -> None:
    """``config``: the swept overrides (seed excepted: the seeds of one configuration are averaged);
    ``group``: the same without the first axis (the x axis of the plots). A zero-shot reference job
    is labelled by its backbone, whatever else its overrides say."""
    axes = swept_keys(frame)
    frame.attrs["axes"] = axes
    labels, groups = [], []
    for m, ref, model in zip(frame["_override_map"], frame["reference"], frame["model"]):
        labels.append(f"zero-shot {m.get('model', model)}" if ref else _label(m, axes))
        groups.append("reference" if ref else _label(m, axes[1:]))
    frame["config"], frame["group"] = labels, groups


def _label(overrides: dict, keys: list[str]) -> str:
    return " ".join(f"{k}={overrides[k]}" for k in keys if k in overrides) or "all"


def _split_override(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key.lstrip("+~"), value


def _relative(path: Path, roots: list[Path]) -> str:
    for root in roots:
        try:
            rel = path.resolve().relative_to(root.resolve())
        except ValueError:
            continue
        label = str(rel) if str(rel) != "." else path.name
        return label if len(roots) == 1 else f"{root.name}/{label}"
    return str(path)


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan
