"""mem/peak_rss_gib: every job records its process's peak resident memory, and the figure is a real high-water mark."""

from __future__ import annotations

import json
import os

import pytest
from conftest import compose_config, smoke_overrides

from hybrid_retrieval.job.memory import PhasePeaks, peak_rss_gib
from hybrid_retrieval.job.run_job import run_job


def current_rss_gib() -> float:
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 2**20


def total_memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def test_peak_covers_a_live_allocation():
    block = bytearray(256 * 2**20)  # zero-filled by the allocator, so resident
    block[::4096] = b"\x01" * len(block[::4096])  # touch every page
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
    phases = {k.rsplit("/", 1)[1]: v for k, v in on_disk.items() if k.startswith("mem/peak_rss_gib/")}
    assert set(phases) == {"load", "train", "evaluate"}
    assert peak == pytest.approx(max(phases.values()))


def touched(n_bytes: int) -> bytearray:
    block = bytearray(n_bytes)
    block[::4096] = b"\x01" * len(block[::4096])
    return block


def test_each_phase_reports_its_own_peak_not_the_process_high_water_mark():
    """A sweep runs its jobs in one process: a later job (or phase) must not inherit an earlier one's peak."""
    peaks = PhasePeaks()
    if not peaks.resettable:
        pytest.skip("this OS keeps no resettable high-water mark (/proc/self/clear_refs)")
    big = touched(768 * 2**20)
    del big  # gone before the phase ends, as a finished phase's working memory is
    peaks.close("big")
    small = touched(64 * 2**20)
    del small
    peaks.close("small")
    got = peaks.metrics()
    assert got["mem/peak_rss_gib/big"] - got["mem/peak_rss_gib/small"] > 0.5
    assert got["mem/peak_rss_gib"] == got["mem/peak_rss_gib/big"]


def test_heap_freed_in_a_phase_is_handed_back_before_the_next():
    """Training frees GiBs that glibc keeps for reuse; the evaluation phase's peak must not start from them."""
    peaks = PhasePeaks()
    if not peaks.resettable:
        pytest.skip("this OS keeps no resettable high-water mark (/proc/self/clear_refs)")
    blocks = [touched(64 * 2**10) for _ in range(8000)]  # 500 MiB in heap-sized pieces (below glibc's mmap threshold)
    pin = touched(64 * 2**10)  # allocated last: holds the heap's top, so free() alone cannot shrink it
    del blocks
    retained = current_rss_gib()
    peaks.close("train")
    assert retained - current_rss_gib() > 0.3  # handed back at the phase's end
    peaks.close("evaluate")
    got = peaks.metrics()
    assert got["mem/peak_rss_gib/train"] - got["mem/peak_rss_gib/evaluate"] > 0.3
    del pin
