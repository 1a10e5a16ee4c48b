"""Corpus embeddings encoded once per model and corpus, in shards written as they are computed.

A store lives in ``<embeddings dir>/<key>/``; the key hashes everything that decides its vectors: the
encoder's identity (weights, config, tokenizer, pooling, passage prefix, max length, precision: see
``TextEncoder.fingerprint``), the corpus identity (the sha256 of its pinned shards), the storage dtype and
the shard size.  So the zero-shot reference of a backbone, evaluated again by the next sweep or by another
job, finds its store and encodes nothing; a job killed while encoding finds the shards it finished and
goes on at the first one it did not.

Layout: ``shard-<i>.ids.npy`` (docids as UTF-8 bytes) and ``shard-<i>.emb`` (rows x dim, ``dtype``), each
renamed into place when whole, the ``.emb`` last, so a shard exists only when complete; ``meta.json``
when every shard is there; ``encoded.log``, one line per shard this store ever encoded (the count the
tests read: a shard encoded twice would show twice).  Everything under a lock, so two jobs of a sweep
with the same model do not encode the same corpus side by side.

A shard's token ids come from :class:`~hybrid_retrieval.data.shard_tokens.ShardTokens` (see
:func:`passage_tokens`): tokenised once per tokenizer, prefix and max length, so a fine-tuned model finds
the ids its zero-shot backbone (or another job of its sweep) already made, and only encodes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock

from hybrid_retrieval.data.shard_tokens import ShardTokens
from hybrid_retrieval.eval.embedding_store import DTYPES, StoredRows, utf8_ids
from hybrid_retrieval.files import cache_root, replaced_atomically, write_atomically

log = logging.getLogger(__name__)
META = "meta.json"
ENCODED_LOG = "encoded.log"


def embeddings_root(embeddings_dir: str | Path | None) -> Path:
    """``eval.embeddings_dir``, else ``<cache>/embeddings`` ($HYBRID_RETRIEVAL_CACHE or ~/.cache/hybrid_retrieval)."""
    return Path(embeddings_dir).expanduser() if embeddings_dir not in (None, "") else cache_root() / "embeddings"


def store_key(encoder_id: str, corpus_id: str, dtype: str, shard_rows: int) -> str:
    parts = [encoder_id, corpus_id, dtype, str(int(shard_rows))]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def passage_tokens(encoder, corpus_id: str, shard_rows: int) -> ShardTokens | None:
    """The kept passage ids of a corpus for this encoder's tokenizer, prefix and max length; None for an
    encoder that cannot encode from ids."""
    if not callable(getattr(encoder, "encode_ids", None)):
        return None
    return ShardTokens.for_corpus(
        encoder.tokenizer_id(),
        encoder.spec.prefix("passage"),
        encoder.spec.max_length("passage"),
        corpus_id,
        shard_rows,
    )


def is_complete(folder: Path) -> bool:
    return (Path(folder) / META).is_file()


@dataclass
class ShardedStore(StoredRows):
    """The store interface of :class:`~hybrid_retrieval.eval.embedding_store.EmbeddingStore` over shard files."""

    folder: Path
    dim: int
    dtype: str
    files: list[Path]
    sizes: list[int]
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="S1"))
    encode_s: float = 0.0
    encoded_shards: int = 0  # shards this call encoded (0: all were there)
    new_passages: int = 0  # passages and real tokens this call encoded (the device's measured rate)
    new_tokens: int = 0
    new_token_squares: int = 0

    def _files(self) -> list[tuple[Path, int]]:
        return list(zip(self.files, self.sizes))


def _shard(folder: Path, i: int) -> tuple[Path, Path]:
    return folder / f"shard-{i:05d}.ids.npy", folder / f"shard-{i:05d}.emb"


def done_shards(folder: Path) -> int:
    """Shards complete from the first on (a later one without its predecessor does not count)."""
    i = 0
    while _shard(folder, i)[1].is_file() and _shard(folder, i)[0].is_file():
        i += 1
    return i


def encode_sharded(
    encoder,
    source,
    folder: str | Path,
    dtype: str = "float32",
    shard_rows: int = 16384,
    desc: str = "corpus",
    info: dict | None = None,
    kept_ids: ShardTokens | None = None,
) -> ShardedStore:
    """The store in ``folder``: read if complete, else encoded from its first unfinished shard on (each
    shard from its ids kept in ``kept_ids``, when given)."""
    if dtype not in DTYPES:
        raise ValueError(f"eval.embedding_dtype={dtype!r}: valid values are {sorted(DTYPES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder.parent / f".{folder.name}.lock")):
        if is_complete(folder):
            log.info("%s: embeddings found in %s, nothing to encode", desc, folder)
            return _open(folder, 0, 0.0)
        if not (folder / "dtype").is_file():  # before the first shard: a resumed store knows its row size
            write_atomically(folder / "dtype", dtype)
        start = done_shards(folder)
        if start:
            log.info("%s: %d shard(s) already encoded in %s; resuming at shard %d", desc, start, folder, start)
        if hasattr(source, "batches") and "skip" in source.batches.__code__.co_varnames:
            chunks = source.batches(shard_rows, skip=start * shard_rows)
        else:
            chunks = itertools.islice(source.batches(shard_rows), start, None)
        t0, t_log, i, n_new, tokens, squares = time.perf_counter(), time.perf_counter(), start, 0, 0, 0
        for i, (ids, texts) in enumerate(chunks, start):
            if len(ids) != len(texts):
                raise ValueError(f"{desc}: {len(ids)} ids for {len(texts)} texts in one chunk")
            ids_path, emb_path = _shard(folder, i)
            before = getattr(encoder, "tokens_encoded", 0), getattr(encoder, "token_squares", 0)
            if kept_ids is None:
                vectors = encoder.encode(texts, "passage")
            else:
                enc = kept_ids.ids(i, texts, lambda t: encoder.token_ids(t, "passage"))
                vectors = encoder.encode_ids(enc, "passage")
            emb = np.ascontiguousarray(vectors, dtype=DTYPES[dtype])
            with replaced_atomically(ids_path, suffix=".npy") as tmp:
                np.save(tmp, utf8_ids(ids))
            with replaced_atomically(emb_path) as tmp:
                emb.tofile(tmp)
            tokens += getattr(encoder, "tokens_encoded", 0) - before[0]
            squares += getattr(encoder, "token_squares", 0) - before[1]
            with open(folder / ENCODED_LOG, "a", encoding="utf-8") as fh:
                fh.write(f"shard {i} rows {len(ids)} pid {os.getpid()} at {time.time():.3f}\n")
            n_new += len(ids)
            if time.perf_counter() - t_log > 30:
                t_log = time.perf_counter()
                log.info("%s: shard %d written, %d passages encoded now (%.0f/s)", desc, i, n_new, n_new / (t_log - t0))
        encode_s = time.perf_counter() - t0
        if done_shards(folder) == 0:
            raise ValueError(f"{desc}: the corpus is empty")
        store = _open(folder, done_shards(folder) - start, encode_s)
        store.new_passages, store.new_tokens, store.new_token_squares = n_new, tokens, squares
        write_atomically(
            folder / META,
            json.dumps(
                {
                    "dim": store.dim,
                    "dtype": dtype,
                    "n": store.n,
                    "shards": len(store.files),
                    "shard_rows": shard_rows,
                    **(info or {}),
                },
                indent=1,
            ),
        )
        log.info(
            "%s: %d passages in %d shard(s) at %s (%d encoded now in %.1f s)%s",
            desc,
            store.n,
            len(store.files),
            folder,
            n_new,
            encode_s,
            "" if kept_ids is None else f"; token ids: {kept_ids.read} shard(s) kept, {kept_ids.tokenized} tokenised",
        )
        return store


def _open(folder: Path, encoded_shards: int, encode_s: float) -> ShardedStore:
    dtype = (folder / "dtype").read_text().strip()
    count = done_shards(folder)
    ids = [np.load(_shard(folder, i)[0]) for i in range(count)]
    sizes = [len(x) for x in ids]
    dim = _shard(folder, 0)[1].stat().st_size // (sizes[0] * np.dtype(DTYPES[dtype]).itemsize)
    all_ids = np.concatenate(ids) if len(ids) > 1 else ids[0]
    return ShardedStore(
        folder, int(dim), dtype, [_shard(folder, i)[1] for i in range(count)], sizes, all_ids, encode_s, encoded_shards
    )


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
