"""Behaviour of HybridBatchSampler on synthetic availability matrices."""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.data import DataLoader

from hybrid_retrieval.data.batch_kinds import hybrid_recipe
from hybrid_retrieval.data.corpus import Example, ParallelCorpus, Passage
from hybrid_retrieval.data.datamodule import PairDataset
from hybrid_retrieval.data.sampler import HybridBatchSampler

RARE = 3  # language with too few items for a monolingual batch or a per-batch pair
MODES = ("per_sample", "per_batch")


def make_available(n_items: int = 300, seed: int = 0) -> np.ndarray:
    """300 items x 4 languages: 0 nearly full, 1 ~80%, 2 ~60%, 3 rare (12 items); items 0..19 only in language 1."""
    rng = np.random.default_rng(seed)
    avail = np.zeros((n_items, 4), dtype=bool)
    avail[:, 0] = True
    avail[:, 1] = rng.random(n_items) < 0.8
    avail[:, 2] = rng.random(n_items) < 0.6
    avail[20 + rng.choice(n_items - 20, 12, replace=False), RARE] = True
    avail[:20] = [False, True, False, False]
    return avail


AVAIL = make_available()


def sampler(avail=AVAIL, batch_size=8, cross_ratio=0.5, cross_mode="per_sample", **kw) -> HybridBatchSampler:
    """The hybrid recipe (conf/recipe/hybrid.yaml) at ``cross_ratio``, ``cross_mode``."""
    return HybridBatchSampler(avail, batch_size, hybrid_recipe(cross_ratio, cross_mode), **kw)


def batch_pairs(samples) -> set[tuple[int, int]]:
    return {(q, p) for _, q, p, _ in samples}


# ---------------------------------------------------------------- batch composition


@pytest.mark.parametrize("cross_mode", MODES)
def test_mono_batches_are_homogeneous(cross_mode):
    s = sampler(cross_mode=cross_mode, num_replicas=2, num_batches=40)
    n_mono, mono_langs = 0, set()
    for epoch in range(3):
        for plan in s.plan(epoch):
            if plan.cross:
                continue
            n_mono += 1
            assert all(q == p for _, q, p, _ in plan.samples)
            langs = {q for _, q, _, _ in plan.samples}
            assert len(langs) == 1
            lang = langs.pop()
            assert lang != RARE  # only 12 items: never enough for a batch of 16
            assert all(AVAIL[i, lang] for i, _, _, _ in plan.samples)
            mono_langs.add(lang)
    assert n_mono > 0
    assert mono_langs == {0, 1, 2}  # every language with enough items gets monolingual batches


@pytest.mark.parametrize("cross_mode", MODES)
def test_cross_batches_pair_two_available_languages(cross_mode):
    s = sampler(cross_mode=cross_mode, cross_ratio=0.75, num_replicas=2, num_batches=40)
    n_cross, mixed, seen_pairs = 0, False, set()
    for epoch in range(3):
        for plan in s.plan(epoch):
            if not plan.cross:
                continue
            n_cross += 1
            for i, q, p, _ in plan.samples:
                assert q != p
                assert AVAIL[i, q] and AVAIL[i, p], (i, q, p)
            pairs = batch_pairs(plan.samples)
            if cross_mode == "per_batch":
                assert len(pairs) == 1
                assert RARE not in next(iter(pairs))  # shares at most 12 items with any language: < 16
            mixed |= len(pairs) > 1
            seen_pairs |= pairs
    assert n_cross > 0
    assert {(q, p) for q in range(3) for p in range(3) if q != p} <= seen_pairs  # all well-populated pairs occur
    # per_sample draws a pair per sample, so batches mix pairs
    assert mixed == (cross_mode == "per_sample")


@pytest.mark.parametrize("cross_mode", MODES)
@pytest.mark.parametrize("num_replicas", [1, 3])
def test_no_item_twice_in_a_global_batch(cross_mode, num_replicas):
    # 60 x 8 x replicas samples from 300 items: the pools run dry and are reshuffled mid-batch
    s = sampler(cross_mode=cross_mode, num_replicas=num_replicas, num_batches=60)
    for epoch in range(5):
        for plan in s.plan(epoch):
            items = [i for i, _, _, _ in plan.samples]
            assert len(items) == 8 * num_replicas
            assert len(set(items)) == len(items)


def test_no_item_twice_with_pool_just_one_batch_large():
    # languages 0 and 1 share exactly 16 items: every per_batch cross batch uses all of them
    avail = np.zeros((40, 2), dtype=bool)
    avail[:, 0] = True
    avail[:16, 1] = True
    s = sampler(avail, batch_size=8, cross_ratio=1.0, cross_mode="per_batch", num_replicas=2, num_batches=30)
    for plan in s.plan(0):
        assert sorted(i for i, _, _, _ in plan.samples) == list(range(16))


