"""Batch kinds: the strategies that compose one global training batch.

The sampler decides *which* kind each step takes (by the kinds' shares, see
:mod:`hybrid_retrieval.data.sampler`); a kind decides *what* that batch holds:
its items and every sample's (query language, passage language).  A kind may
also rewrite the texts of its samples (``transform``; code-switching does), and
prepare what it needs once per job (``prepare``; a lexicon).  Every sample
carries its kind's name from the sampler through the dataset and collator to
the training record, which logs the realised share of each kind
(``train/batch_share/<kind>``).

Adding a kind is one class here (or in any module of yours) and one entry under
``data.batch_kinds`` in a recipe (``conf/recipe/``); docs/recipes.md shows it
step by step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid_retrieval.data.pools import EpochDraw, LanguagePools
from hybrid_retrieval.rules import between, one_of

SHARE = between(0, 1)  # a kind's share, and data.cross_ratio (the schema points at it)
CROSS_MODES = ("per_sample", "per_batch")
CROSS_MODE = one_of(lambda: CROSS_MODES)  # data.cross_mode; the config schema points at it
Pair = tuple[int, int, int]  # (item, query language, passage language)


class BatchKind:
    """One way to compose a global batch of ``pools.global_size`` samples.

    Args:
        share: the share of batches of this kind, in [0, 1]; null (None) for
            "whatever the other kinds leave" (at most one kind of a recipe).
        share_key: the config key a user sets for this share when the recipe reads it
            from one (``data.cross_ratio`` for the hybrid recipe's cross-lingual kind), so
            that errors name that key; default ``data.batch_kinds.<name>.share``.
    """

    cross_lingual: bool = False  # pairs query and passage in different languages (train/cross_batch_fraction)
    min_languages: int = 1  # training languages it needs (checked before anything loads)

    def __init__(self, share: float | None = None, share_key: str | None = None):
        self.share, self.share_key = share, share_key

    def share_source(self, name: str) -> str:
        """The config key that set the share of this kind (named ``name`` in the recipe): errors name it."""
        return self.share_key or f"data.batch_kinds.{name}.share"

    def check(self, pools: LanguagePools, label: str) -> None:
        """Raise ValueError starting with ``label`` (the key and value that asked for this kind) when it
        cannot fill a global batch from ``pools``."""

    def draw(self, pools: LanguagePools, epoch: EpochDraw) -> list[Pair]:
        raise NotImplementedError

    def prepare(self, corpus: Any, cache_dir: Any = None) -> None:
        """Once per job, before training (e.g. load or induce a lexicon). ``corpus``: the ParallelCorpus."""

    def transform(self, row: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Rewrite one dataset row (query, positive, negatives texts); identity by default."""
        return row


class Monolingual(BatchKind):
    """X-X: every query and passage of the batch in one language, chosen by the language temperature."""

    def check(self, pools: LanguagePools, label: str) -> None:
        if not pools.mono_languages:
            raise ValueError(
                f"{label} needs monolingual batches, but no language has {pools.global_size} "
                f"items (items per language: {pools.counts.tolist()})"
            )

    def draw(self, pools: LanguagePools, epoch: EpochDraw) -> list[Pair]:
        langs = pools.mono_languages
        lang = pools.pick(langs, [pools.counts[j] for j in langs], epoch.rng)
        items = epoch.take(("mono", lang), pools.items(lang), pools.global_size)
        return [(i, lang, lang) for i in items]


class CrossLingual(BatchKind):
    """X-Y: every query paired with the item's passage in another language.

    ``pairing``: ``per_sample`` draws a (query, passage) language pair per sample from
    the item's languages; ``per_batch`` draws one pair for the whole batch (by the
    language temperature over the pairs' shared items).  An item in one language
    only (monolingual sources) is never drawn.
    """

    cross_lingual = True
    min_languages = 2

    def __init__(self, share: float | None = None, pairing: str = "per_sample", share_key: str | None = None):
        super().__init__(share, share_key)
        CROSS_MODE.require("data.cross_mode", pairing)
        self.pairing = pairing

    def check(self, pools: LanguagePools, label: str) -> None:
        short = (not pools.pairs) if self.pairing == "per_batch" else len(pools.multi_items) < pools.global_size
        if short:
            raise ValueError(
                f"{label} needs cross-lingual batches: at least two training languages "
                f"(data.languages) sharing {pools.global_size} items"
            )

    def draw(self, pools: LanguagePools, epoch: EpochDraw) -> list[Pair]:
        if self.pairing == "per_batch":
            q, p = pools.pick(pools.pairs, [pools.shared_count(a, b) for a, b in pools.pairs], epoch.rng)
            items = epoch.take(("pair", q, p), pools.shared(q, p), pools.global_size)
            return [(i, q, p) for i in items]
        items = epoch.take("cross", pools.multi_items, pools.global_size)
        return [(i, *self._draw_pair(pools, i, epoch.rng)) for i in items]

    @staticmethod
    def _draw_pair(pools: LanguagePools, item: int, rng: np.random.Generator) -> tuple[int, int]:
        langs = np.flatnonzero(pools.available[item])
        q, p = rng.choice(len(langs), size=2, replace=False)  # uniform over ordered distinct pairs
        return int(langs[q]), int(langs[p])


class MultilingualMono(BatchKind):
    """Standard multilingual batches (mE5-style fine-tuning): every pair monolingual, languages mixed in the batch.

    Each sample draws its language by the language temperature, then an item of that
    language not yet in the global batch.
    """

    min_languages = 2

    def check(self, pools: LanguagePools, label: str) -> None:
        langs = [j for j in range(pools.n_languages) if pools.counts[j] > 0]
        if len(langs) < 2 or len(np.flatnonzero(pools.available.any(axis=1))) < pools.global_size:
            raise ValueError(
                f"{label} needs multilingual batches: at least two training languages "
                f"with {pools.global_size} items between them (items per language: "
                f"{pools.counts.tolist()})"
            )

    def draw(self, pools: LanguagePools, epoch: EpochDraw) -> list[Pair]:
        langs = [j for j in range(pools.n_languages) if pools.counts[j] > 0]
        in_batch: set[int] = set()
        out: list[Pair] = []
        while len(out) < pools.global_size:
            lang = pools.pick(langs, [pools.counts[j] for j in langs], epoch.rng)
            try:
                (item,) = epoch.take(("mono", lang), pools.items(lang), 1, in_batch)
            except ValueError:  # every item of this language is already in the batch
                langs = [j for j in langs if j != lang]
                continue
            out.append((item, lang, lang))
        return out


def hybrid_recipe(cross_ratio: float, cross_mode: str = "per_sample") -> dict[str, BatchKind]:
    """conf/recipe/hybrid.yaml as objects, for scripts and tests that build a sampler without Hydra (a job
    reads the yaml; tests/test_batch_kinds.py holds the two equal): cross-lingual batches with share
    ``cross_ratio``, monolingual ones for the rest."""
    return {"cross": CrossLingual(cross_ratio, cross_mode, share_key="data.cross_ratio"), "mono": Monolingual(None)}
