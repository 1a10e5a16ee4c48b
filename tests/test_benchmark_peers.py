"""The throughput benchmarks run the peer at its best: which configurations they pick, per hardware, and which is
'best' (hybrid_retrieval.bench, the library of perf/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hybrid_retrieval import precision
from hybrid_retrieval.bench import flops, hardware, peers, rounds

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("configs_of", [peers.training_configs, peers.encoding_configs])
@pytest.mark.parametrize(
    "native, peer_bf16, has_bf16",
    [(True, "auto", True), (False, "auto", False), (False, "always", True), (True, "never", False)],
)
def test_peer_runs_bf16_exactly_where_it_is_native_or_asked(monkeypatch, configs_of, native, peer_bf16, has_bf16):
    monkeypatch.setattr(peers, "native_bf16", lambda device: native)
    batch = {"batch_size": 128} if configs_of is peers.encoding_configs else {}
    configs, note = configs_of("cpu", peer_bf16, **batch)
    assert any(name.startswith("default") for name in configs)  # the default always runs
    assert any("bf16" in name for name in configs) == has_bf16
    assert len(configs) >= 2 or configs_of is peers.training_configs  # encoding: a second, faster one always runs
    assert ("not native" in note) != native
    if configs_of is peers.encoding_configs and has_bf16:  # the bf16 peer runs at its default batch and at ours
        assert {"bf16 model, batch 32", "bf16 model, batch 128"} <= set(configs)


def test_encoding_mfu_counts_padded_and_real_tokens_and_only_non_embedding_parameters():
    import torch

    class Backbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = torch.nn.Embedding(10, 4)  # 40, not counted
            self.layer = torch.nn.Linear(4, 4)  # 20, counted
            self.pooler = torch.nn.Linear(4, 4)  # 20, not counted

        def forward(self, input_ids, attention_mask):
            return self.layer(self.embeddings(input_ids))

    backbone = Backbone()
    tokens = flops.count_tokens(backbone)
    backbone(input_ids=torch.zeros(2, 5, dtype=torch.long), attention_mask=torch.tensor([[1] * 5, [1, 1, 0, 0, 0]]))
    backbone(input_ids=torch.zeros(3, 2, dtype=torch.long), attention_mask=torch.ones(3, 2, dtype=torch.long))
    assert tokens == {"padded": 10 + 6, "real": 7 + 6}
    assert flops.non_embedding_params(backbone) == 20


def test_fastest_is_the_measured_maximum():
    name, result = rounds.fastest({"default": {"x": 7.0}, "bf16": {"x": 11.9}, "big batch": {"x": 9.0}}, "x")
    assert (name, result["x"]) == ("bf16", 11.9)


def test_auto_resolves_per_device(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device: device == "cuda")
    assert precision.resolve_precision("auto", "cpu") == "32-true"
    assert precision.resolve_precision("auto", "cuda") == "bf16-mixed"
    assert precision.resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"  # an explicit choice is kept


def test_cpu_line_names_model_and_bf16_features():
    line = hardware.cpu_line()
    info = hardware.cpu_info()
    assert info["model"] in line
    assert ("AMX yes" in line) == ("amx_bf16" in info["flags"])
    assert ("AVX-512 BF16 yes" in line) == ("avx512_bf16" in info["flags"])


def test_rounds_interleave_contenders_and_quote_each_ones_median(monkeypatch):
    calls, speeds = [], {"a": iter([5.0, 9.0, 7.0]), "b": iter([1.0, 3.0, 2.0]), "c": iter([4.0, 4.0, 6.0])}

    def fake_run(script, mode, args):
        calls.append(mode)
        return {"x": next(speeds[mode]), "mode": mode}

    monkeypatch.setattr(rounds, "run_isolated", fake_run)
    out = rounds.run_rounds("s.py", {name: (name, []) for name in "abc"}, rounds=3, key="x")
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # each round starts one place further on
    assert {name: r["x"] for name, r in out.items()} == {"a": 7.0, "b": 2.0, "c": 4.0}
    assert out["a"]["values"] == [5.0, 9.0, 7.0] and "median of 3" in rounds.spread(out["a"])
    speeds["a"] = iter([8.0])
    assert rounds.spread(rounds.run_rounds("s.py", {"a": ("a", [])}, rounds=1, key="x")["a"]) == ""


def test_train_benchmark_refuses_a_warmup_its_clock_cannot_time():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's package, as the test process imports it
    done = subprocess.run(
        [sys.executable, "perf/train_throughput.py", "--warmup", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "--warmup and --steps must be at least 1" in done.stderr
