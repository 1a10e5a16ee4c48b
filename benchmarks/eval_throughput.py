"""Evaluation throughput: our encoder against SentenceTransformer.encode, and where evaluation time goes.

Same model (bundled multilingual-e5-small), same texts (XQuAD-R questions and
candidate sentences with their prefixes), same max length.  Then a full LAReQA
evaluation on XQuAD-R, split into encode / index / search / metrics / rank distance.

    python benchmarks/eval_throughput.py [--languages en de th zh] [--eval-languages en de el ru th zh]
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, machine, peak_rss_gib, run_isolated  # noqa: E402


def texts(languages: list[str]) -> tuple[list[str], list[str]]:
    from hybrid_retrieval.data.download import require_file, resolve_root
    from hybrid_retrieval.data.formats.lareqa import read_lareqa

    queries, passages = [], []
    for lang in languages:
        data = read_lareqa(require_file(resolve_root(), f"xquad-r/{lang}.json"), lang)
        queries += [q.text for q in data.questions]
        passages += data.sentences
    return queries, passages


def load_model(args):
    from hybrid_retrieval.model.dual_encoder import DualEncoder
    from hybrid_retrieval.model.me5_bundled import ensure_me5_small

    return DualEncoder(str(ensure_me5_small()), max_query_length=args.max_length, max_passage_length=args.max_length)


def run_ours(args) -> dict:
    queries, passages = texts(args.languages)
    encoder = load_model(args).text_encoder(batch_size=args.batch_size, precision=args.precision)
    encoder.show_progress = False
    t0 = time.perf_counter()
    encoder.encode(queries, "query")
    encoder.encode(passages, "passage")
    seconds = time.perf_counter() - t0
    return {"texts_per_s": (len(queries) + len(passages)) / seconds, "texts": len(queries) + len(passages),
            "peak_rss_gib": peak_rss_gib()}


def run_sentence_transformers(args) -> dict:
    import tempfile

    from sentence_transformers import SentenceTransformer

    queries, passages = texts(args.languages)
    model = load_model(args)
    st_dir = model.save_encoder(tempfile.mkdtemp())
    st = SentenceTransformer(str(st_dir), device="cpu")
    st.max_seq_length = args.max_length
    t0 = time.perf_counter()
    st.encode(queries, prompt_name="query", batch_size=32)
    st.encode(passages, prompt_name="passage", batch_size=32)
    seconds = time.perf_counter() - t0
    return {"texts_per_s": (len(queries) + len(passages)) / seconds, "peak_rss_gib": peak_rss_gib()}


def run_full_eval(args) -> dict:
    from hybrid_retrieval.eval.benchmarks.lareqa import load_lareqa

    bench = load_lareqa("xquad_r", "xquad-r", args.eval_languages)
    encoder = load_model(args).text_encoder(batch_size=args.batch_size, precision=args.precision)
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
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--precision", default="bf16-mixed")
    parser.add_argument("--mode", choices=["ours", "st", "eval", "all"], default="all")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.mode != "all":
        return emit({"ours": run_ours, "st": run_sentence_transformers, "eval": run_full_eval}[args.mode](args))
    passthrough = ["--languages", *args.languages, "--eval-languages", *args.eval_languages,
                   f"--batch-size={args.batch_size}", f"--max-length={args.max_length}", f"--precision={args.precision}"]
    print(f"machine: {machine()}")
    st = run_isolated(__file__, "st", passthrough)
    ours = run_isolated(__file__, "ours", passthrough)
    print(f"texts: {ours['texts']} XQuAD-R questions + sentences ({' '.join(args.languages)}), max length {args.max_length}")
    print(f"SentenceTransformer.encode (fp32, batch 32): {st['texts_per_s']:.1f} texts/s  peak RSS {st['peak_rss_gib']:.2f} GiB")
    print(f"hybrid-retrieval encode ({args.precision}, length-sorted, batch {args.batch_size}): "
          f"{ours['texts_per_s']:.1f} texts/s  peak RSS {ours['peak_rss_gib']:.2f} GiB")
    full = run_isolated(__file__, "eval", passthrough)
    phases = full["phases"]
    print(f"full XQuAD-R evaluation ({' '.join(args.eval_languages)}): {full['total_s']:.1f} s; " +
          ", ".join(f"{k} {v:.1f} s ({v / full['total_s']:.1%})" for k, v in phases.items()))
    rest = sum(v for k, v in phases.items() if k in ("index", "search", "metrics"))
    print(f"index + search + metrics: {rest / full['total_s']:.1%} of evaluation time")
    print(f"speedup_vs_sentence_transformers_encode={ours['texts_per_s'] / st['texts_per_s']:.2f}")


if __name__ == "__main__":
    main()
