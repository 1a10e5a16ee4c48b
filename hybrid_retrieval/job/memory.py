"""Peak resident memory of this process (``mem/peak_rss_gib`` in metrics.json), so a job's memory need is known."""
from __future__ import annotations

import resource
import sys


def peak_rss_gib() -> float:
    """Largest resident set this process has had so far, in GiB (2^30 bytes).

    ``ru_maxrss`` is a high-water mark of the whole process: jobs that Hydra's
    basic launcher runs one after another in one process report the largest
    peak so far, not their own.  Linux reports KiB, macOS bytes.
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20
