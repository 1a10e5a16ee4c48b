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

import torch

from hybrid_retrieval.data.download import require_file, resolve_root
from hybrid_retrieval.data.formats.lareqa import read_lareqa


def xquad_pairs(lang: str = "en", root: str | None = None) -> list[tuple[str, str]]:
    """(question, answer sentence) pairs of one XQuAD-R language."""
    data = read_lareqa(require_file(resolve_root(root), f"xquad-r/{lang}.json"), lang)
    return [(q.text, data.sentences[q.sentence]) for q in data.questions]


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def bf16_matmul_peak_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Measured bf16 matrix-product rate: the ceiling that MFU is relative to."""
    a, b = torch.randn(n, n, dtype=torch.bfloat16), torch.randn(n, n, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


def run_isolated(script: str, mode: str, args: list[str]) -> dict:
    """Run one contender in its own process so its peak memory and warm caches are its own."""
    proc = subprocess.run([sys.executable, script, "--mode", mode, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def emit(result: dict) -> None:
    print(json.dumps(result))


ROOT = Path(__file__).resolve().parents[1]
