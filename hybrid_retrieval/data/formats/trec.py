"""TREC-style topics (``<qid>\\t<query>``) and qrels (``<qid> <iter> <docid> <rel>``) readers.

MIRACL ships both; Anserini/Pyserini and trec_eval read the same files.
Qrels keep graded relevance levels: trec_eval's nDCG uses them as gains.
"""

from __future__ import annotations

from pathlib import Path

from hybrid_retrieval.data.formats.passages import iter_columns, open_text


class TrecFormatError(ValueError):
    """A topics or qrels file that does not follow its format; the message names file and line."""


def read_topics(path: str | Path) -> dict[str, str]:
    """``qid -> query text`` from a tab-separated topics file."""
    topics: dict[str, str] = {}
    with open_text(path, TrecFormatError) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            qid, sep, text = line.partition("\t")
            if not sep or not qid.strip() or not text.strip():
                raise TrecFormatError(f"{path}:{lineno}: expected '<qid>\\t<query text>', got {line[:80]!r}")
            if qid in topics:
                raise TrecFormatError(f"{path}:{lineno}: query id {qid!r} appears twice")
            topics[qid.strip()] = text.strip()
    return topics


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """``qid -> {docid: relevance}`` from a TREC qrels file (tab- or space-separated)."""
    qrels: dict[str, dict[str, int]] = {}
    with open_text(path, TrecFormatError) as fh:
        for lineno, (qid, _, docid, rel) in iter_columns(fh, "<qid> <iter> <docid> <relevance>", path, TrecFormatError):
            try:
                qrels.setdefault(qid, {})[docid] = int(rel)
            except ValueError:
                raise TrecFormatError(f"{path}:{lineno}: relevance {rel!r} is not an integer") from None
    return qrels
