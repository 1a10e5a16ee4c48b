"""``benchmarks.json``: what each benchmark of a job declared about itself, written beside metrics.json.

One object per benchmark, keyed by its name (``eval.benchmarks.<name>``), in the
job's evaluation order: settings, metrics, depth, language groups, headline
entries (``<setting>/<metric>[/<group>]``), lower-is-better measures, whether
its queries are parallel, precision (:meth:`Protocol.declaration`).  The job's
headline line, ``optimized_metric`` and the sweep report read this file, so a
new benchmark is known to all of them through its reader and its config alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hybrid_retrieval.eval.protocol import Protocol
from hybrid_retrieval.files import write_atomically

BENCHMARKS_FILE = "benchmarks.json"
Declarations = Mapping[str, Mapping[str, Any]]


def write_declarations(protocols: Iterable[Protocol], out_dir: Path) -> Path:
    """Write every benchmark's declaration to ``<out_dir>/benchmarks.json`` (one rename)."""
    path = Path(out_dir) / BENCHMARKS_FILE
    write_atomically(path, json.dumps({p.name: p.declaration() for p in protocols}, indent=1))
    return path


def read_declarations(job_dir: Path) -> dict[str, dict[str, Any]] | None:
    """The declarations a job wrote, or None for a job dir without (or with an unreadable) benchmarks.json."""
    try:
        found = json.loads((Path(job_dir) / BENCHMARKS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def headline_keys(declarations: Declarations) -> list[str]:
    """Every benchmark's headline as metrics.json keys (``xquad_r/mono/map``), in declaration order."""
    return [f"{name}/{entry}" for name, declared in declarations.items() for entry in declared.get("headline") or ()]
