"""Code-switched training (Litschko et al. 2023, arXiv 2305.05295).

Words of a query (and, with ``passages=true``, of its passages) are replaced by
their translation into another training language: each word that the lexicon
can translate is replaced with probability ``rate`` (``data.code_switch_rate``);
words the lexicon does not know stay.  The target language is drawn per sample
among the training languages the lexicon covers for the source.  Batches are
otherwise monolingual (one language, like X-X), so what the model sees is the
effect of the switching alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid_retrieval.data.batch_kinds import Monolingual
from hybrid_retrieval.data.lexicon import InducedLexicon, Lexicon
from hybrid_retrieval.data.words import NO_SPACE_LANGUAGES, word_spans


@dataclass(frozen=True)
class Switched:
    text: str
    replaced: int  # words replaced by a translation
    translatable: int  # words the lexicon knows (the ones that could be replaced)
    words: int


def code_switch(text: str, src: str, tgt: str, lexicon: Lexicon, rate: float, rng: np.random.Generator) -> Switched:
    """Replace each translatable word of ``text`` (language ``src``) by its ``tgt`` translation, with
    probability ``rate``.

    Into or out of a language written without spaces (zh, ja, th), a replacement is
    set off by spaces so that words do not run together.
    """
    spans = word_spans(text)
    pieces, pos, replaced, translatable = [], 0, 0, 0
    pad = src in NO_SPACE_LANGUAGES and tgt not in NO_SPACE_LANGUAGES
    for a, b in spans:
        translation = lexicon.translate(text[a:b], src, tgt)
        if translation is None:
            continue
        translatable += 1
        if rng.random() < rate:
            replaced += 1
            pieces += [text[pos:a], f" {translation} " if pad else translation]
            pos = b
    pieces.append(text[pos:])
    out = "".join(pieces)
    if pad:
        out = " ".join(out.split())
    return Switched(out, replaced, translatable, len(spans))


class CodeSwitched(Monolingual):
    """Monolingual batches whose queries (and optionally passages) are code-switched.

    Args:
        share: share of batches of this kind.
        rate: probability that a translatable word is replaced.
        passages: switch passages (positive and hard negatives) too.
        lexicon: an object with ``load(corpus) -> Lexicon`` (MuseLexicon, InducedLexicon);
            default: induced from the training corpus.
    """

    min_languages = 2

    def __init__(self, share: float | None = None, rate: float = 0.5, passages: bool = False, lexicon: Any = None):
        super().__init__(share)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"data.code_switch_rate={rate}: must be in [0, 1]")
        self.rate, self.passages = float(rate), bool(passages)
        self.lexicon_source = lexicon if lexicon is not None else InducedLexicon()
        self.lexicon: Lexicon | None = None
        self.languages: list[str] = []

    def prepare(self, corpus: Any, cache_dir: Any = None) -> None:
        self.languages = list(corpus.languages)
        self.lexicon = self.lexicon_source.load(corpus)

    def transform(self, row: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        if self.lexicon is None:
            raise RuntimeError("CodeSwitched.transform before prepare(corpus): the lexicon is not loaded")
        src = self.languages[row["query_lang"]]
        targets = [t for t in self.lexicon.targets(src) if t in self.languages and t != src]
        if not targets:  # e.g. a monolingual-only language without a lexicon: the sample stays as it is
            return row
        tgt = targets[int(rng.integers(len(targets)))]
        row = dict(row, query=code_switch(row["query"], src, tgt, self.lexicon, self.rate, rng).text)
        if self.passages:
            row["positive"] = code_switch(row["positive"], src, tgt, self.lexicon, self.rate, rng).text
            row["negatives"] = [code_switch(n, src, tgt, self.lexicon, self.rate, rng).text for n in row["negatives"]]
        return row
