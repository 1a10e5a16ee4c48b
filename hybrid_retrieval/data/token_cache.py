"""Token ids of a fixed set of texts, computed once and kept on disk.

All jobs of a sweep train on the same corpus with the same tokenizer, so they
share one cache file (keyed by tokenizer, prefix, max length and the texts
themselves); a job then pads ready ids instead of re-tokenising every batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_retrieval.files import cache_root, replaced_atomically


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Hash of what decides token ids; not the truncation/padding state that each call leaves behind."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        spec.pop("truncation", None), spec.pop("padding", None)
        spec = json.dumps(spec, sort_keys=True)
    else:
        spec = repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(f"{type(tokenizer).__name__}\n{spec}".encode()).hexdigest()


class TokenCache:
    """text -> token ids (with special tokens, truncated), for texts known in advance."""

    def __init__(self, texts: Sequence[str], flat: np.ndarray, offsets: np.ndarray):
        self._index = {t: i for i, t in enumerate(texts)}
        self._flat, self._offsets = flat, offsets

    def __len__(self) -> int:
        return len(self._index)

    @property
    def nbytes(self) -> int:
        """Memory of the ids themselves (not of the text index)."""
        return int(self._flat.nbytes + self._offsets.nbytes)

    def get(self, text: str) -> np.ndarray | None:
        i = self._index.get(text)
        return None if i is None else self._flat[self._offsets[i] : self._offsets[i + 1]]

    @classmethod
    def build(
        cls,
        tokenizer: Any,
        texts: Sequence[str],
        prefix: str,
        max_length: int,
        cache_dir: str | Path | None = None,
        chunk: int = 4096,
    ) -> TokenCache:
        texts = list(dict.fromkeys(texts))
        key = hashlib.sha256()
        for part in (tokenizer_fingerprint(tokenizer), prefix, str(max_length), *texts):
            key.update(part.encode("utf-8") + b"\0")
        path = Path(cache_dir or cache_root() / "tokens") / f"{key.hexdigest()[:24]}.npz"
        if path.is_file():
            with np.load(path) as stored:
                return cls(texts, stored["flat"], stored["offsets"])
        ids: list[list[int]] = []
        for lo in range(0, len(texts), chunk):
            ids += tokenizer(
                [prefix + t for t in texts[lo : lo + chunk]],
                truncation=True,
                max_length=max_length,
                padding=False,
                return_attention_mask=False,
            )["input_ids"]
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in ids], out=offsets[1:])
        flat = np.fromiter((t for x in ids for t in x), dtype=np.int32, count=int(offsets[-1]))
        with replaced_atomically(path, suffix=".npz") as tmp:  # concurrent jobs write identical bytes
            np.savez(tmp, flat=flat, offsets=offsets)
        return cls(texts, flat, offsets)
