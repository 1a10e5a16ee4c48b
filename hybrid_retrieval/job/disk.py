"""How much disk a job leaves behind (``disk/job_mb`` in metrics.json), so a sweep's footprint is known."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def dir_mb(path: Path, skip: Iterable[str] = ()) -> float:
    """Megabytes (10^6 bytes) allocated under ``path``, without the top-level entries named in ``skip``.

    Counts allocated blocks, not apparent sizes, like ``du``; hard-linked files once.
    """
    skip = set(skip)
    seen: set[tuple[int, int]] = set()
    total = 0
    for top, dirs, files in os.walk(path):
        if Path(top) == Path(path):
            dirs[:] = [d for d in dirs if d not in skip]
            files = [f for f in files if f not in skip]
        for name in files:
            try:
                st = os.lstat(os.path.join(top, name))
            except OSError:  # removed while we walked
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total / 1e6
