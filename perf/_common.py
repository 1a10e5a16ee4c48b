"""The texts the throughput scripts time: XQuAD-R questions and answer sentences (the scripts' own data).
Everything else they share is in the package (:mod:`hybrid_retrieval.bench`)."""
from __future__ import annotations

from hybrid_retrieval.data.download import require_file, resolve_root
from hybrid_retrieval.data.formats.lareqa import read_lareqa


def xquad_pairs(lang: str = "en", root: str | None = None) -> list[tuple[str, str]]:
    """(question, answer sentence) pairs of one XQuAD-R language."""
    data = read_lareqa(require_file(resolve_root(root), f"xquad-r/{lang}.json"), lang)
    return [(q.text, data.sentences[q.sentence]) for q in data.questions]


def xquad_texts(languages: list[str], limit: int | None = None) -> tuple[list[str], list[str]]:
    """XQuAD-R questions and sentences of ``languages`` (the first ``limit`` of each per language)."""
    queries, passages = [], []
    for lang in languages:
        data = read_lareqa(require_file(resolve_root(), f"xquad-r/{lang}.json"), lang)
        queries += [q.text for q in data.questions][:limit]
        passages += data.sentences[:limit]
    return queries, passages
