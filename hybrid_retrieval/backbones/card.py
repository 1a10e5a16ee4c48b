"""A backbone card: which weights a job used, so two jobs that claim the same backbone can be checked.

Written by the job as ``backbone.json`` next to ``metrics.json`` (strings and lists; metrics.json
holds numbers only and gets ``backbone/parameters``), and into the W&B run config as ``backbone``.
The revision is the hub commit hash for a hub model and ``sha256:<hex>`` over the files of a local
directory (names and contents), so a rebuilt or edited directory reads as another backbone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

CARD_FILE = "backbone.json"
_SKIP_DIRS = {".git", ".cache", "__pycache__"}


def content_hash(directory: str | Path) -> str:
    """``sha256:<hex>`` over every file's relative path and bytes, in sorted order (hidden caches skipped)."""
    root = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if _SKIP_DIRS.intersection(rel.parts[:-1]) or rel.name.startswith(".lock"):
            continue
        digest.update(rel.as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return "sha256:" + digest.hexdigest()


def numeric_part(card: dict[str, Any]) -> dict[str, float]:
    """What of the card goes into metrics.json (numbers only)."""
    return {"backbone/parameters": float(card["parameters"])} if card.get("parameters") is not None else {}
