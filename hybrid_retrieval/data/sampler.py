"""HybridBatchSampler: decides the composition of every training batch.

Each step takes one *batch kind* (:mod:`hybrid_retrieval.data.batch_kinds`):
monolingual (all queries and passages in one language), cross-lingual (every
query paired with a passage in another language), standard multilingual
(monolingual pairs, languages mixed), code-switched, or one of your own.  The
kinds' shares decide how many batches of each an epoch holds; the kind decides
what the batch holds.  The sampler, not the dataset, makes these decisions so
that batch composition is explicit, seeded by (seed, epoch), and identical
across ranks: every rank builds the same *global* batch of
``batch_size * num_replicas`` samples and takes its own slice, so all ranks
share the batch kind and language choice at every step and no item appears
twice across the global batch.

A sample is ``Sample(item, query_lang, passage_lang, kind)``: indices into a
:class:`~hybrid_retrieval.data.corpus.ParallelCorpus` and the kind's name.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from torch.utils.data import Sampler

from hybrid_retrieval.data.batch_kinds import SHARE, BatchKind
from hybrid_retrieval.data.pools import EpochDraw, LanguagePools
from hybrid_retrieval.rules import Valid, one_of

SCHEDULES = ("exact", "bernoulli")
# the rules of the keys this module consumes; the config schema points at them
SCHEDULE = one_of(lambda: SCHEDULES)
BATCH_SIZE = Valid(lambda v: v >= 2, ">= 2")  # in-batch negatives need a second pair


class Sample(NamedTuple):
    item: int
    query_lang: int
    passage_lang: int
    kind: str


@dataclass(frozen=True)
class BatchPlan:
    """One global batch: its kind and its samples (all ranks)."""

    kind: str
    cross: bool  # the kind pairs queries and passages in different languages
    samples: tuple[Sample, ...]


def resolve_shares(kinds: Mapping[str, BatchKind]) -> dict[str, float]:
    """Each kind's share; a null share is what the others leave. Shares must be in [0, 1] and sum to 1."""
    if not kinds:
        raise ValueError(
            "data.batch_kinds: empty; a recipe (recipe=hybrid, xx, xy, multilingual, code_switched or "
            "your own in conf/recipe/) names the batch kinds training draws from"
        )
    open_ = [name for name, kind in kinds.items() if kind.share is None]
    if len(open_) > 1:
        raise ValueError(f"data.batch_kinds: {open_} all have share null; at most one kind may take the rest")
    shares = {}
    for name, kind in kinds.items():
        if kind.share is not None:
            share = float(kind.share)
            SHARE.require(kind.share_source(name), share)
            shares[name] = share
    given = sum(shares.values())
    if open_:
        if given > 1 + 1e-9:
            raise ValueError(
                f"data.batch_kinds: shares {shares} sum to {given:g} > 1, leaving nothing for {open_[0]!r}"
            )
        shares[open_[0]] = max(0.0, 1.0 - given)
    elif not math.isclose(given, 1.0, abs_tol=1e-6):
        raise ValueError(
            f"data.batch_kinds: shares {shares} sum to {given:g}; they must sum to 1 "
            f"(or give one kind share null to take the rest)"
        )
    return {name: shares[name] for name in kinds}  # in the recipe's order


class HybridBatchSampler(Sampler[list[Sample]]):
    """Yields this rank's list of samples for each step.

    Args:
        available: bool matrix (items x languages): which languages each item has.
        batch_size: samples per rank per step.
        batch_kinds: name -> BatchKind, in order (the recipe: ``data.batch_kinds``); kinds with
            share 0 never occur.
        schedule: ``exact`` gives each kind round-off-exact counts per epoch (cumulative
            rounding in the kinds' order, so the first kind gets round(share * len))
            in shuffled order; ``bernoulli`` draws each batch's kind with its share.
        num_batches: batches per epoch; default: items // (batch_size * num_replicas).
        language_alpha: language temperature of the kinds (n**alpha; 0 uniform, 1 by data).
    """

    def __init__(
        self,
        available: np.ndarray,
        batch_size: int,
        batch_kinds: Mapping[str, BatchKind],
        schedule: str = "exact",
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        num_batches: int | None = None,
        language_alpha: float = 0.0,
    ):
        super().__init__()
        SCHEDULE.require("data.schedule", schedule)
        BATCH_SIZE.require("data.batch_size", batch_size)
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside world size {num_replicas}")
        kinds = dict(batch_kinds)
        shares = resolve_shares(kinds)
        self.batch_size, self.schedule = batch_size, schedule
        self.seed, self.num_replicas, self.rank, self.epoch = seed, num_replicas, rank, 0
        self._resume_at: tuple[int | None, int] = (None, 0)  # (epoch, batches already trained), see resume()
        self.global_size = batch_size * num_replicas
        self.pools = LanguagePools(available, self.global_size, language_alpha)
        n_items = self.pools.available.shape[0]
        self.num_batches = num_batches if num_batches is not None else n_items // self.global_size
        if self.num_batches < 1:
            raise ValueError(
                f"{n_items} training items are fewer than one global batch "
                f"(data.batch_size={batch_size} x {num_replicas} ranks)"
            )
        self.kinds = {name: kinds[name] for name, share in shares.items() if share > 0}
        self.shares = np.array([shares[name] for name in self.kinds])
        self.kind_names = list(self.kinds)
        for name, kind in self.kinds.items():  # errors name the key the user set
            kind.check(self.pools, f"{kind.share_source(name)}={shares[name]:g}")

    @property
    def available(self) -> np.ndarray:
        return self.pools.available

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def sampler(self) -> HybridBatchSampler:
        """Lightning calls ``set_epoch`` on ``batch_sampler.sampler`` (torch's BatchSampler layout), not on us."""
        return self

    def resume(self, epoch: int, batches_done: int) -> None:
        """After a restart mid-epoch: the next pass is ``epoch`` without the ``batches_done`` already trained."""
        self.epoch, self._resume_at = int(epoch), (int(epoch), int(batches_done))

    def __len__(self) -> int:
        return self.num_batches

    def _schedule(self, rng: np.random.Generator) -> np.ndarray:
        """The kind (index into kind_names) of every batch of the epoch."""
        n = self.num_batches
        edges = np.cumsum(self.shares)
        if self.schedule == "bernoulli":
            return np.minimum(np.searchsorted(edges, rng.random(n), side="right"), len(edges) - 1)
        bounds = [int(round(e * n)) for e in edges[:-1]] + [n]
        counts = np.diff([0, *bounds])
        return rng.permutation(np.repeat(np.arange(len(counts)), counts))

    def plan(self, epoch: int | None = None) -> list[BatchPlan]:
        """The global batches of an epoch; a pure function of (seed, epoch)."""
        epoch = self.epoch if epoch is None else epoch
        rng = np.random.default_rng([self.seed, epoch])
        draw = EpochDraw(rng, self.pools.available.shape[0])
        plans = []
        for k in self._schedule(rng):
            name = self.kind_names[int(k)]
            kind = self.kinds[name]
            samples = tuple(Sample(int(i), int(q), int(p), name) for i, q, p in kind.draw(self.pools, draw))
            plans.append(BatchPlan(name, kind.cross_lingual, samples))
        return plans

    def __iter__(self) -> Iterator[list[Sample]]:
        lo, hi = self.rank * self.batch_size, (self.rank + 1) * self.batch_size
        epoch, done = self._resume_at
        self._resume_at = (None, 0)  # skip once: later passes over this epoch start at its beginning
        for plan in self.plan()[done if epoch == self.epoch else 0 :]:
            yield list(plan.samples[lo:hi])
