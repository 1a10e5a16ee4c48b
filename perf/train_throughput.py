"""Training throughput: our Lightning training step against sentence-transformers' trainer at its best.

Same backbone (bundled multilingual-e5-small), same XQuAD-R English question /
answer-sentence pairs, same batch size and max length, in-batch negatives.
The peer runs twice in one run: in its default (fp32) and in its fastest
documented configuration on this hardware (``bf16=True`` where the CPU or GPU
computes bf16 natively; on a CPU without it bf16 is emulated and far slower,
so fp32 is the fastest and the bf16 run is skipped unless ``--peer-bf16 always``).
Our ratio is quoted against the faster of the peer's runs first.

Each contender runs in its own process; pairs/s is timed over the steps after
warm-up.  MFU = achieved FLOP/s (6 x non-embedding parameters x tokens the
backbone ran on, padding included: with ``model.speed.unpad`` only each chunk's own) /
the matrix-product rate measured here at the precision our side ran (bf16 or
fp32).  ``--padded`` adds our padded step (``model.speed.unpad=false``) as a contender.

    python perf/train_throughput.py [--steps 12] [--warmup 3] [--batch-size 32] [--max-length 64]
        [--precision auto] [--device cpu|cuda] [--peer-bf16 auto|always|never] [--dropout P]
        [--fast-dropout] [--padded] [--rounds N]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import bundled_model, xquad_pairs  # noqa: E402

from hybrid_retrieval.bench.flops import count_tokens, non_embedding_params  # noqa: E402
from hybrid_retrieval.bench.hardware import cpu_line, gpu_line, machine_line, mfu_line, sync  # noqa: E402
from hybrid_retrieval.bench.peers import training_configs  # noqa: E402
from hybrid_retrieval.bench.rounds import emit, fastest, run_against_peer, spread  # noqa: E402
from hybrid_retrieval.job.memory import peak_rss_gib  # noqa: E402
from hybrid_retrieval.precision import resolve_precision  # noqa: E402


def _timed(stamps: list[float], warmup: int, batch_size: int) -> tuple[float, int]:
    """Seconds and steps after the warm-up: the clock reads at each step's end, so warm-up step `warmup` starts it."""
    timed = stamps[warmup - 1 :]
    return timed[-1] - timed[0], len(timed) - 1


