"""Peak resident memory of a job and of its phases (``mem/peak_rss_gib``, ``mem/peak_rss_gib/<phase>``).

Linux keeps a resettable high-water mark (``VmHWM``; writing ``5`` to
``/proc/self/clear_refs`` resets it), so each job of a sweep that Hydra's basic
launcher runs in one process, and each phase of a job (loading, training,
evaluation), reports its own peak.  Elsewhere the figure is ``ru_maxrss``: the
process's peak so far, which later jobs of one process inherit.
"""

from __future__ import annotations

import ctypes
import re
import resource
import sys
from pathlib import Path

_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def peak_rss_gib() -> float:
    """Largest resident set since the last :func:`reset_peak` (or since the process started), in GiB."""
    try:
        return int(re.search(r"VmHWM:\s+(\d+)", _STATUS.read_text()).group(1)) / 2**20
    except (OSError, AttributeError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def reset_peak() -> bool:
    """Start a new high-water mark at the current resident set; False where the OS cannot (then peaks accumulate)."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def release_free_heap() -> bool:
    """Hand back the pages glibc keeps for reuse after large frees (GiBs after training), so resident memory,
    and the next phase's peak, count live memory; False where the C library has no ``malloc_trim``."""
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


class PhasePeaks:
    """``mem/peak_rss_gib/<phase>`` for each phase closed with :meth:`close`, and the job's peak over them."""

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self.resettable = reset_peak()

    def close(self, name: str) -> None:
        self.peaks[name] = peak_rss_gib()
        release_free_heap()  # the phase's freed working memory must not count towards the next phase's peak
        if self.resettable:
            reset_peak()

    def metrics(self) -> dict[str, float]:
        out = {f"mem/peak_rss_gib/{name}": gib for name, gib in self.peaks.items()}
        out["mem/peak_rss_gib"] = max([*self.peaks.values(), peak_rss_gib()])
        return out
