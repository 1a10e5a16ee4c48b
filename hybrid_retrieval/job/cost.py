"""The arithmetic a job does: the tokens of every training step and of every evaluation text, as FLOPs.

Training counts each step's batches at their real lengths (epochs repeat when the job takes more steps
than one epoch holds); evaluation counts every text a benchmark encodes once, with its prefix and
truncated as the evaluation encodes it.  ``perf/job_floor.py`` divides these FLOPs by the measured
matrix-product peak: the time no implementation of the same computation beats on a machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from hybrid_retrieval.bench.flops import encoder_shape, sequence_flops


@dataclass(frozen=True)
class PhaseCost:
    """One phase of a job: the texts it encodes, their real tokens, and the FLOPs of encoding them."""

    texts: int
    tokens: int
    flops: float


def training_lengths(cfg, model) -> tuple[list[int], int]:
    """Real lengths of every query and passage the job's training steps encode, and the number of pairs."""
    from hybrid_retrieval.job.train import build_datamodule

    dm = build_datamodule(cfg.data, collate_fn=model.make_collator())
    dm.setup("fit")
    batches = int(cfg.trainer.max_steps) * int(cfg.trainer.get("accumulate_grad_batches") or 1)
    lengths, pairs, done = [], 0, 0
    while done < batches:  # epochs repeat when the job takes more steps than one epoch holds (same totals per epoch)
        before = done
        for batch in dm.train_dataloader():
            for side in ("query", "passage"):
                lengths += batch[side]["attention_mask"].sum(dim=1).tolist()
            pairs += int(batch["query"]["input_ids"].shape[0])
            done += 1
            if done == batches:
                break
        if done == before:
            raise ValueError("the training data yields no batches")
    return lengths, pairs


def evaluation_lengths(cfg, model) -> dict[str, list[int]]:
    """Per benchmark, the token lengths of every text its evaluation encodes once (queries, candidates)."""
    from hybrid_retrieval.eval.pipeline import Candidates
    from hybrid_retrieval.job.evaluate import load_benchmarks

    encoder = model.text_encoder()
    out = {}
    for name, bench in load_benchmarks(cfg).items():
        texts = {"query": [t for qs in bench.plan.query_sets.values() for t in qs.queries.values()], "passage": []}
        for key, corpus in bench.plan.corpora.items():
            if not isinstance(corpus, Candidates):
                raise ValueError(f"{name}/{key}: a streamed corpus; only in-memory pools are counted")
            texts["passage"] += corpus.texts
        out[name] = [len(ids) for kind, items in texts.items() for ids in encoder.token_ids(items, kind)]
    return out


def job_costs(cfg, model) -> tuple[dict[str, PhaseCost], int]:
    """Per phase (``train``, ``eval_<benchmark>``) of the job ``cfg`` describes, with ``model`` its built model:
    texts, real tokens and FLOPs (training with backward); and the number of training pairs."""
    shape = encoder_shape(model.encoder)
    train, pairs = training_lengths(cfg, model)
    phases = {"train": PhaseCost(len(train), sum(train), sequence_flops(train, backward=True, **shape))}
    for name, lengths in evaluation_lengths(cfg, model).items():
        phases[f"eval_{name}"] = PhaseCost(len(lengths), sum(lengths), sequence_flops(lengths, backward=False, **shape))
    return phases, pairs
