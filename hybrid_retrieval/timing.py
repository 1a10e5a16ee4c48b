"""Wall-clock time per phase, so every job reports where its time went."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class Stopwatch:
    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[phase] += time.perf_counter() - start

    def as_metrics(self, prefix: str) -> dict[str, float]:
        return {f"{prefix}{phase}_s": seconds for phase, seconds in self.totals.items()}
