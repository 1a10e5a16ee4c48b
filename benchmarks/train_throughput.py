"""Training throughput: our Lightning training step against sentence-transformers' trainer.

Same backbone (bundled multilingual-e5-small), same XQuAD-R English question /
answer-sentence pairs, same batch size and max length, in-batch negatives.
Each contender runs in its own process; pairs/s is timed over the steps after
warm-up.  MFU = achieved FLOP/s (6 x non-embedding parameters x tokens
processed, padding included) / a bf16 matrix-product rate measured here.

    python benchmarks/train_throughput.py [--steps 12] [--warmup 3] [--batch-size 32] [--max-length 64]
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import bf16_matmul_peak_gflops, emit, machine, peak_rss_gib, run_isolated, xquad_pairs  # noqa: E402


def non_embedding_params(model) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n and "pooler" not in n)


def run_ours(args) -> dict:
    import pytorch_lightning as pl

    from hybrid_retrieval.data.corpus import Example, ParallelCorpus, Passage
    from hybrid_retrieval.data.datamodule import HybridDataModule
    from hybrid_retrieval.model.dual_encoder import DualEncoder
    from hybrid_retrieval.model.me5_bundled import ensure_me5_small

    pairs = xquad_pairs("en")
    corpus = ParallelCorpus({(str(i), "en"): Example(q, Passage(str(i), p)) for i, (q, p) in enumerate(pairs)}, ["en"])
    model = DualEncoder(str(ensure_me5_small()), max_query_length=args.max_length, max_passage_length=args.max_length,
                        lr=3e-5, compile=args.compile)
    dm = HybridDataModule(corpus, batch_size=args.batch_size, cross_ratio=0.0, seed=0, collate_fn=model.make_collator())
    stamps, tokens = [], []

    class Clock(pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            stamps.append(time.perf_counter())
            tokens.append(int(batch["query"]["input_ids"].numel() + batch["passage"]["input_ids"].numel()))

    trainer = pl.Trainer(max_steps=args.warmup + args.steps, precision=args.precision, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         use_distributed_sampler=False, callbacks=[Clock()])
    trainer.fit(model, datamodule=dm)
    timed = stamps[args.warmup - 1:]
    seconds = timed[-1] - timed[0]
    steps = len(timed) - 1
    flops = 6 * non_embedding_params(model.encoder) * sum(tokens[args.warmup:])
    return {"pairs_per_s": steps * args.batch_size / seconds, "s_per_step": seconds / steps,
            "gflops": flops / seconds / 1e9, "peak_rss_gib": peak_rss_gib()}


def run_sentence_transformers(args) -> dict:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    from hybrid_retrieval.model.me5_bundled import ensure_me5_small
    from hybrid_retrieval.model.export import save_encoder
    from transformers import AutoModel, AutoTokenizer

    import tempfile

    src = str(ensure_me5_small())
    st_dir = tempfile.mkdtemp()
    save_encoder(AutoModel.from_pretrained(src), AutoTokenizer.from_pretrained(src), st_dir, "mean", "query: ",
                 "passage: ", args.max_length)
    model = SentenceTransformer(st_dir, device="cpu")
    model.max_seq_length = args.max_length
    pairs = xquad_pairs("en")
    data = Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [p for _, p in pairs]})
    stamps = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a, **k):
            stamps.append(time.perf_counter())

    targs = SentenceTransformerTrainingArguments(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.batch_size, learning_rate=3e-5,
        max_steps=args.warmup + args.steps, report_to="none", save_strategy="no", logging_strategy="no",
        use_cpu=True, prompts={"anchor": "query: ", "positive": "passage: "}, dataloader_drop_last=True, seed=0)
    trainer = SentenceTransformerTrainer(model=model, args=targs, train_dataset=data,
                                         loss=MultipleNegativesRankingLoss(model), callbacks=[Clock()])
    trainer.train()
    timed = stamps[args.warmup - 1:]
    seconds = timed[-1] - timed[0]
    steps = len(timed) - 1
    return {"pairs_per_s": steps * args.batch_size / seconds, "s_per_step": seconds / steps,
            "peak_rss_gib": peak_rss_gib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--precision", default="bf16-mixed")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--mode", choices=["ours", "st", "all"], default="all")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.mode == "ours":
        return emit(run_ours(args))
    if args.mode == "st":
        return emit(run_sentence_transformers(args))
    passthrough = [f"--steps={args.steps}", f"--warmup={args.warmup}", f"--batch-size={args.batch_size}",
                   f"--max-length={args.max_length}", f"--precision={args.precision}"] + (["--compile"] if args.compile else [])
    print(f"machine: {machine()}")
    print(f"setup: multilingual-e5-small (bundled), XQuAD-R en pairs, batch {args.batch_size}, max length "
          f"{args.max_length}, {args.steps} timed steps after {args.warmup} warm-up")
    peak = bf16_matmul_peak_gflops()
    st = run_isolated(__file__, "st", passthrough)
    ours = run_isolated(__file__, "ours", passthrough)
    print(f"sentence-transformers (fp32, MNRL): {st['pairs_per_s']:.2f} pairs/s  {st['s_per_step']:.2f} s/step  "
          f"peak RSS {st['peak_rss_gib']:.2f} GiB")
    print(f"hybrid-retrieval ({args.precision}): {ours['pairs_per_s']:.2f} pairs/s  {ours['s_per_step']:.2f} s/step  "
          f"peak RSS {ours['peak_rss_gib']:.2f} GiB")
    print(f"bf16 matmul peak {peak:.0f} GFLOP/s; ours achieved {ours['gflops']:.0f} GFLOP/s: MFU {ours['gflops'] / peak:.1%}")
    print(f"speedup_vs_sentence_transformers={ours['pairs_per_s'] / st['pairs_per_s']:.2f}")


if __name__ == "__main__":
    main()