# ---------------------------------------------------------------- ratio


@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("num_batches", [None, 37])
def test_exact_schedule_realises_ratio(ratio, num_batches):
    s = sampler(cross_ratio=ratio, schedule="exact", num_batches=num_batches)
    expected = round(ratio * len(s))
    for epoch in range(4):
        assert sum(p.cross for p in s.plan(epoch)) == expected


def test_exact_schedule_shuffles_batch_kinds():
    s = sampler(cross_ratio=0.5, num_batches=20)
    layouts = {tuple(p.cross for p in s.plan(epoch)) for epoch in range(5)}
    assert len(layouts) > 1
    assert tuple([True] * 10 + [False] * 10) not in layouts


@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_bernoulli_schedule_ratio_within_tolerance(ratio):
    s = sampler(batch_size=2, cross_ratio=ratio, schedule="bernoulli", num_batches=4000, seed=11)
    frac = np.mean([p.cross for p in s.plan(0)])
    # sd of the fraction is at most 0.008 at 4000 batches
    assert frac == pytest.approx(ratio, abs=0.03)
    if 0 < ratio < 1:  # really random, not a fixed count
        counts = {sum(p.cross for p in s.plan(e)) for e in range(4)}
        assert len(counts) > 1


# ---------------------------------------------------------------- length


