"""Running the real CLI (run.py, python -m ...) as a user does, for the sweep tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a smoke job in seconds: few steps, short ranked lists, no encoder export
FAST = [
    "data.batch_size=4",
    "trainer.max_steps=4",
    "eval.benchmarks.xquad_r.depth=10",
    "eval.benchmarks.xquad_r.metrics=[map,recall@1,recall@10]",
    "save_encoder=false",
]


def run_cli(args: list[str], module: str | None = None, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
    """``python run.py ARGS`` (or ``python -m MODULE ARGS``) from the repo root."""
    cmd = [sys.executable, "-m", module] if module else [sys.executable, "run.py"]
    return subprocess.run(
        [*cmd, *args],
        cwd=ROOT,
        env={**os.environ, "HYDRA_FULL_ERROR": "0", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def job_dirs(sweep: Path) -> list[Path]:
    """A multirun's job dirs (0, 1, ...) in job order."""
    return sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
