"""Silence third-party output that says nothing about the job, at its source.

Each entry names what it hides and why, so a message that matters is never
swallowed by a broad filter: Lightning's advertising tips, a deprecation
warning raised inside Lightning about torch internals (nothing our code can
change), and faiss's loader announcing which SIMD build it picked.
"""

from __future__ import annotations

import logging
import warnings

_LIGHTNING_LOGGERS = (
    "pytorch_lightning.utilities.rank_zero",
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning_fabric.utilities.rank_zero",
)
_ADVERT_MARK = "💡 Tip:"  # "try installing litlogger / litmodels ..."
_WARNINGS = (
    # Lightning's own pytree helper calls torch's deprecated LeafSpec check on every batch transfer
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
)
_QUIET_LOGGERS = ("faiss.loader",)  # "Loading faiss with AVX512 support." and its fallbacks


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _ADVERT_MARK not in str(record.msg)


def silence_third_party() -> None:
    """Idempotent; call once when a job starts (job/run_job.py), before the libraries speak."""
    for name in _LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropAdverts) for f in logger.filters):
            logger.addFilter(_DropAdverts())
    for pattern in _WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
