"""mem/peak_rss_gib: every job records its process's peak resident memory, and the figure is a real high-water mark."""
from __future__ import annotations

import json
import os

from conftest import compose_config, smoke_overrides
from hybrid_retrieval.job.memory import peak_rss_gib
from hybrid_retrieval.job.run_job import run_job


def current_rss_gib() -> float:
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 2**20


def total_memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def test_peak_covers_a_live_allocation():
    block = bytearray(256 * 2**20)  # zero-filled by the allocator, so resident
    block[:: 4096] = b"\x01" * len(block[:: 4096])  # touch every page
    live = current_rss_gib()
    assert peak_rss_gib() >= live - 0.01  # the high-water mark is at least what is resident now
    assert live > 0.25
    del block


def test_job_records_peak_rss(data_root, tmp_path):
    metrics = run_job(compose_config(smoke_overrides(data_root, tmp_path)))
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    peak = on_disk["mem/peak_rss_gib"]
    assert peak == metrics["mem/peak_rss_gib"]
    # python + torch + a tiny model: well above 0.1 GiB, and never more than the machine has
    assert 0.1 < peak < total_memory_gib()
    assert peak >= current_rss_gib() - 0.05  # a high-water mark, not a sample taken at some quieter moment
