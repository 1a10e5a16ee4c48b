"""BEIR-format test collections: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

The layout every BEIR dataset zip unpacks to (and that many multilingual test
sets reuse): corpus lines ``{"_id", "title", "text"}``, query lines
``{"_id", "text"}``, and a tab-separated qrels file with a header row
``query-id  corpus-id  score``.
"""

from __future__ import annotations

from pathlib import Path

from hybrid_retrieval.data.formats.passages import JsonlFormatError, iter_jsonl, open_text
from hybrid_retrieval.data.formats.trec import TrecFormatError

CORPUS = "corpus.jsonl"
QUERIES = "queries.jsonl"


def find_file(folder: Path, name: str) -> Path | None:
    """``name`` or its gzipped twin inside ``folder``."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_queries(path: str | Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for lineno, record in iter_jsonl(path):
        try:
            qid, text = str(record["_id"]), record["text"]
        except KeyError as err:
            raise JsonlFormatError(
                f"{path}:{lineno}: missing field {err.args[0]!r} (queries need '_id' and 'text')"
            ) from None
        if qid in queries:
            raise JsonlFormatError(f"{path}:{lineno}: query id {qid!r} appears twice")
        queries[qid] = str(text)
    return queries


def read_qrels_tsv(path: str | Path) -> dict[str, dict[str, int]]:
    """``qid -> {docid: score}``; the header row, if present, is skipped."""
    qrels: dict[str, dict[str, int]] = {}
    with open_text(path, TrecFormatError) as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.rstrip("\n\r").split("\t")
            if not line.strip():
                continue
            if lineno == 1 and fields[0] == "query-id":
                continue
            if len(fields) != 3:
                raise TrecFormatError(
                    f"{path}:{lineno}: expected 'query-id\\tcorpus-id\\tscore', got {line.strip()[:80]!r}"
                )
            qid, docid, score = fields
            try:
                qrels.setdefault(qid, {})[docid] = int(score)
            except ValueError:
                raise TrecFormatError(f"{path}:{lineno}: score {score!r} is not an integer") from None
    return qrels
