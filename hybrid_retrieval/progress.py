"""Progress that reads well both on a terminal and in a log file.

On a terminal a step shows a tqdm bar. When the output goes to a file (a sweep's
``run.log``, SLURM, ``> log``) bars are unreadable, so the same step writes a
plain log line when it starts, every ``every_s`` seconds while it runs
(``k/n``, rate, ETA) and when it ends. Each line is also logged on a terminal,
but a filter keeps it off the terminal's console handler (the bar says it
there) and lets it reach the job's log file.

    from hybrid_retrieval.progress import phase

    with phase("xquad_r: search", total=len(queries), unit="queries") as p:
        for chunk in chunks:
            ...
            p.update(len(chunk))
    with phase("xquad_r: metrics"):          # no count: a start and an end line
        ...
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from typing import Any

log = logging.getLogger("hybrid_retrieval.progress")

EVERY_S = 10.0  # seconds between two progress lines of one step (the acceptance bar is 30 s)
_PROGRESS_ATTR = "hr_progress"  # set on progress log records, so a terminal's console can drop them
_last_emit = time.monotonic()  # when any progress line was last written: an idle phase's heartbeat looks here


def interactive() -> bool:
    """Whether a person watches the output live (stdout is a terminal), so bars are better than lines."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def duration(seconds: float) -> str:
    """``1:05:09`` / ``4:07`` / ``12s``: short, and sortable by eye."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}" if m else f"{s}s"


def _amount(n: float, unit: str) -> str:
    if unit == "B":
        return f"{n / 1e6:.1f} MB"
    return f"{int(n):,}"


def emit(message: str, *args: Any, logger: logging.Logger | None = None) -> None:
    """Log a progress line (INFO): kept off a terminal's console, written to log files."""
    global _last_emit
    _last_emit = time.monotonic()
    (logger or log).info(message, *args, extra={_PROGRESS_ATTR: True})


class _DropProgressOnTerminal(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, _PROGRESS_ATTR, False)


def keep_progress_lines_off_terminals() -> None:
    """Filter progress records out of console handlers that write to a terminal (idempotent)."""
    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.FileHandler) or stream is None:
            continue
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        if tty and not any(isinstance(f, _DropProgressOnTerminal) for f in handler.filters):
            handler.addFilter(_DropProgressOnTerminal())


class Phase:
    """One named step of a job, ``k of n`` units done: a bar on a terminal, timed log lines otherwise.

    While it is open, a heartbeat thread writes ``name: ..., 0:40 elapsed`` whenever no progress
    line at all (this phase's, a nested one's, training's) was written for ``every_s`` seconds,
    so a step that cannot count (a FAISS search, metrics) still shows it is alive.
    """

    def __init__(
        self,
        name: str,
        total: int | None = None,
        unit: str = "it",
        every_s: float = EVERY_S,
        bar: bool | None = None,
        logger: logging.Logger | None = None,
        heartbeat: bool = True,
    ):
        self.name, self.total, self.unit, self.every_s = name, total, unit, every_s
        self.logger = logger or log
        self.done = 0
        self.t0 = self._last = time.monotonic()
        self._bar = None
        if bar if bar is not None else interactive():
            from tqdm.auto import tqdm

            scale = unit == "B"
            self._bar = tqdm(
                total=total, desc=name, unit=unit, unit_scale=scale, unit_divisor=1024 if scale else 1000, leave=False
            )
        keep_progress_lines_off_terminals()
        of = f" of {_amount(total, unit)} {'' if unit == 'B' else unit}".rstrip() if total is not None else ""
        emit("%s: started%s", name, of, logger=self.logger)
        self._stop = threading.Event()
        self._heart = None
        if heartbeat and every_s > 0:
            self._heart = threading.Thread(target=self._beat, name=f"progress: {name}", daemon=True)
            self._heart.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.every_s / 2):
            now = time.monotonic()
            if now - max(_last_emit, self._last) >= self.every_s:
                self._last = now
                emit("%s", self.status(now), logger=self.logger)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            emit("%s", self.status(now), logger=self.logger)

    def status(self, now: float | None = None) -> str:
        """``name: 1,200/5,000 texts (24%), 310 texts/s, 0:04 elapsed, ETA 0:12``."""
        elapsed = (now or time.monotonic()) - self.t0
        rate = self.done / elapsed if elapsed > 0 else math.nan
        unit = "" if self.unit == "B" else f" {self.unit}"
        rate_s = f"{rate / 1e6:.1f} MB/s" if self.unit == "B" else f"{rate:,.1f}{unit}/s"
        if self.total:
            eta = (self.total - self.done) / rate if rate > 0 else math.nan
            return (
                f"{self.name}: {_amount(self.done, self.unit)}/{_amount(self.total, self.unit)}{unit} "
                f"({100 * self.done / self.total:.0f}%), {rate_s}, {duration(elapsed)} elapsed, "
                f"ETA {duration(eta)}"
            )
        if not self.done:
            return f"{self.name}: running, {duration(elapsed)} elapsed"
        return f"{self.name}: {_amount(self.done, self.unit)}{unit}, {rate_s}, {duration(elapsed)} elapsed"

    def close(self, failed: bool = False) -> None:
        self._stop.set()
        if self._heart is not None:
            self._heart.join()
            self._heart = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elapsed = duration(time.monotonic() - self.t0)
        if failed:
            emit("%s: failed after %s", self.name, elapsed, logger=self.logger)
            return
        what = f", {_amount(self.done, self.unit)}{'' if self.unit == 'B' else ' ' + self.unit}" if self.done else ""
        emit("%s: done%s in %s", self.name, what, elapsed, logger=self.logger)

    def __enter__(self) -> Phase:
        return self

    def __exit__(self, exc_type, *_: Any) -> None:
        self.close(failed=exc_type is not None)


def phase(name: str, total: int | None = None, unit: str = "it", **kwargs: Any) -> Phase:
    """Start a step; use as a context manager and call ``update(k)`` as units get done (see the module doc)."""
    return Phase(name, total=total, unit=unit, **kwargs)
