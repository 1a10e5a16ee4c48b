"""GPU checks of gpu_check.sh that the throughput scripts do not cover: FAISS on GPU vs CPU, and GPU vs CPU metrics.

``faiss``: the same embeddings (XQuAD-R questions and sentences, encoded once)
searched exactly (flat, inner product) by faiss-gpu and by faiss-cpu; prints
both times and how many top-k lists agree.  Also a larger synthetic pool
(``--synthetic N`` unit vectors) where search time is worth measuring.

``agree``: one zero-shot XQuAD-R evaluation of the bundled me5-small on the
device (``auto``: bf16 on a GPU) and on the CPU in fp32; every per-setting
mAP / recall@10 must agree within ``--tolerance`` (bf16 noise), else exit 1.

Both run on a CPU too (``--device cpu``), which is how they are smoke-tested
where no GPU is lent: the 'GPU' side then is the CPU at ``--precision``.

    python perf/gpu_check.py faiss [--device cuda] [--limit N] [--synthetic N]
    python perf/gpu_check.py agree [--device cuda] [--languages de en zh] [--articles N] [--tolerance 0.01]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import bundled_model  # noqa: E402
from _common import xquad_texts as _texts

from hybrid_retrieval.bench.hardware import cpu_line, gpu_line  # noqa: E402
from hybrid_retrieval.precision import resolve_precision  # noqa: E402


def _model(device: str, max_length: int = 128):

    model = bundled_model(max_query_length=64, max_passage_length=max_length)
    return model.to(device).eval()


def _search(vectors: np.ndarray, queries: np.ndarray, depth: int, gpu: bool) -> tuple[np.ndarray, np.ndarray, float]:
    from hybrid_retrieval.eval.embedding_store import ArrayStore
    from hybrid_retrieval.eval.search import IndexSpec, search_store

    store = ArrayStore(vectors, np.arange(len(vectors)))
    spec = IndexSpec(gpu=gpu)
    search_store(store, queries[:8], depth, spec)  # warm-up (GPU resources, threads)
    t0 = time.perf_counter()
    scores, ids = search_store(store, queries, depth, spec)
    return scores, ids, time.perf_counter() - t0


def compare_search(vectors: np.ndarray, queries: np.ndarray, depth: int, what: str, gpu: bool) -> bool:
    """One pool searched on both sides; True when the top-1 hits agree except on (near-)ties."""
    s_cpu, i_cpu, t_cpu = _search(vectors, queries, depth, gpu=False)
    s_dev, i_dev, t_dev = _search(vectors, queries, depth, gpu=gpu)
    same_top1 = float(np.mean(i_cpu[:, 0] == i_dev[:, 0]))
    overlap = float(np.mean([len(set(a) & set(b)) / depth for a, b in zip(i_cpu, i_dev)]))
    max_dscore = float(np.max(np.abs(s_cpu - s_dev)))
    side = "faiss-gpu" if gpu else "faiss-cpu (no GPU FAISS: both sides CPU)"
    print(
        f"faiss {what}: {len(queries)} queries x {len(vectors)} vectors, depth {depth}: cpu {t_cpu:.3f} s "
        f"({len(queries) / t_cpu:.0f} q/s), {side} {t_dev:.3f} s ({len(queries) / t_dev:.0f} q/s), "
        f"speed-up {t_cpu / t_dev:.1f}x; same top-1 {same_top1:.4f}, top-{depth} overlap {overlap:.4f}, "
        f"max |score diff| {max_dscore:.2e}"
    )
    ties = np.abs(s_cpu[:, 0] - s_cpu[:, min(1, depth - 1)]) < 1e-5
    return bool(np.all((i_cpu[:, 0] == i_dev[:, 0]) | ties)) and max_dscore < 1e-3


def torch_search(vectors: np.ndarray, queries: np.ndarray, depth: int, device: str, what: str) -> None:
    """Exact search as one matrix product + top-k in torch on ``device``: a stand-in where faiss-gpu is absent."""
    import torch

    v, q = torch.from_numpy(vectors).to(device), torch.from_numpy(queries).to(device)
    (q[:8] @ v.T).topk(depth, dim=1)
    t0 = time.perf_counter()
    for lo in range(0, len(q), 1024):
        (q[lo : lo + 1024] @ v.T).topk(depth, dim=1)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    print(f"torch matmul+topk on {device} ({what}): {seconds:.3f} s ({len(q) / seconds:.0f} q/s)")


def check_faiss(args) -> int:
    import faiss

    gpu = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    print(
        f"faiss {faiss.__version__}: "
        f"{'GPU build, ' + str(faiss.get_num_gpus()) + ' GPU(s)' if gpu else 'no GPU support'}"
    )
    if args.device == "cuda" and not gpu:
        print("faiss-gpu is not installed or sees no GPU: GPU search NOT measured (pip install faiss-gpu-cu12)")
    queries, passages = _texts(args.languages, args.limit)
    precision = resolve_precision(args.precision, args.device)
    encoder = _model(args.device).text_encoder(batch_size=128, precision=precision)
    encoder.show_progress = False
    q = encoder.encode(queries, "query")
    p = encoder.encode(passages, "passage")
    ok = compare_search(p, q, min(args.depth, len(p)), "XQuAD-R embeddings", gpu)
    if args.synthetic:
        rng = np.random.default_rng(0)
        pool = rng.standard_normal((args.synthetic, p.shape[1]), dtype=np.float32)
        pool /= np.linalg.norm(pool, axis=1, keepdims=True)
        ok &= compare_search(
            pool,
            q[: args.synthetic_queries],
            min(args.depth, len(pool)),
            f"synthetic pool (unit vectors, dim {p.shape[1]})",
            gpu,
        )
    if args.device == "cuda" and not gpu:
        torch_search(p, q, min(args.depth, len(p)), "cuda", "XQuAD-R embeddings")
        if args.synthetic:
            torch_search(pool, q[: args.synthetic_queries], min(args.depth, len(pool)), "cuda", "synthetic pool")
        print("faiss_gpu_vs_cpu=NOT MEASURED (faiss-gpu missing)")
        return 2
    print(f"faiss_gpu_vs_cpu={'agree' if ok else 'DISAGREE'}")
    return 0 if ok else 1


def _subset_root(languages: list[str], articles: int) -> str:
    """A data root whose XQuAD-R files hold only the first ``articles`` articles (parallel across languages)."""
    import json
    import tempfile

    from hybrid_retrieval.data.download import require_file, resolve_root

    root = Path(tempfile.mkdtemp()) / "data"
    (root / "xquad-r").mkdir(parents=True)
    for lang in languages:
        data = json.loads(require_file(resolve_root(), f"xquad-r/{lang}.json").read_text(encoding="utf-8"))
        data["data"] = data["data"][:articles]
        (root / "xquad-r" / f"{lang}.json").write_text(json.dumps(data), encoding="utf-8")
    return str(root)


def _evaluate(device: str, precision: str, languages: list[str], articles: int | None) -> tuple[dict, float]:
    from hybrid_retrieval.eval.benchmarks.lareqa import load_lareqa

    root = _subset_root(languages, articles) if articles else None
    bench = load_lareqa("xquad_r", "xquad-r", languages, root=root)
    encoder = _model(device).text_encoder(batch_size=128, precision=precision)
    encoder.show_progress = False
    t0 = time.perf_counter()
    metrics, _ = bench.evaluate(encoder, depth=100)
    return metrics, time.perf_counter() - t0


def check_agree(args) -> int:
    precision = resolve_precision(args.precision, args.device)
    dev, t_dev = _evaluate(args.device, precision, args.languages, args.articles)
    ref, t_ref = _evaluate("cpu", "32-true", args.languages, args.articles)
    print(
        f"zero-shot XQuAD-R ({' '.join(args.languages)}): {args.device} {precision} {t_dev:.1f} s, "
        f"cpu 32-true {t_ref:.1f} s"
    )
    worst = 0.0
    for setting in ("mono", "cross", "multi"):
        for metric in ("map", "recall@10"):
            key = f"xquad_r/{setting}/{metric}"
            if key not in ref:
                continue
            diff = dev[key] - ref[key]
            worst = max(worst, abs(diff))
            print(f"  {key}: {args.device} {dev[key]:.4f}  cpu fp32 {ref[key]:.4f}  diff {diff:+.4f}")
    ok = worst <= args.tolerance
    print(
        f"gpu_vs_cpu_metrics={'agree' if ok else 'DISAGREE'} (largest |diff| {worst:.4f}, tolerance {args.tolerance})"
    )
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=["faiss", "agree"])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--languages", nargs="+", default=["de", "en", "zh"])
    parser.add_argument("--limit", type=int, default=None, help="at most N questions and N sentences")
    parser.add_argument("--articles", type=int, default=None, help="agree: only the first N XQuAD-R articles (of 48)")
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--synthetic", type=int, default=0, help="also search a synthetic pool of N vectors")
    parser.add_argument("--synthetic-queries", type=int, default=1000)
    parser.add_argument("--tolerance", type=float, default=0.01, help="largest |metric diff| counted as bf16 noise")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print(cpu_line())
    print(gpu_line() or "gpu: none visible to torch")
    return {"faiss": check_faiss, "agree": check_agree}[args.check](args)


if __name__ == "__main__":
    sys.exit(main())