@pytest.mark.parametrize(
    "kw,expected_len",
    [
        ({}, 300 // 8),
        ({"num_replicas": 3, "rank": 1}, 300 // 24),
        ({"num_batches": 53}, 53),
        ({"num_batches": 53, "num_replicas": 2, "rank": 1, "schedule": "bernoulli"}, 53),
    ],
)
def test_len_matches_batches_yielded(kw, expected_len):
    s = sampler(**kw)
    batches = list(s)
    assert len(s) == expected_len == len(batches)
    assert all(len(b) == 8 for b in batches)
    s.set_epoch(7)
    assert len(list(s)) == len(s)


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("cross_mode", MODES)
@pytest.mark.parametrize("schedule", ["exact", "bernoulli"])
def test_determinism(cross_mode, schedule):
    def batches(seed, epoch):
        s = sampler(cross_mode=cross_mode, schedule=schedule, seed=seed)
        s.set_epoch(epoch)
        return list(s)

    base = batches(3, 0)
    assert batches(3, 0) == base
    assert batches(3, 1) != base
    assert batches(4, 0) != base
    # set_epoch goes back and forth; plan(epoch) is the same global batch as iterating at that epoch
    s = sampler(cross_mode=cross_mode, schedule=schedule, seed=3)
    s.set_epoch(5)
    s.set_epoch(0)
    assert list(s) == base
    assert [list(p.samples) for p in s.plan(0)] == base


# ---------------------------------------------------------------- ranks


@pytest.mark.parametrize("cross_mode", MODES)
@pytest.mark.parametrize("num_replicas", [2, 3])
def test_ranks_agree_and_partition_the_global_batch(cross_mode, num_replicas):
    ranks = [sampler(cross_mode=cross_mode, num_replicas=num_replicas, rank=r, seed=9) for r in range(num_replicas)]
    assert len({len(s) for s in ranks}) == 1
    for epoch in (0, 3):
        for s in ranks:
            s.set_epoch(epoch)
        plans = ranks[0].plan(epoch)
        steps = list(zip(*ranks))
        assert len(steps) == len(plans) == len(ranks[0])
        saw = set()
        for plan, step in zip(plans, steps):
            kinds = set()
            for part in step:
                assert len(part) == 8
                kinds.add(all(q != p for _, q, p, _ in part))
                assert all(q == p for _, q, p, _ in part) or all(q != p for _, q, p, _ in part)
            assert kinds == {plan.cross}
            if not plan.cross:
                assert len({q for part in step for _, q, _, _ in part}) == 1  # one language on every rank
            elif cross_mode == "per_batch":
                assert len({(q, p) for part in step for _, q, p, _ in part}) == 1  # one pair on every rank
            item_sets = [{i for i, _, _, _ in part} for part in step]
            assert sum(map(len, item_sets)) == len(set().union(*item_sets))  # disjoint across ranks
            assert [x for part in step for x in part] == list(plan.samples)
            saw.add((plan.cross, len(batch_pairs(plan.samples))))
        assert {c for c, _ in saw} == {True, False}


# ---------------------------------------------------------------- item coverage


@pytest.mark.parametrize("num_replicas", [1, 3])
def test_single_language_epoch_uses_each_item_at_most_once(num_replicas):
    avail = np.ones((300, 1), dtype=bool)
    for batch_size in (10, 7):
        s = sampler(avail, batch_size=batch_size, cross_ratio=0.0, num_replicas=num_replicas)
        for epoch in range(3):
            items = [i for p in s.plan(epoch) for i, _, _, _ in p.samples]
            assert len(items) == len(set(items)) == len(s) * batch_size * num_replicas
        if 300 % (batch_size * num_replicas) == 0:
            assert len(items) == 300  # the epoch is exactly one pass


@pytest.mark.parametrize("cross_mode", MODES)
def test_items_not_reused_before_their_pool_is_exhausted(cross_mode):
    """An item is used a second time in an epoch only once every item of the pool it is drawn from has been used."""
    multi = set(np.flatnonzero(AVAIL.sum(axis=1) >= 2).tolist())

    def pool(plan, q, p):
        if not plan.cross:
            return set(np.flatnonzero(AVAIL[:, q]).tolist())
        if cross_mode == "per_batch":
            return set(np.flatnonzero(AVAIL[:, q] & AVAIL[:, p]).tolist())
        return multi

    s = sampler(cross_mode=cross_mode, num_batches=60)
    reuses = 0
    for epoch in range(3):
        seen: set[int] = set()
        for plan in s.plan(epoch):
            for i, q, p, _ in plan.samples:
                if i in seen:
                    reuses += 1
                    assert pool(plan, q, p) <= seen, (epoch, i, q, p)
                seen.add(i)
    assert reuses > 0  # 480 samples per epoch from 300 items: the property was exercised


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs,key",
    [
        ({"cross_ratio": -0.1}, "data.cross_ratio"),
        ({"cross_ratio": 1.5}, "data.cross_ratio"),
        ({"cross_ratio": float("nan")}, "data.cross_ratio"),
        ({"batch_size": 1}, "data.batch_size"),
        ({"batch_size": 0}, "data.batch_size"),
        ({"cross_mode": "sometimes"}, "data.cross_mode"),
        ({"schedule": "random"}, "data.schedule"),
        ({"avail": np.ones((300, 1), dtype=bool), "cross_ratio": 0.1}, "data.cross_ratio"),
        ({"avail": np.ones((300, 1), dtype=bool), "cross_ratio": 1.0, "cross_mode": "per_batch"}, "data.cross_ratio"),
        ({"batch_size": 400}, "data.batch_size"),  # fewer items than one global batch
    ],
)
def test_invalid_configuration_raises(kwargs, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        sampler(**kwargs)


def test_cross_needs_languages_sharing_a_global_batch_of_items():
    # two languages, but they share only 5 items (< batch of 8): no per_batch pair, too few multilingual items
    avail = np.zeros((100, 2), dtype=bool)
    avail[:, 0] = True
    avail[:5, 1] = True
    for mode in MODES:
        with pytest.raises(ValueError, match=r"data\.cross_ratio"):
            sampler(avail, cross_ratio=0.5, cross_mode=mode)
    # monolingual training on the same data is fine
    assert len(list(sampler(avail, cross_ratio=0.0))) == 100 // 8


def test_single_language_monolingual_is_valid():
    s = sampler(np.ones((50, 1), dtype=bool), cross_ratio=0.0)
    assert all(q == p == 0 for b in s for _, q, p, _ in b)


# ---------------------------------------------------------------- DataLoader plumbing


def test_dataloader_with_pair_dataset():
    langs = ["de", "en", "fr"]
    avail = make_available(n_items=60, seed=4)[:, :3]
    examples = {}
    for i in range(60):
        for j, lang in enumerate(langs):
            if avail[i, j]:
                negs = tuple(Passage(f"it{i:02d}-{lang}-n{k}", f"negative {k} of {i} in {lang}") for k in range(3))
                examples[(f"it{i:02d}", lang)] = Example(
                    f"question {i} in {lang}", Passage(f"it{i:02d}-{lang}-p", f"answer {i} in {lang}"), negs
                )
    corpus = ParallelCorpus(examples, langs)
    assert np.array_equal(corpus.available, avail)  # item names sort in the order they were built
    s = HybridBatchSampler(corpus.available, 4, hybrid_recipe(0.5, "per_sample"), seed=1)
    loader = DataLoader(PairDataset(corpus, s.kinds, hard_negatives=2), batch_sampler=s, collate_fn=lambda rows: rows)
    assert len(loader) == len(s) == 60 // 4
    n = 0
    for rows, samples in zip(loader, list(s)):
        n += 1
        assert len(rows) == 4
        for row, (item, q, p, _) in zip(rows, samples):
            name = corpus.items[item]
            assert row["query"] == f"question {int(name[2:])} in {langs[q]}"
            assert row["positive"] == f"answer {int(name[2:])} in {langs[p]}"
            assert row["positive_id"] == f"{name}-{langs[p]}-p"
            assert (row["query_lang"], row["passage_lang"]) == (q, p)
            assert len(row["negatives"]) == 2
            assert all(nid.startswith(f"{name}-{langs[p]}-n") for nid in row["negative_ids"])
    assert n == len(s)
