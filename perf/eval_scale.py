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
import sys
import tempfile
import time

from hybrid_retrieval.eval.synthetic import SyntheticCorpus, synthetic_queries
from hybrid_retrieval.job.memory import peak_rss_gib


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

    from hybrid_retrieval.backbones.tiny import build_tiny_bert
    from hybrid_retrieval.eval.encode import TextEncoder
    from hybrid_retrieval.eval.pipeline import Benchmark, Plan, QuerySet, RetrievalOptions, Task
    from hybrid_retrieval.eval.protocol import Protocol
    from hybrid_retrieval.eval.search import IndexSpec
    from hybrid_retrieval.model.pooling import mean_pool

    path = build_tiny_bert()
    encoder = TextEncoder(
        AutoModel.from_pretrained(path),
        AutoTokenizer.from_pretrained(path),
        mean_pool,
        batch_size=args.batch_size,
        show_progress=False,
    )
    queries, qrels = synthetic_queries(args.passages, args.queries)
    options = RetrievalOptions(
        IndexSpec(kind=args.index),
        embedding_dtype=args.dtype,
        embeddings_dir=args.work_dir or tempfile.gettempdir(),
        encode_chunk=args.encode_chunk,
    )
    stats: dict = {}
    t0 = time.perf_counter()
    plan = Plan(
        {"syn": QuerySet("syn", queries)}, {"syn": SyntheticCorpus(args.passages)}, [Task("mono", "syn", "syn", qrels)]
    )
    protocol = Protocol.from_node(
        "scale", {"settings": ["mono"], "metrics": ["ndcg@10", "recall@100"], "depth": args.depth}, ["mono"]
    )
    metrics, _ = Benchmark("scale", protocol, plan, options).evaluate(encoder, stats=stats)
    total = time.perf_counter() - t0
    s = stats["sets"][0]
    print(
        f"model=tiny index={args.index} dtype={args.dtype} passages={s['passages']} queries={s['queries']} "
        f"depth={args.depth} torch_threads={torch.get_num_threads()}"
    )
    print(f"encode: {s['passages']} passages in {s['encode_s']:.1f} s = {s['passages'] / s['encode_s']:.0f} passages/s")
    print(
        f"search: {s['queries']} queries in {s['search_s']:.2f} s = {s['queries'] / s['search_s']:.1f} queries/s "
        f"(+ {s['index_build_s']:.2f} s index build)"
    )
    print(f"sanity: ndcg@10={metrics['scale/mono/ndcg@10']:.4f} recall@100={metrics['scale/mono/recall@100']:.4f}")
    print(f"total: {total:.1f} s")
    print(f"peak_rss_gib={peak_rss_gib():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
