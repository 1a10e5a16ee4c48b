"""BatchCounts: the one tally of what was trained, by batch kind.

Every training batch carries its kind: the kind's name (``batch["kind"]``, set by
the sampler, see data/batch_kinds.py) and whether the kind is cross-lingual
(``batch["cross_lingual"]``: ``BatchKind.cross_lingual``).  :class:`~hybrid_retrieval.job.checkpointing.TrainingRecord`
adds each batch here; the counts travel in checkpoints (plain data), so a resumed
job reports the shares of the whole run.  Every rank takes the same kind at a
step (HybridBatchSampler), so one process's counts are those of all ranks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


class BatchCounts:
    def __init__(self) -> None:
        self.by_kind: dict[str, int] = {}
        self.cross = 0

    def add(self, batch: Mapping[str, Any]) -> None:
        kind = str(batch.get("kind"))
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.cross += int(bool(batch.get("cross_lingual")))

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def share(self, kind: str) -> float:
        return self.by_kind.get(kind, 0) / self.total if self.total else math.nan

    def metrics(self, kinds: list[str] | None = None) -> dict[str, float]:
        """``train/batch_share/<kind>`` for every kind (``kinds``: also those never drawn, as 0) and
        ``train/cross_batch_fraction`` (share of batches of a cross-lingual kind)."""
        names = list(dict.fromkeys([*(kinds or []), *self.by_kind]))
        out = {f"train/batch_share/{name}": self.share(name) for name in names}
        out["train/cross_batch_fraction"] = self.cross / self.total if self.total else math.nan
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"by_kind": dict(self.by_kind), "cross": self.cross}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.by_kind = {str(k): int(v) for k, v in (state.get("by_kind") or {}).items()}
        self.cross = int(state.get("cross", 0))
