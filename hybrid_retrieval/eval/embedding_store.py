"""Corpus embeddings: streamed to disk chunk by chunk (large corpora) or held in memory (small pools).

A million-passage corpus must not need its texts or its vectors in memory at
once: texts arrive in chunks from a reader, each chunk is encoded with
``TextEncoder.encode`` and appended to a flat binary file (float32, or float16
to halve it), and searches read the file back in bounded chunks.  Reads go
through an explicit buffer rather than a long-lived memory map so that pages
already searched do not stay resident.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
DTYPES = {"float32": np.float32, "float16": np.float16}


class StoredRows:
    """Reading rows back from one or more flat files (``_files()``: paths and their row counts), shared by the
    single-file store here and the sharded, kept one (:mod:`.embedding_cache`)."""

    dim: int
    dtype: str
    ids: np.ndarray

    def _files(self) -> list[tuple[Path, int]]:
        raise NotImplementedError

    @property
    def n(self) -> int:
        return len(self.ids)

    def doc_names(self, rows: np.ndarray) -> np.ndarray:
        """Docids (str) of the given rows."""
        return np.char.decode(self.ids[rows], "utf-8")

    def iter_chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first row, float32 block)`` of ``rows`` rows (the last shorter), filled across files.

        One buffer is reused to bound memory: a block is valid until the next one is read (copy to keep it).
        """
        buf = np.empty((rows, self.dim), dtype=DTYPES[self.dtype])
        convert = self.dtype != "float32"
        fill, lo = 0, 0
        for path, size in self._files():
            with open(path, "rb", buffering=0) as fh:
                left = size
                while left:
                    take = min(rows - fill, left)
                    view = buf[fill : fill + take]
                    if fh.readinto(memoryview(view).cast("B")) != view.nbytes:
                        raise OSError(f"{path}: truncated embedding file (expected {size} rows of {self.dim})")
                    fill, left = fill + take, left - take
                    if fill == rows:
                        yield lo, buf.astype(np.float32, copy=convert)
                        lo, fill = lo + rows, 0
        if fill:
            yield lo, buf[:fill].astype(np.float32, copy=convert)

    def rows(self, index: np.ndarray) -> np.ndarray:
        """Selected rows as float32 (for training an IVF quantiser on a sample), in increasing row order."""
        index = np.sort(np.asarray(index))
        out, first = [], 0
        for path, size in self._files():
            sel = index[(index >= first) & (index < first + size)] - first
            if len(sel):
                mm = np.memmap(path, dtype=DTYPES[self.dtype], mode="r", shape=(size, self.dim))
                out.append(np.asarray(mm[sel], dtype=np.float32))
                del mm
            first += size
        return np.concatenate(out) if out else np.empty((0, self.dim), dtype=np.float32)


@dataclass
class EmbeddingStore(StoredRows):
    """``n`` unit vectors of size ``dim`` in ``path`` (row-major, ``dtype``); ``ids[i]`` is row i's UTF-8 docid."""

    path: Path
    dim: int
    dtype: str = "float32"
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="S1"))
    encode_s: float = 0.0

    def _files(self) -> list[tuple[Path, int]]:
        return [(Path(self.path), self.n)]


def encode_to_store(
    encoder,
    batches: Iterable[tuple[list[str], list[str]]],
    path: str | Path,
    dtype: str = "float32",
    desc: str = "corpus",
) -> EmbeddingStore:
    """Encode ``(docids, texts)`` chunks as passages and append them to ``path``."""
    if dtype not in DTYPES:
        raise ValueError(f"eval.embedding_dtype={dtype!r}: valid values are {sorted(DTYPES)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    id_chunks: list[np.ndarray] = []
    dim, n, t0, t_log = None, 0, time.perf_counter(), time.perf_counter()
    with open(path, "wb") as fh:
        for ids, texts in batches:
            if len(ids) != len(texts):
                raise ValueError(f"{desc}: {len(ids)} ids for {len(texts)} texts in one chunk")
            if not ids:
                continue
            emb = np.asarray(encoder.encode(texts, "passage"), dtype=np.float32)
            if dim is None:
                dim = emb.shape[1]
            np.ascontiguousarray(emb, dtype=DTYPES[dtype]).tofile(fh)
            id_chunks.append(utf8_ids(ids))
            n += len(ids)
            if time.perf_counter() - t_log > 30:
                t_log = time.perf_counter()
                log.info("%s: %d passages encoded (%.0f/s)", desc, n, n / (t_log - t0))
    if dim is None:
        raise ValueError(f"{desc}: the corpus is empty")
    ids_all = np.concatenate(id_chunks) if len(id_chunks) > 1 else id_chunks[0]
    return EmbeddingStore(path, dim, dtype, ids_all, time.perf_counter() - t0)


@dataclass
class ArrayStore:
    """An in-memory corpus with the store interface, for pools small enough to hold (LAReQA, TyDi GoldP).

    Same search path as :class:`EmbeddingStore`: only where the vectors live differs.
    ``langs``, when known, is each row's language (what language-bias measures need).
    """

    vectors: np.ndarray
    ids: np.ndarray
    langs: np.ndarray | None = None
    encode_s: float = 0.0

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def doc_names(self, rows: np.ndarray) -> np.ndarray:
        return np.char.decode(self.ids[rows], "utf-8")

    def iter_chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        for lo in range(0, self.n, rows):
            yield lo, self.vectors[lo : lo + rows]

    def rows(self, index: np.ndarray) -> np.ndarray:
        return self.vectors[np.sort(index)]

    @classmethod
    def concat(cls, parts: list[ArrayStore | EmbeddingStore]) -> ArrayStore:
        """One pool from several corpora, without encoding anything again."""
        vectors = np.concatenate([p.vectors if isinstance(p, ArrayStore) else p.rows(np.arange(p.n)) for p in parts])
        langs = [p.langs for p in parts]
        return cls(
            np.ascontiguousarray(vectors, dtype=np.float32),
            np.concatenate([p.ids for p in parts]),
            np.concatenate(langs) if all(x is not None for x in langs) else None,
            sum(p.encode_s for p in parts),
        )


def encode_in_memory(
    encoder, ids: list[str], texts: list[str], lang: str | None = None, desc: str = "corpus"
) -> ArrayStore:
    """Encode a small pool at once (sorted by length inside the encoder)."""
    if not ids:
        raise ValueError(f"{desc}: the corpus is empty")
    t0 = time.perf_counter()
    vectors = np.ascontiguousarray(encoder.encode(texts, "passage", desc=desc), dtype=np.float32)
    return ArrayStore(
        vectors,
        utf8_ids(ids),
        None if lang is None else np.full(len(ids), lang, dtype=object),
        time.perf_counter() - t0,
    )


def utf8_ids(ids: Iterable[str]) -> np.ndarray:
    """Docids as a byte-string array: byte-wise sorting, as trec_eval compares ids."""
    return np.array([i.encode("utf-8") for i in ids], dtype=bytes)
