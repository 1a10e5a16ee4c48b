"""Shared pieces of the benchmark scripts: data, peak measurement, subprocess isolation."""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from hybrid_retrieval.data.download import require_file, resolve_root
from hybrid_retrieval.data.formats.lareqa import read_lareqa


def xquad_pairs(lang: str = "en", root: str | None = None) -> list[tuple[str, str]]:
    """(question, answer sentence) pairs of one XQuAD-R language."""
    data = read_lareqa(require_file(resolve_root(root), f"xquad-r/{lang}.json"), lang)
    return [(q.text, data.sentences[q.sentence]) for q in data.questions]


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def matmul_peak_gflops(dtype: torch.dtype = torch.bfloat16, device: str = "cpu", n: int = 2048,
                       repeats: int = 10) -> float:
    """Measured matrix-product rate at one dtype: the ceiling that MFU is relative to."""
    a, b = (torch.randn(n, n, dtype=dtype, device=device) for _ in range(2))
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def mfu_line(precision: str, device: str, gflops: float, how: str = "", n: int = 2048) -> str:
    """Measure the matmul peak at the precision ours ran in, now, and say what share of it ours achieved."""
    bf16 = precision.startswith("bf16")
    peak = matmul_peak_gflops(torch.bfloat16 if bf16 else torch.float32, device, n=n)
    return (f"{'bf16' if bf16 else 'fp32'} matmul peak {peak:.0f} GFLOP/s (measured now); ours achieved "
            f"{gflops:.0f} GFLOP/s{how}: MFU {gflops / peak:.1%}")


def non_embedding_params(model) -> int:
    """The parameters a token's matrix products touch: 2 FLOPs each forward (6 with backward), the MFU convention."""
    return sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n and "pooler" not in n)


def count_tokens(backbone: torch.nn.Module) -> dict[str, int]:
    """Live counts of the tokens each forward of ``backbone`` computes on ("padded") and of those that
    are text ("real"): MFU counts what the hardware computed, padding included."""
    tokens = {"padded": 0, "real": 0}

    def count(_module, _args, kwargs):
        tokens["padded"] += int(kwargs["input_ids"].numel())
        tokens["real"] += int(kwargs["attention_mask"].sum())

    backbone.register_forward_pre_hook(count, with_kwargs=True)
    return tokens


def sync(device: str) -> None:
    """Wait for queued GPU work, so a clock read after it times the work (a no-op on CPU)."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of native bf16 matrix products (oneDNN)


def cpu_info() -> dict:
    """CPU model and the flags that decide bf16 speed, from /proc/cpuinfo (Linux)."""
    model, flags = None, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model is None:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {"model": model or platform.processor() or platform.machine(), "flags": flags}


def cpu_line() -> str:
    """One line for every printed figure: CPU model, its bf16 features, and what PyTorch makes of them."""
    info = cpu_info()
    have = [f for f in (*BF16_FLAGS, "avx512f", "avx2") if f in info["flags"]]
    native = native_bf16_on("cpu")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"cpu: {info['model']}, {os.cpu_count()} cores; bf16 features: "
            f"AMX {'yes' if 'amx_bf16' in info['flags'] else 'no'}, "
            f"AVX-512 BF16 {'yes' if 'avx512_bf16' in info['flags'] else 'no'} (flags: {' '.join(have) or 'none'}); "
            f"native bf16 on this CPU: {'yes' if native else 'no'}; load average {load:.1f}")


def native_bf16_on(device: str) -> bool:
    """Native bf16 on the device a benchmark runs on (a CPU run on a GPU machine asks the CPU)."""
    if device == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_on(device: str, precision: str) -> str:
    """``precision: auto`` as hybrid_retrieval/precision.py resolves it, for the device of this run."""
    from hybrid_retrieval.precision import AUTO

    if str(precision) != AUTO:
        return str(precision)
    return "bf16-mixed" if native_bf16_on(device) else "32-true"


def gpu_line() -> str | None:
    if not torch.cuda.is_available():
        return None
    return f"gpu: {torch.cuda.get_device_name(0)}, bf16 supported: {torch.cuda.is_bf16_supported()}"


def fastest(results: dict[str, dict], key: str) -> tuple[str, dict]:
    """The peer configuration that measured fastest in this run (by ``key``)."""
    name = max(results, key=lambda n: results[n][key])
    return name, results[name]


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


def start_isolated(script: str, mode: str, args: list[str], threads: int | None = None) -> subprocess.Popen:
    """Start one contender in its own process (its peak memory and warm caches its own), optionally with
    ``threads`` intra-op threads (OMP_NUM_THREADS, read by torch at start)."""
    env = None if threads is None else {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return subprocess.Popen([sys.executable, script, "--mode", mode, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def result_of(proc: subprocess.Popen, what: str) -> dict:
    """The JSON line a contender started by :func:`start_isolated` printed last."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{err[-4000:]}")
    return json.loads(out.strip().splitlines()[-1])


def run_isolated(script: str, mode: str, args: list[str]) -> dict:
    """Run one contender in its own process and wait for its result."""
    return result_of(start_isolated(script, mode, args), mode)


def run_rounds(script: str, contenders: dict[Any, tuple[str, list[str]]], rounds: int, key: str) -> dict[Any, dict]:
    """Each contender ``rounds`` times, interleaved (round r starts r places further on), so a machine whose
    speed drifts over minutes (a shared VM: +-15% seen) slows every contender alike; per contender the
    run with the median ``key`` (the lower middle for an even count), with every measured value in ``values``."""
    names = list(contenders)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            mode, args = contenders[name]
            runs[name].append(run_isolated(script, mode, args))
    out = {}
    for name, results in runs.items():
        ordered = sorted(results, key=lambda res: res[key])
        out[name] = {**ordered[(len(ordered) - 1) // 2], "values": [res[key] for res in results]}
    return out


def run_against_peer(script: str, peer: dict[str, list[str]], ours: dict[str, list[str]], rounds: int,
                     key: str) -> tuple[dict[str, dict], dict[str, dict]]:
    """The peer's configurations (``--mode st``) and ours (``--mode ours``), interleaved by :func:`run_rounds`;
    each side's results by its own names."""
    contenders = {("st", name): ("st", args) for name, args in peer.items()}
    contenders.update({("ours", name): ("ours", args) for name, args in ours.items()})
    results = run_rounds(script, contenders, rounds, key)
    return ({name: results["st", name] for name in peer}, {name: results["ours", name] for name in ours})


def spread(result: dict) -> str:
    """``  (median of N: a, b, c)`` when a contender ran more than once, else nothing."""
    values = result.get("values", [])
    return f"  (median of {len(values)}: {', '.join(f'{v:.1f}' for v in values)})" if len(values) > 1 else ""


def emit(result: dict) -> None:
    print(json.dumps(result))


ROOT = Path(__file__).resolve().parents[1]


def xquad_texts(languages: list[str], limit: int | None = None) -> tuple[list[str], list[str]]:
    """XQuAD-R questions and sentences of ``languages`` (the first ``limit`` of each per language), for timing encoders."""
    from hybrid_retrieval.data.download import require_file, resolve_root
    from hybrid_retrieval.data.formats.lareqa import read_lareqa

    queries, passages = [], []
    for lang in languages:
        data = read_lareqa(require_file(resolve_root(), f"xquad-r/{lang}.json"), lang)
        queries += [q.text for q in data.questions][:limit]
        passages += data.sentences[:limit]
    return queries, passages
