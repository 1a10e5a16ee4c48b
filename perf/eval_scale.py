"""Scale benchmark: evaluation over a synthetic corpus of N passages, through the evaluation code itself.

Builds N short synthetic passages on the fly (never all in memory), encodes
them with the tiny model (``model=tiny``) into the on-disk embedding store,
indexes and searches them with the chosen index, and scores Q queries whose
single relevant passage is known: the same path as a MIRACL or BEIR
evaluation (:mod:`hybrid_retrieval.eval.pipeline`).
Prints passages/s encoded, queries/s searched and peak resident memory; the
last line reads ``peak_rss_gib=<x>``.

    python perf/eval_scale.py --passages 1000000
    python perf/eval_scale.py --passages 200000 --index hnsw --dtype float16
"""
from __future__ import annotations

import argparse
import logging
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

VOCAB = ("river castle engine garden market winter bridge forest valley harbor island mountain desert village "
         "temple library museum station tower canal meadow orchard quarry glacier volcano lagoon prairie canyon "
         "fortress cathedral lighthouse vineyard").split()


def passage_text(i: int) -> str:
    """Passage i, a deterministic function of i (so queries can quote it without storing the corpus)."""
    v = len(VOCAB)
    w = [VOCAB[(i * p + k * 7919) % v] for k, p in enumerate((31, 17, 13, 7))]
    return f"{VOCAB[(i // 10) % v].title()} {w[0]} {w[1]} {i} {w[2]} {w[3]}"


@dataclass(frozen=True)
class SyntheticCorpus:
    n: int
    description: str = "synthetic"

    def batches(self, size: int) -> Iterator[tuple[list[str], list[str]]]:
        for lo in range(0, self.n, size):
            rows = range(lo, min(lo + size, self.n))
            yield [f"d{i}" for i in rows], [passage_text(i) for i in rows]


def synthetic_queries(n_passages: int, n_queries: int, seed: int = 0) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Each query quotes three words and the number of one passage, which is its only relevant one."""
    targets = np.random.default_rng(seed).choice(n_passages, size=min(n_queries, n_passages), replace=False)
    queries, qrels = {}, {}
    for q, t in enumerate(targets.tolist()):
        words = passage_text(t).split()
        queries[f"q{q}"] = f"{words[1]} {words[3]} {words[4]}"
        qrels[f"q{q}"] = {f"d{t}": 1}
    return queries, qrels


def peak_rss_gib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return kib / (1 << 30) if platform.system() == "Darwin" else kib / (1 << 20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=100_000, help="corpus size N (default: 100000)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--index", choices=("flat", "ivf", "hnsw"), default="flat")
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="embedding store dtype")
    parser.add_argument("--batch-size", type=int, default=256, help="encoder batch size")
    parser.add_argument("--encode-chunk", type=int, default=16384, help="passages read and encoded per step")
    parser.add_argument("--work-dir", default=None, help="where the embedding store is written (default: temp dir)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    import torch
    from transformers import AutoModel, AutoTokenizer

    from hybrid_retrieval.eval.encode import TextEncoder
    from hybrid_retrieval.eval.pipeline import Benchmark, Plan, QuerySet, RetrievalOptions, Task
    from hybrid_retrieval.eval.protocol import Protocol
    from hybrid_retrieval.eval.search import IndexSpec
    from hybrid_retrieval.model.pooling import mean_pool
    from hybrid_retrieval.backbones.tiny import build_tiny_bert

    path = build_tiny_bert()
    encoder = TextEncoder(AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path), mean_pool,
                          batch_size=args.batch_size, show_progress=False)
    queries, qrels = synthetic_queries(args.passages, args.queries)
    options = RetrievalOptions(IndexSpec(kind=args.index), embedding_dtype=args.dtype,
                               embeddings_dir=args.work_dir or tempfile.gettempdir(), encode_chunk=args.encode_chunk)
    stats: dict = {}
    t0 = time.perf_counter()
    plan = Plan({"syn": QuerySet("syn", queries)}, {"syn": SyntheticCorpus(args.passages)},
                [Task("mono", "syn", "syn", qrels)])
    protocol = Protocol.from_node("scale", {"settings": ["mono"], "metrics": ["ndcg@10", "recall@100"],
                                            "depth": args.depth}, ["mono"])
    metrics, _ = Benchmark("scale", protocol, plan, options).evaluate(encoder, stats=stats)
    total = time.perf_counter() - t0
    s = stats["sets"][0]
    print(f"model=tiny index={args.index} dtype={args.dtype} passages={s['passages']} queries={s['queries']} "
          f"depth={args.depth} torch_threads={torch.get_num_threads()}")
    print(f"encode: {s['passages']} passages in {s['encode_s']:.1f} s = {s['passages'] / s['encode_s']:.0f} passages/s")
    print(f"search: {s['queries']} queries in {s['search_s']:.2f} s = {s['queries'] / s['search_s']:.1f} queries/s "
          f"(+ {s['index_build_s']:.2f} s index build)")
    print(f"sanity: ndcg@10={metrics['scale/mono/ndcg@10']:.4f} recall@100={metrics['scale/mono/recall@100']:.4f}")
    print(f"total: {total:.1f} s")
    print(f"peak_rss_gib={peak_rss_gib():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
