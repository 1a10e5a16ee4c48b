"""Evaluation throughput: our encoder against SentenceTransformer.encode, and where evaluation time goes.

Same model (bundled multilingual-e5-small), same texts (XQuAD-R questions and
candidate sentences with their prefixes), same max length.  The peer runs twice
in one run: its default (fp32 model, batch 32) and its fastest documented
configuration here (a bf16 model where the CPU or GPU computes bf16 natively,
else fp32; at its batch 32, ours and 128), and our ratio is quoted against the faster of the
two first.  Then a full LAReQA evaluation on XQuAD-R, split into encode / index /
search / metrics / rank distance (``--no-full-eval`` skips it).

    python perf/eval_throughput.py [--languages en de th zh] [--eval-languages en de el ru th zh]
        [--precision auto] [--device cpu|cuda] [--limit N] [--peer-bf16 auto|always|never]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import bundled_model  # noqa: E402
from _common import xquad_texts as texts

from hybrid_retrieval.bench.flops import count_tokens, non_embedding_params  # noqa: E402
from hybrid_retrieval.bench.hardware import cpu_line, gpu_line, machine_line, mfu_line, sync  # noqa: E402
from hybrid_retrieval.bench.peers import encoding_configs  # noqa: E402
from hybrid_retrieval.bench.rounds import emit, fastest, run_against_peer, run_isolated, spread  # noqa: E402
from hybrid_retrieval.job.memory import peak_rss_gib  # noqa: E402
from hybrid_retrieval.precision import resolve_precision  # noqa: E402


def load_model(args):

    model = bundled_model(max_query_length=args.max_length, max_passage_length=args.max_length)
    return model.to(args.device)


def run_ours(args) -> dict:
    queries, passages = texts(args.languages, args.limit)
    model = load_model(args)
    encoder = model.text_encoder(batch_size=args.batch_size, precision=resolve_precision(args.precision, args.device))
    encoder.show_progress = False
    tokens = count_tokens(model.encoder)
    t0 = time.perf_counter()
    encoder.encode(queries, "query")
    encoder.encode(passages, "passage")
    sync(args.device)
    seconds = time.perf_counter() - t0
    flops = 2 * non_embedding_params(model.encoder) * tokens["padded"]
    return {
        "texts_per_s": (len(queries) + len(passages)) / seconds,
        "texts": len(queries) + len(passages),
        "gflops": flops / seconds / 1e9,
        "padding": 1 - tokens["real"] / tokens["padded"],
        "peak_rss_gib": peak_rss_gib(),
    }


def run_sentence_transformers(args) -> dict:
    import tempfile

    from sentence_transformers import SentenceTransformer

    queries, passages = texts(args.languages, args.limit)
    model = load_model(args)
    st_dir = model.save_encoder(tempfile.mkdtemp())
    st = SentenceTransformer(str(st_dir), device=args.device)
    if args.st_bf16:
        st.bfloat16()  # the peer's documented fast path: a bf16 model
    st.max_seq_length = args.max_length
    t0 = time.perf_counter()
    st.encode(queries, prompt_name="query", batch_size=args.st_batch_size)
    st.encode(passages, prompt_name="passage", batch_size=args.st_batch_size)
    sync(args.device)
    seconds = time.perf_counter() - t0
    return {"texts_per_s": (len(queries) + len(passages)) / seconds, "peak_rss_gib": peak_rss_gib()}


def run_full_eval(args) -> dict:
    from hybrid_retrieval.eval.benchmarks.lareqa import load_lareqa

    bench = load_lareqa("xquad_r", "xquad-r", args.eval_languages)
    encoder = load_model(args).text_encoder(
        batch_size=args.batch_size, precision=resolve_precision(args.precision, args.device)
    )
    encoder.show_progress = False
    t0 = time.perf_counter()
    metrics, _ = bench.evaluate(encoder, depth=100)
    total = time.perf_counter() - t0
    phases = {k.split("xquad_r_")[1][:-2]: v for k, v in metrics.items() if k.startswith("time/xquad_r_")}
    return {"total_s": total, "phases": phases, "multi_map": metrics["xquad_r/multi/map"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", nargs="+", default=["en", "de", "th", "zh"])
    parser.add_argument("--eval-languages", nargs="+", default=["de", "el", "en", "ru", "th", "zh"])
    parser.add_argument("--batch-size", type=int, default=32, help="ours (the eval.batch_size default)")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--precision", default="auto", help="ours: auto (the project default), bf16-mixed or 32-true")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--limit", type=int, default=None, help="the first N questions and N sentences of each language (quick runs)"
    )
    parser.add_argument("--peer-bf16", choices=["auto", "always", "never"], default="auto")
    parser.add_argument("--no-full-eval", action="store_true")
    parser.add_argument("--st-bf16", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--st-batch-size", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every contender this many times, interleaved, and quote medians (drifting machines)",
    )
    parser.add_argument("--mode", choices=["ours", "st", "eval", "all"], default="all")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.mode != "all":
        return emit({"ours": run_ours, "st": run_sentence_transformers, "eval": run_full_eval}[args.mode](args))
    common = [
        "--languages",
        *args.languages,
        "--eval-languages",
        *args.eval_languages,
        f"--batch-size={args.batch_size}",
        f"--max-length={args.max_length}",
        f"--precision={args.precision}",
        f"--device={args.device}",
    ] + ([f"--limit={args.limit}"] if args.limit else [])
    print(cpu_line())
    print(gpu_line() or f"machine: {machine_line()}")
    configs, note = encoding_configs(args.device, args.peer_bf16, args.batch_size)
    print(f"peer: {note}")
    peer, results = run_against_peer(
        __file__,
        {name: common + extra for name, extra in configs.items()},
        {"default": common},
        args.rounds,
        "texts_per_s",
    )
    ours = results["default"]
    subset = (
        f"first {args.limit} questions + first {args.limit} sentences of each of"
        if args.limit
        else "questions + sentences,"
    )
    print(
        f"texts: {ours['texts']} XQuAD-R {subset} ({' '.join(args.languages)}), max length "
        f"{args.max_length}, device {args.device}"
    )
    for name, r in peer.items():
        print(
            f"SentenceTransformer.encode ({name}): {r['texts_per_s']:.1f} texts/s  peak RSS {r['peak_rss_gib']:.2f} GiB"
            f"{spread(r)}"
        )
    best_name, best = fastest(peer, "texts_per_s")
    print(f"peer at its best here: SentenceTransformer.encode ({best_name}, {best['texts_per_s']:.1f} texts/s)")
    print(
        f"hybrid-retrieval encode (precision {args.precision} -> {resolve_precision(args.precision, args.device)}, "
        f"length-sorted, batch {args.batch_size}): {ours['texts_per_s']:.1f} texts/s  "
        f"peak RSS {ours['peak_rss_gib']:.2f} GiB"
        f"{spread(ours)}"
    )
    print(
        mfu_line(
            resolve_precision(args.precision, args.device),
            args.device,
            ours["gflops"],
            f" (2 x non-embedding parameters x tokens fed, of which {ours['padding']:.1%} padding)",
        )
    )
    if not args.no_full_eval:
        full = run_isolated(__file__, "eval", common)
        phases = full["phases"]
        print(
            f"full XQuAD-R evaluation ({' '.join(args.eval_languages)}): {full['total_s']:.1f} s; "
            + ", ".join(f"{k} {v:.1f} s ({v / full['total_s']:.1%})" for k, v in phases.items())
        )
        rest = sum(v for k, v in phases.items() if k in ("index", "search", "metrics"))
        print(f"index + search + metrics: {rest / full['total_s']:.1%} of evaluation time")
    print(
        f"speedup_vs_sentence_transformers_encode_best={ours['texts_per_s'] / best['texts_per_s']:.2f}  ({best_name})"
    )
    default = peer["default (fp32, batch 32)"]
    print(f"speedup_vs_sentence_transformers_encode_default={ours['texts_per_s'] / default['texts_per_s']:.2f}")
    print(cpu_line())


if __name__ == "__main__":
    main()
