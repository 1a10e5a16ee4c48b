"""The throughput scripts run the peer at its best: which configurations they pick, per hardware, and which is 'best'."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perf"))
import _common  # noqa: E402
import eval_throughput  # noqa: E402
import train_throughput  # noqa: E402


@pytest.mark.parametrize("module", [train_throughput, eval_throughput])
@pytest.mark.parametrize("native, peer_bf16, has_bf16", [
    (True, "auto", True), (False, "auto", False), (False, "always", True), (True, "never", False)])
def test_peer_runs_bf16_exactly_where_it_is_native_or_asked(monkeypatch, module, native, peer_bf16, has_bf16):
    monkeypatch.setattr(module, "native_bf16_on", lambda device: native)
    configs, note = module.peer_configs(argparse.Namespace(device="cpu", peer_bf16=peer_bf16, batch_size=128))
    assert any(name.startswith("default") for name in configs)  # the default always runs
    assert any("bf16" in name for name in configs) == has_bf16
    assert len(configs) >= 2 or module is train_throughput  # encoding: a second, faster configuration always runs
    assert ("not native" in note) != native
    if module is eval_throughput and has_bf16:  # the bf16 peer runs at its own default batch as well as at ours
        assert {"bf16 model, batch 32", "bf16 model, batch 128"} <= set(configs)


def test_encoding_mfu_counts_padded_and_real_tokens_and_only_non_embedding_parameters():
    import torch

    class Backbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = torch.nn.Embedding(10, 4)  # 40, not counted
            self.layer = torch.nn.Linear(4, 4)            # 20, counted
            self.pooler = torch.nn.Linear(4, 4)           # 20, not counted

        def forward(self, input_ids, attention_mask):
            return self.layer(self.embeddings(input_ids))

    backbone = Backbone()
    tokens = _common.count_tokens(backbone)
    backbone(input_ids=torch.zeros(2, 5, dtype=torch.long), attention_mask=torch.tensor([[1] * 5, [1, 1, 0, 0, 0]]))
    backbone(input_ids=torch.zeros(3, 2, dtype=torch.long), attention_mask=torch.ones(3, 2, dtype=torch.long))
    assert tokens == {"padded": 10 + 6, "real": 7 + 6}
    assert _common.non_embedding_params(backbone) == 20


def test_fastest_is_the_measured_maximum():
    name, result = _common.fastest({"default": {"x": 7.0}, "bf16": {"x": 11.9}, "big batch": {"x": 9.0}}, "x")
    assert (name, result["x"]) == ("bf16", 11.9)


def test_auto_resolves_per_device(monkeypatch):
    monkeypatch.setattr(_common, "native_bf16_on", lambda device: device == "cuda")
    assert _common.resolve_on("cpu", "auto") == "32-true"
    assert _common.resolve_on("cuda", "auto") == "bf16-mixed"
    assert _common.resolve_on("cpu", "bf16-mixed") == "bf16-mixed"  # an explicit choice is kept


def test_cpu_line_names_model_and_bf16_features():
    line = _common.cpu_line()
    info = _common.cpu_info()
    assert info["model"] in line
    assert ("AMX yes" in line) == ("amx_bf16" in info["flags"])
    assert ("AVX-512 BF16 yes" in line) == ("avx512_bf16" in info["flags"])


def test_rounds_interleave_contenders_and_quote_each_ones_median(monkeypatch):
    calls, speeds = [], {"a": iter([5.0, 9.0, 7.0]), "b": iter([1.0, 3.0, 2.0]), "c": iter([4.0, 4.0, 6.0])}

    def fake_run(script, mode, args):
        calls.append(mode)
        return {"x": next(speeds[mode]), "mode": mode}

    monkeypatch.setattr(_common, "run_isolated", fake_run)
    out = _common.run_rounds("s.py", {name: (name, []) for name in "abc"}, rounds=3, key="x")
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # each round starts one place further on
    assert {name: r["x"] for name, r in out.items()} == {"a": 7.0, "b": 2.0, "c": 4.0}
    assert out["a"]["values"] == [5.0, 9.0, 7.0] and "median of 3" in _common.spread(out["a"])
    speeds["a"] = iter([8.0])
    assert _common.spread(_common.run_rounds("s.py", {"a": ("a", [])}, rounds=1, key="x")["a"]) == ""


def test_copies_started_together_get_their_thread_share_and_their_rates_add_up(tmp_path):
    import concurrency

    fake = tmp_path / "fake_bench.py"  # a stand-in benchmark: reports its thread setting as its rate
    fake.write_text("import json, os, sys, time\n"
                    "assert sys.argv[1:3] == ['--mode', 'ours']\n"
                    "time.sleep(1.0)\n"
                    "print(json.dumps({'rate': float(os.environ['OMP_NUM_THREADS']), 'peak_rss_gib': 0.1, "
                    "'pid': os.getpid(), 'end': time.time(), 'start_arg': sys.argv[3:]}))\n")
    total, results = concurrency.aggregate_rate(fake, "rate", ["--x=1"], jobs=3, threads=2)
    assert total == 6.0 and [r["rate"] for r in results] == [2.0, 2.0, 2.0]
    assert len({r["pid"] for r in results}) == 3 and all(r["start_arg"] == ["--x=1"] for r in results)
    assert max(r["end"] for r in results) - min(r["end"] for r in results) < 0.9  # ran at the same time, not in turn


def test_a_failing_copy_is_reported_with_its_error(tmp_path):
    import concurrency

    fake = tmp_path / "broken.py"
    fake.write_text("import sys; sys.exit('no data root here')\n")
    with pytest.raises(RuntimeError, match="(?s)copy 1 of 2 failed:.*no data root here"):
        concurrency.aggregate_rate(fake, "rate", [], jobs=2, threads=1)


def test_train_benchmark_refuses_a_warmup_its_clock_cannot_time(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["train_throughput.py", "--warmup", "0"])
    with pytest.raises(SystemExit):
        train_throughput.main()
    assert "--warmup and --steps must be at least 1" in capsys.readouterr().err
