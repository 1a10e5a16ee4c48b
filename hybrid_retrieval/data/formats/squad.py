"""SQuAD v1.1 JSON, the shell that LAReQA and TyDi QA GoldP files share.

Only the parts both readers need live here: loading the document with errors
that name the file (and the first bad byte of non-UTF-8 input), and walking
``data[*].paragraphs[*]`` with a location string for every error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def load_squad(path: Path, error: type[ValueError]) -> dict:
    """The parsed document, or ``error`` naming the file and what is wrong with it."""
    try:
        with Path(path).open(encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as err:
        raise error(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}): {err.msg}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text ({first_bad_byte(Path(path))})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise error(f"{path}: expected a SQuAD-style object with a 'data' list")
    return doc


def iter_paragraphs(doc: dict, path: Path, error: type[ValueError]) -> Iterator[tuple[str, int, int, dict, dict]]:
    """``(where, article index, paragraph index, article, paragraph)`` for every paragraph object."""
    for a_idx, article in enumerate(doc["data"]):
        paragraphs = article.get("paragraphs", []) if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise error(f"{path}: data[{a_idx}]: expected an object with a 'paragraphs' list")
        for p_idx, para in enumerate(paragraphs):
            where = f"{path}: data[{a_idx}].paragraphs[{p_idx}]"
            if not isinstance(para, dict):
                raise error(f"{where}: expected an object, got {type(para).__name__}")
            yield where, a_idx, p_idx, article, para


def first_bad_byte(path: Path) -> str:
    """Where a file stops being UTF-8, counted from its start (the decoder's own offset is per chunk)."""
    raw = Path(path).read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        return f"line {line}, byte offset {err.start}: {err.reason}"
    return "unknown position"


def question_fields(qa: object, where: str, error: type[ValueError]) -> tuple[str, str, int]:
    """``(id, question, first answer's start offset)`` of one ``qas`` entry, checked."""
    try:
        qid, question, start = qa["id"], qa["question"], qa["answers"][0]["answer_start"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        raise error(f"{where}: needs id, question and answers[0].answer_start") from None
    if not isinstance(question, str):
        raise error(f"{where}: question must be a string, got {question!r}")
    if isinstance(start, bool) or not isinstance(start, int):
        raise error(f"{where}: answers[0].answer_start={start!r} must be an integer character offset")
    return str(qid), question, start
