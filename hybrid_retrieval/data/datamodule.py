"""HybridDataModule: corpus -> batch sampler (batch kinds) -> per-kind transforms -> collated batches."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from hybrid_retrieval.data.batch_kinds import BatchKind
from hybrid_retrieval.data.corpus import ParallelCorpus
from hybrid_retrieval.data.hard_negatives import NegativePicker
from hybrid_retrieval.data.sampler import HybridBatchSampler, Sample, resolve_shares


class PairDataset(Dataset):
    """Map-style dataset indexed by sampler samples (item, query_lang, passage_lang, kind).

    A row keeps its sample's kind (its name and whether it is cross-lingual, what the
    training record counts), and the kind may rewrite the row's texts
    (``BatchKind.transform``, e.g. code-switching) with a generator seeded by
    (seed, sample), so a sample reads the same on every rank and every resume.

    Args:
        kinds: the sampler's batch kinds (name -> BatchKind); every sample's kind is one of them.
        hard_negatives: ``data.hard_negatives`` (an int: paragraph sentences; a node; data/hard_negatives.py)
            or a NegativePicker built from it.
    """

    def __init__(self, corpus: ParallelCorpus, kinds: Mapping[str, BatchKind], hard_negatives: Any = 0, seed: int = 0):
        self.corpus, self.seed = corpus, seed
        self.negatives = (
            hard_negatives
            if isinstance(hard_negatives, NegativePicker)
            else NegativePicker(corpus, hard_negatives, seed)
        )
        self.kinds = dict(kinds)

    def __len__(self) -> int:
        return len(self.corpus)

    def __getitem__(self, sample: Sample) -> dict[str, Any]:
        item, q_lang, p_lang, kind = sample
        if kind not in self.kinds:
            raise KeyError(f"sample of batch kind {kind!r}, not one of this dataset's kinds {list(self.kinds)}")
        query = self.corpus.example(item, q_lang).query
        target = self.corpus.example(item, p_lang)
        negatives = self.negatives.pick(item, q_lang, p_lang)  # [(Passage, its language index)]
        row = {
            "query": query,
            "positive": target.positive.text,
            "positive_id": target.positive.pid,
            "negatives": [n.text for n, _ in negatives],
            "negative_ids": [n.pid for n, _ in negatives],
            "negative_langs": [lang for _, lang in negatives],
            "query_lang": q_lang,
            "passage_lang": p_lang,
            "kind": kind,
            "cross_lingual": self.kinds[kind].cross_lingual,
        }
        rng = np.random.default_rng([self.seed, item, q_lang, p_lang, zlib.crc32(kind.encode())])
        return self.kinds[kind].transform(row, rng)


class HybridDataModule(pl.LightningDataModule):
    """Training batches composed by the recipe's batch kinds (``batch_kinds``: name -> BatchKind, in order).

    The recipe's own values (``data.cross_ratio``, ``data.cross_mode``, ``data.code_switch_rate``) are
    read by the recipe's kinds in the config (conf/recipe/), not here; the job builds this module from
    the data node without them (``job.train.build_datamodule``).
    """

    def __init__(
        self,
        corpus: ParallelCorpus,
        batch_kinds: Mapping[str, BatchKind],
        batch_size: int = 32,
        schedule: str = "exact",
        hard_negatives: Any = 0,
        num_batches: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
        languages: list[str] | None = None,
        collate_fn: Callable | None = None,
        pretokenize: bool = True,
        language_alpha: float = 0.0,
    ):
        super().__init__()
        resolve_shares(batch_kinds)  # an empty recipe or shares that do not add up fail here, before any set-up
        self.corpus, self.collate_fn, self.languages = corpus, collate_fn, list(languages or corpus.languages)
        self.pretokenize = pretokenize
        self.batch_size, self.schedule = batch_size, schedule
        self.num_batches, self.num_workers, self.seed = num_batches, num_workers, seed
        self.hard_negatives = NegativePicker(corpus, hard_negatives, seed)  # a mined file is read (and checked) here
        self.batch_kinds = dict(batch_kinds)
        self.language_alpha = language_alpha

    def make_sampler(self, num_replicas: int = 1, rank: int = 0) -> HybridBatchSampler:
        return HybridBatchSampler(
            self.corpus.available,
            self.batch_size,
            self.batch_kinds,
            self.schedule,
            seed=self.seed,
            num_replicas=num_replicas,
            rank=rank,
            num_batches=self.num_batches,
            language_alpha=self.language_alpha,
        )

    def make_dataset(self) -> PairDataset:
        return PairDataset(self.corpus, self.batch_kinds, self.hard_negatives, self.seed)

    def setup(self, stage: str) -> None:
        for kind in self.batch_kinds.values():
            if kind.share != 0:
                kind.prepare(self.corpus)
        if self.pretokenize and hasattr(self.collate_fn, "pretokenize"):
            self.collate_fn.pretokenize(*self.corpus.texts())

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        sampler = self.make_sampler(world, rank)
        if trainer is not None:  # after a resume, continue the epoch where the checkpoint left it
            sampler.resume(
                trainer.fit_loop.epoch_progress.current.processed,
                trainer.fit_loop.epoch_loop.batch_progress.current.ready,
            )
        # its own generator: iterating must not draw from the global RNG that dropout uses
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.make_dataset(),
            batch_sampler=sampler,
            collate_fn=self.collate_fn,
            generator=generator,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )
