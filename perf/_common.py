"""The texts the throughput scripts time: XQuAD-R questions and answer sentences (the scripts' own data).
Everything else they share is in the package (:mod:`hybrid_retrieval.bench`)."""

from __future__ import annotations

from pathlib import Path

from hybrid_retrieval.data.download import require_file, resolve_root
from hybrid_retrieval.data.formats.lareqa import read_lareqa

BUNDLED_CONFIG = Path(__file__).resolve().parents[1] / "conf" / "model" / "me5_small_q4.yaml"
TEXT_KEYS = ("pooling", "query_prefix", "passage_prefix", "max_query_length", "max_passage_length")


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


def bundled_model(**overrides):
    """The bundled me5-small as conf/model/me5_small_q4.yaml states it (pooling, prefixes, lengths): a plain
    transformers directory says none of these itself; ``overrides`` are DualEncoder arguments."""
    from omegaconf import OmegaConf

    from hybrid_retrieval.backbones.me5_bundled import ensure_me5_small
    from hybrid_retrieval.model.dual_encoder import DualEncoder

    stated = OmegaConf.load(BUNDLED_CONFIG)
    return DualEncoder(str(ensure_me5_small()), **{**{k: stated[k] for k in TEXT_KEYS}, **overrides})
