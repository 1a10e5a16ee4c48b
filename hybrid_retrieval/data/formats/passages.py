"""JSON-lines passage collections (MIRACL corpus, BEIR corpus.jsonl), read as a stream.

Corpora can hold millions of passages, so nothing here builds a list of the
whole collection: readers yield one record at a time and ``batched`` groups
them for encoding.  Errors name the file and line.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


class JsonlFormatError(ValueError):
    """A JSON-lines file that does not follow its format; the message names file and line."""


@dataclass(frozen=True)
class Passage:
    docid: str
    title: str
    text: str

    def as_text(self) -> str:
        """``"title text"``, as MIRACL's and BEIR's dense baselines encode passages."""
        return f"{self.title} {self.text}".strip() if self.title else self.text.strip()


class _Utf8Lines:
    """Lines of a (gzipped) file decoded one by one, so bad bytes are reported with their file and line."""

    def __init__(self, path: Path, error: type[ValueError]):
        self.path, self.error = path, error
        self._fh = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")

    def __iter__(self) -> Iterator[str]:
        for lineno, raw in enumerate(self._fh, 1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise self.error(
                    f"{self.path}:{lineno}: not UTF-8 text (byte {err.start} of the line: {err.reason})"
                ) from None

    def __enter__(self) -> _Utf8Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


def open_text(path: str | Path, error: type[ValueError] | None = None) -> _Utf8Lines:
    """The lines of a UTF-8 text file, gunzipping ``*.gz``; bad bytes raise ``error`` naming file and line."""
    return _Utf8Lines(Path(path), error or JsonlFormatError)


def iter_columns(
    lines: Iterable[str], columns: str, where: str | Path, error: type[ValueError] = ValueError
) -> Iterator[tuple[int, list[str]]]:
    """The whitespace-separated fields of each non-blank line; a line without exactly the fields of
    ``columns`` (e.g. ``'<qid> <iter> <docid> <relevance>'``) raises ``error`` naming file and line."""
    n = len(columns.split())
    for lineno, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != n:
            raise error(f"{where}:{lineno}: expected {columns!r}, got {line.strip()[:80]!r}")
        yield lineno, fields


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, object)`` for every non-blank line."""
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise JsonlFormatError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
            if not isinstance(record, dict):
                raise JsonlFormatError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
            yield lineno, record


def iter_passages(paths: Iterable[str | Path], id_key: str) -> Iterator[Passage]:
    """Passages from JSON-lines files with ``<id_key>``, ``text`` and optional ``title``."""
    for path in paths:
        for lineno, record in iter_jsonl(path):
            yield passage_from_record(record, id_key, f"{path}:{lineno}")


def passage_from_record(record: dict, id_key: str, where: str) -> Passage:
    try:
        docid, text = record[id_key], record["text"]
    except KeyError as err:
        raise JsonlFormatError(
            f"{where}: missing field {err.args[0]!r} (passages need {id_key!r} and 'text', optionally 'title')"
        ) from None
    title = record.get("title") or ""
    if not isinstance(text, str) or not isinstance(title, str):
        raise JsonlFormatError(f"{where}: 'text' and 'title' must be strings")
    return Passage(str(docid), title, text)


def batched(passages: Iterable[Passage], size: int) -> Iterator[tuple[list[str], list[str]]]:
    """Group a passage stream into ``(docids, "title text" strings)`` chunks of ``size``."""
    ids: list[str] = []
    texts: list[str] = []
    for p in passages:
        ids.append(p.docid)
        texts.append(p.as_text())
        if len(ids) == size:
            yield ids, texts
            ids, texts = [], []
    if ids:
        yield ids, texts


@dataclass(frozen=True)
class JsonlCorpus:
    """A corpus in local JSON-lines files, streamed in ``(docids, texts)`` chunks for encoding."""

    files: tuple[Path, ...]
    id_key: str
    description: str = ""

    def batches(self, size: int) -> Iterator[tuple[list[str], list[str]]]:
        return batched(iter_passages(self.files, self.id_key), size)

    def fingerprint(self) -> str:
        """sha256 over the files' contents (and the id key): what kept corpus embeddings are keyed by."""
        import hashlib

        from hybrid_retrieval.files import sha256_of

        h = hashlib.sha256(self.id_key.encode())
        for path in self.files:
            h.update(sha256_of(Path(path)).encode())
        return h.hexdigest()
