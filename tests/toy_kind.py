"""The toy batch kind of docs/recipes.md ("Adding a batch kind"), kept as a test.

EnglishQueries: every query in English, every passage in the item's other
language (one per batch) -- a cross-lingual kind anchored on English.
"""

from __future__ import annotations

from hybrid_retrieval.data.batch_kinds import BatchKind


class EnglishQueries(BatchKind):
    cross_lingual = True  # counts toward train/cross_batch_fraction
    min_languages = 2  # checked before anything loads

    def __init__(self, share=None, english: int = 0):
        super().__init__(share)
        self.english = english  # index of "en" in data.languages

    def check(self, pools, label):
        if not any(p == (self.english, b) for p in pools.pairs for b in range(pools.n_languages)):
            raise ValueError(f"{label} needs a language that shares {pools.global_size} items with English")

    def draw(self, pools, epoch):
        targets = [b for a, b in pools.pairs if a == self.english]
        lang = pools.pick(targets, [pools.shared_count(self.english, b) for b in targets], epoch.rng)
        items = epoch.take(("en-queries", lang), pools.shared(self.english, lang), pools.global_size)
        return [(i, self.english, lang) for i in items]
