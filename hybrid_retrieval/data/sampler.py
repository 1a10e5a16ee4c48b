"""HybridBatchSampler: decides the composition of every training batch.

Each batch is either monolingual (all queries and passages in one language) or
cross-lingual (every query paired with a passage in another language).  The
sampler, not the dataset, makes that decision so that batch composition is
explicit, seeded by (seed, epoch), and identical across ranks: every rank
builds the same *global* batch of ``batch_size * num_replicas`` samples and
takes its own slice, so all ranks share the batch kind and language choice at
every step and no item appears twice across the global batch.

A sample is a tuple ``(item, query_language, passage_language)`` of indices
into a :class:`~hybrid_retrieval.data.corpus.ParallelCorpus`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from torch.utils.data import Sampler

Sample = tuple[int, int, int]
CROSS_MODES = ("per_sample", "per_batch")
SCHEDULES = ("exact", "bernoulli")


@dataclass(frozen=True)
class BatchPlan:
    """One global batch: its kind and its samples (all ranks)."""

    cross: bool
    samples: tuple[Sample, ...]


class _ItemStream:
    """Shuffled pass over a pool of items that prefers items not yet used this epoch."""

    def __init__(self, pool: np.ndarray, rng: np.random.Generator):
        self.pool, self.rng = pool, rng
        self.order, self.pos, self.fresh = rng.permutation(pool), 0, True

    def take(self, n: int, used: np.ndarray) -> list[int]:
        if n > len(self.pool):
            raise ValueError(f"a pool of {len(self.pool)} items cannot fill a batch of {n} distinct items")
        chosen: list[int] = []
        in_batch: set[int] = set()
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


class HybridBatchSampler(Sampler[list[Sample]]):
    """Yields this rank's list of samples for each step.

    Args:
        available: bool matrix (items x languages): which languages each item has.
        batch_size: samples per rank per step.
        cross_ratio: share of cross-lingual batches, in [0, 1].
        cross_mode: ``per_sample`` draws a (query, passage) language pair per sample
            from the item's languages; ``per_batch`` draws one pair for the whole batch.
        schedule: ``exact`` gives round(cross_ratio * len) cross batches per epoch in
            shuffled order; ``bernoulli`` makes each batch cross with probability cross_ratio.
        num_batches: batches per epoch; default: items // (batch_size * num_replicas).
    """

    def __init__(self, available: np.ndarray, batch_size: int, cross_ratio: float, cross_mode: str = "per_sample",
                 schedule: str = "exact", seed: int = 0, num_replicas: int = 1, rank: int = 0,
                 num_batches: int | None = None):
        super().__init__()
        if not 0.0 <= cross_ratio <= 1.0:
            raise ValueError(f"data.cross_ratio={cross_ratio}: must be in [0, 1]")
        if cross_mode not in CROSS_MODES:
            raise ValueError(f"data.cross_mode={cross_mode!r}: valid values are {CROSS_MODES}")
        if schedule not in SCHEDULES:
            raise ValueError(f"data.schedule={schedule!r}: valid values are {SCHEDULES}")
        if batch_size < 2:
            raise ValueError(f"data.batch_size={batch_size}: in-batch negatives need at least 2")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside world size {num_replicas}")
        self.available = np.asarray(available, dtype=bool)
        self.batch_size, self.cross_ratio, self.cross_mode, self.schedule = batch_size, cross_ratio, cross_mode, schedule
        self.seed, self.num_replicas, self.rank, self.epoch = seed, num_replicas, rank, 0
        self._resume_at: tuple[int | None, int] = (None, 0)  # (epoch, batches already trained), see resume()
        self.global_size = batch_size * num_replicas
        n_items = self.available.shape[0]
        self.num_batches = num_batches if num_batches is not None else n_items // self.global_size
        if self.num_batches < 1:
            raise ValueError(f"{n_items} training items are fewer than one global batch "
                             f"(data.batch_size={batch_size} x {num_replicas} ranks)")
        counts = self.available.sum(axis=0)
        self.mono_languages = [j for j, c in enumerate(counts) if c >= self.global_size]
        n_langs = self.available.shape[1]
        self.pairs = [(a, b) for a in range(n_langs) for b in range(n_langs)
                      if a != b and int((self.available[:, a] & self.available[:, b]).sum()) >= self.global_size]
        self.multi_items = np.flatnonzero(self.available.sum(axis=1) >= 2)
        if cross_ratio < 1 and not self.mono_languages:
            raise ValueError(f"data.cross_ratio={cross_ratio} needs monolingual batches, but no language has "
                             f"{self.global_size} items (items per language: {counts.tolist()})")
        if cross_ratio > 0:
            enough = self.pairs if cross_mode == "per_batch" else self.multi_items
            if len(enough) == 0 or (cross_mode == "per_sample" and len(self.multi_items) < self.global_size):
                raise ValueError(f"data.cross_ratio={cross_ratio} needs cross-lingual batches: at least two "
                                 f"training languages (data.languages) sharing {self.global_size} items")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def sampler(self) -> "HybridBatchSampler":
        """Lightning calls ``set_epoch`` on ``batch_sampler.sampler`` (torch's BatchSampler layout), not on us."""
        return self

    def resume(self, epoch: int, batches_done: int) -> None:
        """After a restart mid-epoch: the next pass is ``epoch`` without the ``batches_done`` already trained."""
        self.epoch, self._resume_at = int(epoch), (int(epoch), int(batches_done))

    def __len__(self) -> int:
        return self.num_batches

    def _kinds(self, rng: np.random.Generator) -> np.ndarray:
        n = self.num_batches
        if self.schedule == "bernoulli":
            return rng.random(n) < self.cross_ratio
        kinds = np.zeros(n, dtype=bool)
        kinds[: int(round(self.cross_ratio * n))] = True
        return rng.permutation(kinds)

    def plan(self, epoch: int | None = None) -> list[BatchPlan]:
        """The global batches of an epoch; a pure function of (seed, epoch)."""
        epoch = self.epoch if epoch is None else epoch
        rng = np.random.default_rng([self.seed, epoch])
        used = np.zeros(self.available.shape[0], dtype=bool)
        streams: dict[object, _ItemStream] = {}

        def stream(key: object, pool: np.ndarray) -> _ItemStream:
            if key not in streams:
                streams[key] = _ItemStream(pool, rng)
            return streams[key]

        plans = []
        for cross in self._kinds(rng):
            if not cross:
                lang = self.mono_languages[rng.integers(len(self.mono_languages))]
                items = stream(("mono", lang), np.flatnonzero(self.available[:, lang])).take(self.global_size, used)
                samples = tuple((i, lang, lang) for i in items)
            elif self.cross_mode == "per_batch":
                q, p = self.pairs[rng.integers(len(self.pairs))]
                pool = np.flatnonzero(self.available[:, q] & self.available[:, p])
                items = stream(("pair", q, p), pool).take(self.global_size, used)
                samples = tuple((i, q, p) for i in items)
            else:
                items = stream("cross", self.multi_items).take(self.global_size, used)
                samples = tuple((i, *self._draw_pair(i, rng)) for i in items)
            plans.append(BatchPlan(bool(cross), samples))
        return plans

    def _draw_pair(self, item: int, rng: np.random.Generator) -> tuple[int, int]:
        langs = np.flatnonzero(self.available[item])
        q, p = rng.choice(len(langs), size=2, replace=False)  # uniform over ordered distinct pairs
        return int(langs[q]), int(langs[p])

    def __iter__(self) -> Iterator[list[Sample]]:
        lo, hi = self.rank * self.batch_size, (self.rank + 1) * self.batch_size
        epoch, done = self._resume_at
        self._resume_at = (None, 0)  # skip once: later passes over this epoch start at its beginning
        for plan in self.plan()[done if epoch == self.epoch else 0:]:
            yield list(plan.samples[lo:hi])
