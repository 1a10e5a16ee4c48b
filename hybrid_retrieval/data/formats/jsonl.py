"""Parallel training data in JSON lines: bring your own translated pairs (e.g. mMARCO) without code.

One line per item and language::

    {"id": "q17", "lang": "de", "query": "Wer schrieb Faust?",
     "positive": "Faust ist eine Tragödie von Johann Wolfgang von Goethe ...",
     "negatives": ["Die Leiden des jungen Werthers ...", {"id": "p9-de", "title": "...", "text": "..."}]}

Lines sharing an ``id`` are translations of the same item, which is what
cross-lingual batches pair up.  A passage is a string or an object with
``text`` and optional ``title`` / ``id``; without an id, the text itself
identifies the passage (identical passages in a batch are masked as false
negatives).  ``negatives`` is optional.  Errors name the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from hybrid_retrieval.data.formats.passages import JsonlFormatError, iter_jsonl


@dataclass(frozen=True)
class ParallelLine:
    item: str
    lang: str
    query: str
    positive: tuple[str, str]  # (passage id, text)
    negatives: tuple[tuple[str, str], ...] = ()


def jsonl_files(path: str | Path | Sequence[str | Path], key: str = "data.corpus.path") -> list[Path]:
    """A file, a list of files, or a folder of ``*.jsonl[.gz]`` files; fails naming ``key`` when nothing is there."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    files: list[Path] = []
    for p in map(lambda x: Path(str(x)).expanduser(), paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.name.endswith((".jsonl", ".jsonl.gz")))
            if not found:
                raise FileNotFoundError(f"{key}={path}: folder {p} holds no *.jsonl or *.jsonl.gz files")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(
                f"{key}={path}: {p} does not exist (expected a .jsonl[.gz] file or a folder of them; "
                f"format in docs/data.md)"
            )
    if not files:
        raise FileNotFoundError(f"{key}: no training files given")
    return files


def _passage(value, where: str, field: str) -> tuple[str, str]:
    if isinstance(value, str):
        text, pid = value, None
    elif isinstance(value, dict) and isinstance(value.get("text"), str):
        title = value.get("title") or ""
        if not isinstance(title, str):
            raise JsonlFormatError(f"{where}: {field}.title must be a string")
        text = f"{title} {value['text']}".strip() if title else value["text"]
        pid = value.get("id")
    else:
        raise JsonlFormatError(f"{where}: {field} must be a string or an object with a 'text' string")
    text = text.strip()
    if not text:
        raise JsonlFormatError(f"{where}: {field} is empty")
    return (str(pid) if pid is not None else text), text


def read_parallel_jsonl(files: Iterable[Path]) -> Iterator[ParallelLine]:
    seen: dict[tuple[str, str], str] = {}
    for path in files:
        for lineno, rec in iter_jsonl(path):
            where = f"{path}:{lineno}"
            missing = [f for f in ("id", "lang", "query", "positive") if f not in rec]
            if missing:
                raise JsonlFormatError(
                    f"{where}: missing field(s) {missing}; each line needs id, lang, query, "
                    f"positive (and optionally negatives)"
                )
            item, lang, query = str(rec["id"]), rec["lang"], rec["query"]
            if not isinstance(lang, str) or not lang:
                raise JsonlFormatError(f"{where}: lang must be a language code such as 'en'")
            if not isinstance(query, str) or not query.strip():
                raise JsonlFormatError(f"{where}: query must be a non-empty string")
            if (item, lang) in seen:
                raise JsonlFormatError(f"{where}: item {item!r} in {lang!r} already given at {seen[(item, lang)]}")
            seen[(item, lang)] = where
            negatives = rec.get("negatives") or []
            if not isinstance(negatives, list):
                raise JsonlFormatError(f"{where}: negatives must be a list")
            yield ParallelLine(
                item,
                lang,
                query.strip(),
                _passage(rec["positive"], where, "positive"),
                tuple(_passage(n, where, f"negatives[{i}]") for i, n in enumerate(negatives)),
            )
