"""What batch kinds draw from: item pools per language and one epoch's random state.

:class:`LanguagePools` is fixed for a job (the availability matrix seen as pools:
items per language, items per language pair, items in two or more languages) and
knows the language-sampling temperature.  :class:`EpochDraw` is one epoch's random
generator plus the per-pool shuffled streams that make items come back only after
their pool is used up; the sampler makes a fresh one for every ``plan(epoch)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


class LanguagePools:
    """The availability matrix (items x languages) as sampling pools.

    ``alpha`` is the language temperature: a language (or language pair) is chosen
    with probability proportional to n**alpha, n its number of items; alpha=1 follows
    the data, alpha=0 is uniform (XLM-R and mE5 use values in between so that a
    language with little data is not drowned).
    """

    def __init__(self, available: np.ndarray, global_size: int, alpha: float = 0.0):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"data.language_alpha={alpha}: must be a number in [0, 1]")
        self.available = np.asarray(available, dtype=bool)
        self.global_size, self.alpha = global_size, float(alpha)
        self.counts = self.available.sum(axis=0)
        self.n_languages = self.available.shape[1]
        self.mono_languages = [j for j, c in enumerate(self.counts) if c >= global_size]
        self.pairs = [
            (a, b)
            for a in range(self.n_languages)
            for b in range(self.n_languages)
            if a != b and self.shared_count(a, b) >= global_size
        ]
        self.multi_items = np.flatnonzero(self.available.sum(axis=1) >= 2)
        self._items: dict[int, np.ndarray] = {}

    def items(self, lang: int) -> np.ndarray:
        if lang not in self._items:
            self._items[lang] = np.flatnonzero(self.available[:, lang])
        return self._items[lang]

    def shared(self, q: int, p: int) -> np.ndarray:
        return np.flatnonzero(self.available[:, q] & self.available[:, p])

    def shared_count(self, q: int, p: int) -> int:
        return int((self.available[:, q] & self.available[:, p]).sum())

    def weights(self, sizes: Sequence[int]) -> np.ndarray:
        """Sampling probabilities proportional to size**alpha (alpha=0: uniform)."""
        w = np.asarray(sizes, dtype=float) ** self.alpha
        return w / w.sum()

    def pick(self, options: Sequence, sizes: Sequence[int], rng: np.random.Generator):
        """One of ``options`` with probability proportional to its size**alpha."""
        if self.alpha == 0.0:  # uniform: the same draw as before the temperature existed
            return options[int(rng.integers(len(options)))]
        return options[int(rng.choice(len(options), p=self.weights(sizes)))]


class _ItemStream:
    """Shuffled pass over a pool of items that prefers items not yet used this epoch."""

    def __init__(self, pool: np.ndarray, rng: np.random.Generator):
        self.pool, self.rng = pool, rng
        self.order, self.pos, self.fresh = rng.permutation(pool), 0, True

    def take(self, n: int, used: np.ndarray, in_batch: set[int]) -> list[int]:
        free = len(self.pool) - sum(1 for i in in_batch if i in self._members)
        if n > free:
            raise ValueError(f"a pool of {len(self.pool)} items cannot fill a batch of {n} distinct items")
        chosen: list[int] = []
        while len(chosen) < n:
            if self.pos == len(self.order):  # pool exhausted: reshuffle and allow reuse
                self.order, self.pos, self.fresh = self.rng.permutation(self.pool), 0, False
            item = int(self.order[self.pos])
            self.pos += 1
            if item in in_batch or (self.fresh and used[item]):
                continue
            chosen.append(item)
            in_batch.add(item)
            used[item] = True
        return chosen

    @property
    def _members(self) -> set[int]:
        if not hasattr(self, "_member_set"):
            self._member_set = set(self.pool.tolist())
        return self._member_set


class EpochDraw:
    """One epoch's randomness: a generator seeded by (seed, epoch) and an item stream per pool."""

    def __init__(self, rng: np.random.Generator, n_items: int):
        self.rng = rng
        self.used = np.zeros(n_items, dtype=bool)
        self._streams: dict[Hashable, _ItemStream] = {}

    def take(self, key: Hashable, pool: np.ndarray, n: int, in_batch: set[int] | None = None) -> list[int]:
        """``n`` distinct items of ``pool`` not in ``in_batch`` (the global batch so far; updated in place)."""
        if key not in self._streams:
            self._streams[key] = _ItemStream(pool, self.rng)
        return self._streams[key].take(n, self.used, set() if in_batch is None else in_batch)
