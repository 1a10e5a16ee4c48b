"""Which job of a multirun is running (i of n) and how the finished ones ended, in the sweep's own log.

A Hydra callback (``hydra.callbacks.sweep_progress`` in conf/config.yaml). Job
outcomes come from each job's status.json (run.py records failures there and
lets the sweep go on), so a failed job reads "failed" even though Hydra saw it
return normally.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from hybrid_retrieval.progress import duration

log = logging.getLogger("hybrid_retrieval.sweep")


def _job_outcome(out_dir: Path, hydra_status: str, config: DictConfig | None = None) -> tuple[str, str]:
    """(status, detail): status.json's word and the job's headline line or its error."""
    try:
        status = json.loads((out_dir / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {}
    word = str(status.get("status") or hydra_status)
    detail = f"{status['error_type']}: {status.get('error_message', '')}" if status.get("error_type") else ""
    if word == "complete":
        try:
            metrics = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            metrics = {}
        from hybrid_retrieval.eval.declaration import read_declarations
        from hybrid_retrieval.job.headline import headline_line

        optimized = config.get("optimized_metric") if config is not None else None
        detail = headline_line(metrics, read_declarations(out_dir) or {}, optimized) if metrics else ""
    return word, detail.splitlines()[0] if detail else ""


class SweepProgress(Callback):
    """Logs ``sweep: job 2 of 5 started (data.cross_ratio=0.25)`` and ``... complete in 3:10: headline ...``."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.outcomes: Counter[str] = Counter()
        self._started: dict[int, float] = {}
        self._t0 = time.monotonic()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hybrid_retrieval.config.sweep_validation import sweep_jobs

        jobs = sweep_jobs(config)
        self.total = len(jobs) if jobs is not None else None
        self._t0 = time.monotonic()

    def _of(self, num: int) -> str:
        return f"job {num + 1} of {self.total}" if self.total else f"job {num + 1}"

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not self._in_multirun(config):
            return
        num = int(config.hydra.job.num)
        self._started[num] = time.monotonic()
        overrides = " ".join(config.hydra.overrides.task) or "(no overrides)"
        log.info("sweep: %s started: %s", self._of(num), overrides)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if not self._in_multirun(config):
            return
        num = int(config.hydra.job.num)
        hydra_status = "complete" if getattr(job_return.status, "name", "") == "COMPLETED" else "failed"
        word, detail = _job_outcome(Path(config.hydra.runtime.output_dir), hydra_status, config)
        self.outcomes[word] += 1
        took = duration(time.monotonic() - self._started.pop(num, time.monotonic()))
        done = sum(self.outcomes.values())
        left = f", {self.total - done} to go" if self.total else ""
        so_far = ", ".join(f"{n} {w}" for w, n in sorted(self.outcomes.items()))
        log.info(
            "sweep: %s %s in %s%s | finished: %s%s",
            self._of(num),
            word,
            took,
            f": {detail}" if detail else "",
            so_far,
            left,
        )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        so_far = ", ".join(f"{n} {w}" for w, n in sorted(self.outcomes.items())) or "no job ran"
        log.info(
            "sweep: finished in %s: %s; outputs in %s",
            duration(time.monotonic() - self._t0),
            so_far,
            config.hydra.sweep.dir,
        )

    @staticmethod
    def _in_multirun(config: DictConfig) -> bool:
        from hydra.types import RunMode

        return config.hydra.mode == RunMode.MULTIRUN