def run_ours(args) -> dict:
    import pytorch_lightning as pl

    from hybrid_retrieval.data.batch_kinds import hybrid_recipe
    from hybrid_retrieval.data.corpus import Example, ParallelCorpus, Passage
    from hybrid_retrieval.data.datamodule import HybridDataModule

    pairs = xquad_pairs("en")
    corpus = ParallelCorpus({(str(i), "en"): Example(q, Passage(str(i), p)) for i, (q, p) in enumerate(pairs)}, ["en"])
    model = bundled_model(
        max_query_length=args.max_length,
        max_passage_length=args.max_length,
        lr=3e-5,
        dropout=args.dropout,
        speed={
            "compile": args.compile,
            "fast_dropout": args.fast_dropout,
            "unpad": not args.no_unpad,
            "unpad_chunk_overhead": args.unpad_chunk_overhead,
        },
    )
    computed = count_tokens(model.encoder)  # what the backbone ran on: unpadded chunks, or the padded batch
    dm = HybridDataModule(
        corpus, hybrid_recipe(0.0), batch_size=args.batch_size, seed=0, collate_fn=model.make_collator()
    )
    stamps, tokens = [], []

    class Clock(pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            sync(args.device)
            stamps.append(time.perf_counter())
            tokens.append((computed["padded"], computed["real"]))  # running totals

    trainer = pl.Trainer(
        max_steps=args.warmup + args.steps,
        precision=resolve_precision(args.precision, args.device),
        accelerator="gpu" if args.device == "cuda" else "cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        callbacks=[Clock()],
    )
    trainer.fit(model, datamodule=dm)
    seconds, steps = _timed(stamps, args.warmup, args.batch_size)
    fed, real = (tokens[-1][i] - tokens[-1 - steps][i] for i in (0, 1))
    flops = 6 * non_embedding_params(model.encoder) * fed
    return {
        "pairs_per_s": steps * args.batch_size / seconds,
        "s_per_step": seconds / steps,
        "gflops": flops / seconds / 1e9,
        "padding": 1 - real / fed,
        "peak_rss_gib": peak_rss_gib(),
    }


def run_sentence_transformers(args) -> dict:
    import tempfile

    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    # the bundled model as a sentence-transformers directory: the same weights, pooling and prefixes as ours
    st_dir = str(
        bundled_model(max_query_length=args.max_length, max_passage_length=args.max_length).save_encoder(
            tempfile.mkdtemp()
        )
    )
    model = SentenceTransformer(st_dir, device=args.device)
    model.max_seq_length = args.max_length
    pairs = xquad_pairs("en")
    data = Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [p for _, p in pairs]})
    stamps = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a, **k):
            sync(args.device)
            stamps.append(time.perf_counter())

    targs = SentenceTransformerTrainingArguments(
        output_dir=tempfile.mkdtemp(),
        per_device_train_batch_size=args.batch_size,
        learning_rate=3e-5,
        max_steps=args.warmup + args.steps,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        use_cpu=args.device == "cpu",
        bf16=args.st_bf16,
        prompts={"anchor": "query: ", "positive": "passage: "},
        dataloader_drop_last=True,
        seed=0,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=targs, train_dataset=data, loss=MultipleNegativesRankingLoss(model), callbacks=[Clock()]
    )
    trainer.train()
    seconds, steps = _timed(stamps, args.warmup, args.batch_size)
    return {
        "pairs_per_s": steps * args.batch_size / seconds,
        "s_per_step": seconds / steps,
        "peak_rss_gib": peak_rss_gib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--precision", default="auto", help="ours: auto (the project default), bf16-mixed or 32-true")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument(
        "--dropout",
        type=float,
        default=None,
        help="also run ours with model.dropout=P (opt-in lever; a different model)",
    )
    parser.add_argument(
        "--fast-dropout",
        action="store_true",
        help="also run ours with model.speed.fast_dropout=true (opt-in lever; another random stream)",
    )
    parser.add_argument(
        "--padded",
        action="store_true",
        help="also run ours with model.speed.unpad=false (the padded step; same model as another seed)",
    )
    parser.add_argument("--no-unpad", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--unpad-chunk-overhead", type=int, default=64, help="ours: model.speed.unpad_chunk_overhead")
    parser.add_argument("--peer-bf16", choices=["auto", "always", "never"], default="auto")
    parser.add_argument("--peak-n", type=int, default=2048, help="matrix size of the peak measurement")
    parser.add_argument("--st-bf16", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every contender this many times, interleaved, and quote medians (drifting machines)",
    )
    parser.add_argument("--mode", choices=["ours", "st", "all"], default="all")
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1: the clock starts at the end of the last warm-up step")
    logging.disable(logging.WARNING)
    if args.mode == "ours":
        return emit(run_ours(args))
    if args.mode == "st":
        return emit(run_sentence_transformers(args))
    common = [
        f"--steps={args.steps}",
        f"--warmup={args.warmup}",
        f"--batch-size={args.batch_size}",
        f"--max-length={args.max_length}",
        f"--precision={args.precision}",
        f"--device={args.device}",
        f"--unpad-chunk-overhead={args.unpad_chunk_overhead}",
    ]
    ours_precision = resolve_precision(args.precision, args.device)
    print(cpu_line())
    print(gpu_line() or f"machine: {machine_line()}")
    print(
        f"setup: multilingual-e5-small (bundled), XQuAD-R en pairs, batch {args.batch_size}, max length "
        f"{args.max_length}, {args.steps} timed steps after {args.warmup} warm-up, device {args.device}"
    )
    configs, note = training_configs(args.device, args.peer_bf16)
    print(f"peer: {note}")
    mine = {"default": common + (["--compile"] if args.compile else [])}
    if args.dropout is not None:
        mine["dropout"] = common + [f"--dropout={args.dropout}"]
    if args.fast_dropout:
        mine["fast_dropout"] = common + ["--fast-dropout"]
    if args.padded:
        mine["padded"] = common + ["--no-unpad"]
    peer, results = run_against_peer(
        __file__, {name: common + extra for name, extra in configs.items()}, mine, args.rounds, "pairs_per_s"
    )
    ours = results["default"]
    for name, r in peer.items():
        print(
            f"sentence-transformers {name}, MNRL: {r['pairs_per_s']:.2f} pairs/s  {r['s_per_step']:.2f} s/step  "
            f"peak RSS {r['peak_rss_gib']:.2f} GiB{spread(r)}"
        )
    best_name, best = fastest(peer, "pairs_per_s")
    print(f"peer at its best here: sentence-transformers {best_name} ({best['pairs_per_s']:.2f} pairs/s)")
    print(
        f"hybrid-retrieval (precision {args.precision} -> {ours_precision}): {ours['pairs_per_s']:.2f} pairs/s  "
        f"{ours['s_per_step']:.2f} s/step  peak RSS {ours['peak_rss_gib']:.2f} GiB{spread(ours)}"
    )
    if args.dropout is not None:
        lever = results["dropout"]
        print(
            f"hybrid-retrieval model.dropout={args.dropout} (opt-in; a different model): {lever['pairs_per_s']:.2f} "
            f"pairs/s  {ours['pairs_per_s'] and lever['pairs_per_s'] / ours['pairs_per_s']:.2f}x the default"
            f"{spread(lever)}"
        )
    if args.fast_dropout:
        fast = results["fast_dropout"]
        print(
            f"hybrid-retrieval model.speed.fast_dropout=true (opt-in; same rates, another random stream): "
            f"{fast['pairs_per_s']:.2f} pairs/s  {fast['s_per_step']:.2f} s/step  peak RSS "
            f"{fast['peak_rss_gib']:.2f} GiB  {fast['pairs_per_s'] / ours['pairs_per_s']:.2f}x the default"
            f"{spread(fast)}"
        )
    if args.padded:
        pad = results["padded"]
        print(
            f"hybrid-retrieval model.speed.unpad=false (the padded step; same model as another seed): "
            f"{pad['pairs_per_s']:.2f} pairs/s  {pad['s_per_step']:.2f} s/step  "
            f"peak RSS {pad['peak_rss_gib']:.2f} GiB  "
            f"{pad['padding']:.1%} padding; the default is {ours['pairs_per_s'] / pad['pairs_per_s']:.2f}x{spread(pad)}"
        )
    print(
        mfu_line(
            ours_precision,
            args.device,
            ours["gflops"],
            f" (6 x non-embedding parameters x tokens fed, of which {ours['padding']:.1%} padding)",
            n=args.peak_n,
        )
    )
    print(f"speedup_vs_sentence_transformers_best={ours['pairs_per_s'] / best['pairs_per_s']:.2f}  ({best_name})")
    if args.fast_dropout:
        print(f"speedup_vs_sentence_transformers_best_fast_dropout={fast['pairs_per_s'] / best['pairs_per_s']:.2f}")
    print(f"speedup_vs_sentence_transformers_default={ours['pairs_per_s'] / peer['default (fp32)']['pairs_per_s']:.2f}")
    print(cpu_line())


if __name__ == "__main__":
    main()
