"""Progress you can read in a log: training/eval lines off a terminal, a headline line, sweep i-of-n lines."""

from __future__ import annotations

import json
import logging
import re
import time
import warnings
from types import SimpleNamespace

import pytest
from conftest import compose_config, smoke_overrides
from omegaconf import OmegaConf

from hybrid_retrieval import quiet
from hybrid_retrieval.job.disk import dir_mb
from hybrid_retrieval.job.headline import headline_keys, headline_line
from hybrid_retrieval.job.sweep_progress import SweepProgress
from hybrid_retrieval.progress import phase


def _messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_phase_off_a_terminal_logs_start_counts_eta_and_end(caplog):
    with caplog.at_level(logging.INFO, logger="hybrid_retrieval.progress"):
        with phase("encode passages", total=300, unit="texts", every_s=0, bar=False) as p:
            p.update(100)
            p.update(200)
    lines = _messages(caplog)
    assert lines[0] == "encode passages: started of 300 texts"
    assert re.fullmatch(r"encode passages: 100/300 texts \(33%\), [\d,.]+ texts/s, \d+s elapsed, ETA \S+", lines[1])
    assert re.fullmatch(r"encode passages: done, 300 texts in \d+s", lines[-1])


def test_phase_that_raises_says_it_failed(caplog):
    with caplog.at_level(logging.INFO, logger="hybrid_retrieval.progress"), pytest.raises(KeyError):
        with phase("metrics", bar=False):
            raise KeyError("x")
    assert re.fullmatch(r"metrics: failed after \d+s", _messages(caplog)[-1])


def test_headline_follows_the_declared_lists_after_the_optimized_metric():
    metrics = {
        "xquad_r/mono/map": 0.7,
        "xquad_r/cross/map": 0.6,
        "xquad_r/cross/map/de": 0.5,
        "xquad_r/multi/ndcg@10": 0.4,
        "xquad_r/multi/recall@10": 0.9,
        "train/final_loss": 1.5,
        "disk/job_mb": 12.3,
        "time/train_s": 4.0,
    }
    declared = {"xquad_r": {"headline": ["multi/ndcg@10", "mono/map", "multi/map"]}}  # multi/map: not in metrics
    assert headline_keys(metrics, declared) == [
        "xquad_r/multi/ndcg@10",
        "xquad_r/mono/map",
        "train/final_loss",
        "disk/job_mb",
    ]
    declared = {"xquad_r": {"headline": ["mono/map", "cross/map/de"]}}
    assert headline_line(metrics, declared, "xquad_r/multi/recall@10") == (
        "headline: xquad_r/multi/recall@10=0.9000 xquad_r/mono/map=0.7000 "
        "xquad_r/cross/map/de=0.5000 train/final_loss=1.5000 disk/job_mb=12.3000"
    )


def test_job_logs_training_and_eval_progress_a_headline_and_its_disk_use(data_root, tmp_path, caplog):
    from hybrid_retrieval.job.run_job import run_job

    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["progress.every_n_steps=2"])
    with caplog.at_level(logging.INFO):
        metrics = run_job(cfg)
    lines = _messages(caplog)
    steps = [line for line in lines if line.startswith("train: step ")]
    assert [line.split(",")[0] for line in steps] == [
        "train: step 2/6 (33%)",
        "train: step 4/6 (67%)",
        "train: step 6/6 (100%)",
    ]
    assert all(re.search(r", loss \d+\.\d{4}, [\d.]+ pairs/s, \S+ elapsed, ETA \S+$", line) for line in steps), steps
    assert any(re.fullmatch(r".+ (queries|candidates|passages): done, [\d,]+ texts in \S+", line) for line in lines), (
        lines
    )
    assert any(re.fullmatch(r"evaluate: done in \S+", line) for line in lines), lines
    assert lines[-1].startswith("headline: xquad_r/")
    assert "xquad_r/multi/map=" in lines[-1] and "disk/job_mb=" in lines[-1]
    assert 0 < metrics["disk/job_mb"] == json.loads((tmp_path / "metrics.json").read_text())["disk/job_mb"]


def test_sweep_progress_says_which_job_runs_and_how_finished_ones_ended(tmp_path, caplog):
    from hydra.core.utils import JobStatus
    from hydra.types import RunMode

    callback = SweepProgress()
    callback.total = 2
    for num, (status, extra) in enumerate([("complete", {"xquad_r/multi/map": 0.5}), ("failed", None)]):
        job_dir = tmp_path / str(num)
        job_dir.mkdir()
        record = (
            {"status": status}
            if extra
            else {"status": status, "error_type": "FloatingPointError", "error_message": "loss is nan\nmore detail"}
        )
        (job_dir / "status.json").write_text(json.dumps(record))
        if extra:
            (job_dir / "metrics.json").write_text(json.dumps(extra))
            (job_dir / "benchmarks.json").write_text(json.dumps({"xquad_r": {"headline": ["multi/map"]}}))
        config = OmegaConf.create(
            {
                "hydra": {
                    "mode": RunMode.MULTIRUN,
                    "job": {"num": num},
                    "overrides": {"task": [f"data.cross_ratio={num}"]},
                    "runtime": {"output_dir": str(job_dir)},
                }
            }
        )
        with caplog.at_level(logging.INFO, logger="hybrid_retrieval.sweep"):
            callback.on_job_start(config)
            callback.on_job_end(config, SimpleNamespace(status=JobStatus.COMPLETED))
    lines = _messages(caplog)
    assert lines[0] == "sweep: job 1 of 2 started: data.cross_ratio=0"
    assert re.fullmatch(
        r"sweep: job 1 of 2 complete in \d+s: headline: xquad_r/multi/map=0\.5000 "
        r"\| finished: 1 complete, 1 to go",
        lines[1],
    )
    assert re.fullmatch(
        r"sweep: job 2 of 2 failed in \d+s: FloatingPointError: loss is nan "
        r"\| finished: 1 complete, 1 failed, 0 to go",
        lines[3],
    )


def test_third_party_noise_is_dropped_but_other_messages_pass(caplog):
    quiet.silence_third_party()
    lightning = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    with caplog.at_level(logging.INFO):
        lightning.info("💡 Tip: For seamless cloud logging ... try installing [litlogger]")
        lightning.info("GPU available: False, used: False")
        logging.getLogger("faiss.loader").info("Loading faiss with AVX2 support.")
    assert _messages(caplog) == ["GPU available: False, used: False"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning, stacklevel=1)
    assert caught == []


def test_dir_mb_counts_allocated_bytes_and_skips_named_entries(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x" * 2_000_000)
    (tmp_path / "metrics.json").write_bytes(b"y" * 1_000_000)
    assert dir_mb(tmp_path, skip=("checkpoints",)) == pytest.approx(1.0, abs=0.01)
    assert dir_mb(tmp_path) == pytest.approx(3.0, abs=0.02)


def test_a_phase_that_cannot_count_still_logs_a_heartbeat(caplog):
    with caplog.at_level(logging.INFO, logger="hybrid_retrieval.progress"):
        with phase("xquad_r: search", bar=False, every_s=0.2):
            time.sleep(0.7)
    beats = [m for m in _messages(caplog) if m.startswith("xquad_r: search: running, ")]
    assert 2 <= len(beats) <= 4, _messages(caplog)
