"""What this machine is and computes: CPU model and bf16 features, the measured matrix-product peak.
Every printed benchmark figure names its machine, since figures differ by 50x between CPUs with and
without native bf16 (:mod:`hybrid_retrieval.precision`)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import torch

from hybrid_retrieval.precision import native_bf16

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
    native = native_bf16("cpu")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"cpu: {info['model']}, {os.cpu_count()} cores; bf16 features: "
        f"AMX {'yes' if 'amx_bf16' in info['flags'] else 'no'}, "
        f"AVX-512 BF16 {'yes' if 'avx512_bf16' in info['flags'] else 'no'} (flags: {' '.join(have) or 'none'}); "
        f"native bf16 on this CPU: {'yes' if native else 'no'}; load average {load:.1f}"
    )


def gpu_line() -> str | None:
    """The GPU and its bf16 support; None without one."""
    if not torch.cuda.is_available():
        return None
    return f"gpu: {torch.cuda.get_device_name(0)}, bf16 supported: {torch.cuda.is_bf16_supported()}"


def machine_line() -> str:
    """Processor, cores, torch version and the intra-op threads this process runs with."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def sync(device: str) -> None:
    """Wait for queued GPU work, so a clock read after it times the work (a no-op on CPU)."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def matmul_peak_gflops(
    dtype: torch.dtype = torch.bfloat16, device: str = "cpu", n: int = 2048, repeats: int = 10
) -> float:
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
    return (
        f"{'bf16' if bf16 else 'fp32'} matmul peak {peak:.0f} GFLOP/s (measured now); ours achieved "
        f"{gflops:.0f} GFLOP/s{how}: MFU {gflops / peak:.1%}"
    )
