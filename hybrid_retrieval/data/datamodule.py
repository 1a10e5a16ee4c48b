"""HybridDataModule: corpus -> hybrid batch sampler -> collated batches."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from hybrid_retrieval.data.corpus import ParallelCorpus
from hybrid_retrieval.data.sampler import HybridBatchSampler, Sample


class PairDataset(Dataset):
    """Map-style dataset indexed by sampler tuples (item, query_lang, passage_lang)."""

    def __init__(self, corpus: ParallelCorpus, hard_negatives: int = 0, seed: int = 0):
        self.corpus, self.hard_negatives, self.seed = corpus, hard_negatives, seed

    def __len__(self) -> int:
        return len(self.corpus)

    def __getitem__(self, sample: Sample) -> dict[str, Any]:
        item, q_lang, p_lang = sample
        query = self.corpus.example(item, q_lang).query
        target = self.corpus.example(item, p_lang)
        negatives = target.negatives
        if self.hard_negatives < len(negatives):
            pick = np.random.default_rng([self.seed, item, p_lang]).choice(len(negatives), self.hard_negatives, replace=False)
            negatives = tuple(negatives[i] for i in sorted(pick))
        return {
            "query": query, "positive": target.positive.text, "positive_id": target.positive.pid,
            "negatives": [n.text for n in negatives], "negative_ids": [n.pid for n in negatives],
            "query_lang": q_lang, "passage_lang": p_lang,
        }


class HybridDataModule(pl.LightningDataModule):
    """Training batches whose composition follows ``cross_ratio`` / ``cross_mode`` / ``schedule``."""

    def __init__(self, corpus: ParallelCorpus, batch_size: int = 32, cross_ratio: float = 0.5,
                 cross_mode: str = "per_sample", schedule: str = "exact", hard_negatives: int = 0,
                 num_batches: int | None = None, num_workers: int = 0, seed: int = 0,
                 languages: list[str] | None = None, collate_fn: Callable | None = None, pretokenize: bool = True):
        super().__init__()
        self.corpus, self.collate_fn, self.languages = corpus, collate_fn, list(languages or corpus.languages)
        self.pretokenize = pretokenize
        self.batch_size, self.cross_ratio, self.cross_mode, self.schedule = batch_size, cross_ratio, cross_mode, schedule
        self.hard_negatives, self.num_batches, self.num_workers, self.seed = hard_negatives, num_batches, num_workers, seed

    def make_sampler(self, num_replicas: int = 1, rank: int = 0) -> HybridBatchSampler:
        return HybridBatchSampler(self.corpus.available, self.batch_size, self.cross_ratio, self.cross_mode,
                                  self.schedule, seed=self.seed, num_replicas=num_replicas, rank=rank,
                                  num_batches=self.num_batches)

    def setup(self, stage: str) -> None:
        if self.pretokenize and hasattr(self.collate_fn, "pretokenize"):
            self.collate_fn.pretokenize(*self.corpus.texts())

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        sampler = self.make_sampler(world, rank)
        if trainer is not None:  # after a resume, continue the epoch where the checkpoint left it
            sampler.resume(trainer.fit_loop.epoch_progress.current.processed,
                           trainer.fit_loop.epoch_loop.batch_progress.current.ready)
        # its own generator: iterating must not draw from the global RNG that dropout uses
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(PairDataset(self.corpus, self.hard_negatives, self.seed),
                          batch_sampler=sampler, collate_fn=self.collate_fn, generator=generator,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)
