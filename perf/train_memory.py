"""Where a training step's memory goes: model, gradients, optimizer state, one batch's activations, tokens.

The default job's batches (MLQA-R, 32 pairs, queries up to 64 tokens, passages up
to 128, bundled multilingual-e5-small, the job's AdamW) run a few optimizer
steps; the step with the most tokens is then accounted for:

- parameters, gradients and AdamW state: the bytes of those tensors;
- activations: every tensor autograd saves for the backward pass during the
  forward (``torch.autograd.graph.saved_tensors_hooks``, each storage once);
- cached tokens: the token ids of the whole training corpus (data/token_cache.py);
- the step's resident peak (``VmHWM`` reset before the step) against the
  resident set before it, whose difference the step's own allocations explain.

    python perf/train_memory.py [--batch-size 32] [--steps 6] [--precision auto] [--dropout P] [--fast-dropout]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # perf/_common.py
from _common import bundled_model  # noqa: E402

from hybrid_retrieval.bench.hardware import cpu_line  # noqa: E402
from hybrid_retrieval.precision import resolve_precision  # noqa: E402

GIB = 2**30


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


class SavedActivations:
    """Bytes of the tensors autograd keeps for backward, each storage counted once."""

    def __init__(self) -> None:
        self.storages: dict[int, int] = {}

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        self.storages[storage.data_ptr()] = storage.nbytes()
        return t

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)

    @property
    def nbytes(self) -> int:
        return sum(self.storages.values())


def grad_bytes(params) -> int:
    total = 0
    for p in params:
        g = p.grad
        if g is None:
            continue
        total += tensor_bytes([g.coalesce().values(), g.coalesce().indices()]) if g.is_sparse else tensor_bytes([g])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps; the one with the most tokens is kept")
    parser.add_argument("--precision", default="auto", help="auto (the project default), bf16-mixed or 32-true")
    parser.add_argument("--dropout", type=float, default=None, help="model.dropout (opt-in lever)")
    parser.add_argument("--fast-dropout", action="store_true", help="model.speed.fast_dropout=true (opt-in lever)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from hybrid_retrieval.data.batch_kinds import hybrid_recipe
    from hybrid_retrieval.data.corpus import ParallelCorpus
    from hybrid_retrieval.data.datamodule import HybridDataModule
    from hybrid_retrieval.job.memory import peak_rss_gib, release_free_heap, reset_peak

    rss_runtime = _rss_gib()  # interpreter, torch, transformers: before the model exists
    precision = resolve_precision(args.precision, "cpu")
    model = bundled_model(
        dropout=args.dropout, speed={"fast_dropout": args.fast_dropout}, max_query_length=64, max_passage_length=128
    )
    model.encoder.get_input_embeddings().sparse = True  # as DualEncoder.setup does on one process
    corpus = ParallelCorpus.from_lareqa("mlqa-r", ["ar", "de", "en", "es", "hi", "vi", "zh"])
    collator = model.make_collator()
    dm = HybridDataModule(corpus, hybrid_recipe(0.5), batch_size=args.batch_size, seed=0, collate_fn=collator)
    dm.setup("fit")
    loader = dm.train_dataloader()
    optimizer = model.make_optimizer()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision.startswith("bf16"))
    tokens_cached = sum(cache.nbytes for cache in collator.caches.values())

    def step(batch, saved: SavedActivations | None = None):
        optimizer.zero_grad(set_to_none=True)
        with autocast, (saved or SavedActivations()).hooks():
            loss = model.contrastive_loss(
                model.embed(**batch["query"]), model.embed(**batch["passage"]), batch.get("passage_keys")
            )
        loss.backward()
        optimizer.step()

    batches = []
    for i, batch in enumerate(loader):
        if i >= args.steps:
            break
        batches.append(batch)
        step(batch)  # warm-up: optimizer state exists, allocator pools are filled
    largest = max(batches, key=lambda b: b["query"]["input_ids"].numel() + b["passage"]["input_ids"].numel())
    release_free_heap()  # so that "resident before" counts live memory, not pages glibc keeps for reuse
    rss_before = _rss_gib()
    reset_peak()
    saved = SavedActivations()
    step(largest, saved)
    peak = peak_rss_gib()

    params = list(model.parameters())
    opt_state = sum(tensor_bytes(s.values()) for s in optimizer.state.values())
    parts = {
        "parameters": tensor_bytes(params),
        "gradients (embedding rows sparse)": grad_bytes(params),
        "AdamW state": opt_state,
        "activations saved for backward": saved.nbytes,
    }
    parts["cached tokens"] = tokens_cached
    q, p = largest["query"]["input_ids"].shape, largest["passage"]["input_ids"].shape
    print(cpu_line())
    print(
        f"setup: bundled multilingual-e5-small, MLQA-R default batches of {args.batch_size} pairs, precision "
        f"{args.precision} -> {precision}, dropout {'backbone default' if args.dropout is None else args.dropout}"
        f"{' (fast_dropout)' if args.fast_dropout else ''}; "
        f"largest of {len(batches)} batches: queries {tuple(q)}, passages {tuple(p)}"
    )
    for name, nbytes in parts.items():
        print(f"  {name:<36} {nbytes / GIB:7.3f} GiB")
    held = sum(parts.values())
    print(f"  {'sum':<36} {held / GIB:7.3f} GiB")
    print(f"  {'runtime (Python, torch, transformers)':<36} {rss_runtime:7.3f} GiB  resident before the model")
    print(f"  {'sum + runtime':<36} {held / GIB + rss_runtime:7.3f} GiB")
    print(
        f"resident before the step {rss_before:.2f} GiB (free heap released: runtime, model, optimizer state, "
        f"tokens, data); step peak {peak:.2f} GiB"
    )
    print(
        f"peak - resident before = {peak - rss_before:.2f} GiB; activations + gradients = "
        f"{(saved.nbytes + grad_bytes(params)) / GIB:.2f} GiB"
    )
    print(f"peak_rss_gib={peak:.3f} activations_gib={saved.nbytes / GIB:.3f}")


def _rss_gib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / GIB


if __name__ == "__main__":
    main()
