"""Token ids of a corpus, shard by shard, tokenised once per tokenizer and kept on disk.

Every model with the same tokenizer (each fine-tuned job of a sweep and the zero-shot reference of its
backbone) turns a corpus shard into the same ids when the prefix and the max length agree too; so the ids
are kept in ``<cache>/tokens/shards/<key>/``, next to the training :class:`~.token_cache.TokenCache`, keyed
by what decides them: :func:`~.token_cache.tokenizer_fingerprint`, prefix, max length, the corpus identity
(the hash its embeddings are keyed by) and the shard size.  The second model tokenises nothing, and a job
killed while tokenising goes on at the first shard it did not finish.

Layout: ``shard-<i>.npz`` (``flat`` int32 ids, ``offsets`` int64), renamed into place whole, so a shard
exists only when complete; ``tokenized.log``, one line per shard ever tokenised here (the count the tests
read).  A shard is looked up, and tokenised if missing, under the folder's lock: two jobs that reach it
together tokenise it once.  The lock is taken per shard, not for a whole corpus, so models that share the
ids still encode side by side.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from hybrid_retrieval.data.token_cache import tokenizer_fingerprint
from hybrid_retrieval.files import cache_root, replaced_atomically

log = logging.getLogger(__name__)
TOKENIZED_LOG = "tokenized.log"


def shard_tokens_root() -> Path:
    """``<cache>/tokens/shards``: beside the training token caches ($HYBRID_RETRIEVAL_CACHE or ~/.cache)."""
    return cache_root() / "tokens" / "shards"


def shard_tokens_key(tokenizer: Any, prefix: str, max_length: int, corpus_id: str, shard_rows: int) -> str:
    """``tokenizer``: a tokenizer, or its :func:`~.token_cache.tokenizer_fingerprint` already computed."""
    tokenizer_id = tokenizer if isinstance(tokenizer, str) else tokenizer_fingerprint(tokenizer)
    parts = [tokenizer_id, prefix, str(int(max_length)), corpus_id, str(int(shard_rows))]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]


class ShardTokens:
    """The kept ids of one corpus for one tokenizer/prefix/max length: ``ids(i, texts, tokenize)`` per shard."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.tokenized = 0  # shards this object tokenised (the others were read)
        self.read = 0

    @classmethod
    def for_corpus(
        cls, tokenizer: Any, prefix: str, max_length: int, corpus_id: str, shard_rows: int, root: Path | None = None
    ) -> ShardTokens:
        key = shard_tokens_key(tokenizer, prefix, max_length, corpus_id, shard_rows)
        return cls(Path(root or shard_tokens_root()) / key)

    def path(self, i: int) -> Path:
        return self.folder / f"shard-{i:05d}.npz"

    def done(self) -> int:
        """Shards kept from the first on."""
        i = 0
        while self.path(i).is_file():
            i += 1
        return i

    def ids(
        self, i: int, texts: Sequence[str], tokenize: Callable[[Sequence[str]], Sequence[Sequence[int]]]
    ) -> list[np.ndarray]:
        """Shard ``i``'s ids (one array per text): read if kept, else ``tokenize(texts)``, kept and logged."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.folder / ".lock")):
            kept = self._load(i, len(texts))
            if kept is not None:
                self.read += 1
                return kept
            enc = tokenize(texts)
            offsets = np.zeros(len(enc) + 1, dtype=np.int64)
            np.cumsum([len(x) for x in enc], out=offsets[1:])
            flat = np.fromiter((t for x in enc for t in x), dtype=np.int32, count=int(offsets[-1]))
            with replaced_atomically(self.path(i), suffix=".npz") as tmp:
                np.savez(tmp, flat=flat, offsets=offsets)
            with open(self.folder / TOKENIZED_LOG, "a", encoding="utf-8") as fh:
                fh.write(f"shard {i} rows {len(enc)} pid {os.getpid()} at {time.time():.3f}\n")
            self.tokenized += 1
            return _split(flat, offsets)

    def _load(self, i: int, rows: int) -> list[np.ndarray] | None:
        if not self.path(i).is_file():
            return None
        with np.load(self.path(i)) as stored:
            flat, offsets = stored["flat"], stored["offsets"]
        if len(offsets) != rows + 1:  # not this shard's texts (cannot happen with an honest corpus id): redo it
            log.warning("%s: %d rows kept for %d texts; tokenising it again", self.path(i), len(offsets) - 1, rows)
            return None
        return _split(flat, offsets)


def _split(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [flat[offsets[k] : offsets[k + 1]] for k in range(len(offsets) - 1)]
