"""W&B tracking: mode choice, offline fallback, one finished run per job, summary and per-pair table."""

from __future__ import annotations

import pandas as pd
import pytest
from omegaconf import OmegaConf
from wandb_offline import offline_runs

from hybrid_retrieval.job import tracking


@pytest.fixture
def no_wandb_env(monkeypatch, tmp_path):
    """No key, no mode, an empty netrc: what a fresh machine without W&B looks like."""
    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("")
    monkeypatch.setenv("NETRC", str(netrc))
    return netrc


def test_mode_is_offline_without_key_and_online_with_one(no_wandb_env, monkeypatch):
    assert tracking.resolve_mode(None) == "offline"
    no_wandb_env.write_text("machine api.wandb.ai login user password " + "k" * 40 + "\n")
    assert tracking.resolve_mode(None) == "online"
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert tracking.resolve_mode(None) == "offline"
    assert tracking.resolve_mode("disabled") == "disabled"


def test_bad_mode_names_the_key():
    with pytest.raises(ValueError, match="logger.mode"):
        tracking.resolve_mode("sometimes")


def _per_query(out_dir):
    frame = pd.DataFrame(
        {
            "benchmark": "xquad_r",
            "setting": ["mono", "mono", "cross", "cross"],
            "query_lang": ["de", "en", "de", "en"],
            "corpus_lang": ["de", "en", "en", "de"],
            "qid": ["q1", "q1", "q1", "q1"],
            "map": [1.0, 0.5, 0.25, 0.0],
        }
    )
    frame.to_csv(out_dir / "per_query_xquad_r.csv.gz", index=False)


def test_offline_job_run_gets_config_summary_pair_table_and_is_finished(no_wandb_env, tmp_path):
    import wandb

    out = tmp_path / "job"
    out.mkdir()
    _per_query(out)
    logger = tracking.wandb_logger(project="hr-test", save_dir=out, group="sweep-a", name="job-0")
    logger.log_metrics({"train/loss": 1.5}, step=3)
    cfg = OmegaConf.create({"data": {"cross_ratio": 0.5}, "seed": 7})
    tracking.finish_run(logger, cfg, {"xquad_r/multi/map": 0.25, "bad": float("nan")}, out)
    assert wandb.run is None

    (run,) = offline_runs(out / "wandb")
    assert (run.group, run.name) == ("sweep-a", "job-0")
    assert run.config["data"] == {"cross_ratio": 0.5} and run.config["seed"] == 7
    assert run.summary["xquad_r/multi/map"] == 0.25 and "bad" not in run.summary
    assert run.summary["status"] == "complete"
    assert "train/loss" in run.history_keys
    assert any(k.startswith(tracking.PAIR_TABLE_KEY) for k in run.history_keys)


def test_pair_table_is_mean_map_per_language_pair(tmp_path):
    _per_query(tmp_path)
    table = tracking.pair_table(tmp_path)
    cross = table[table["setting"] == "cross"].set_index(["query_lang", "corpus_lang"])["map"]
    assert cross[("de", "en")] == 0.25 and cross[("en", "de")] == 0.0
    assert len(table) == 4


def test_two_jobs_in_one_process_get_two_runs_and_a_failure_is_marked(no_wandb_env, tmp_path):
    import wandb

    first = tracking.wandb_logger(project="hr-test", save_dir=tmp_path / "a")
    first.log_metrics({"x": 1.0}, step=0)
    # the next job starts without the first one having finished: it must not reuse its run
    second = tracking.wandb_logger(project="hr-test", save_dir=tmp_path / "b")
    assert second.experiment.id != first.experiment.id
    tracking.fail_run(OmegaConf.create({"seed": 1}), FloatingPointError("non-finite training loss (nan)"))
    assert wandb.run is None
    (run_a,) = offline_runs(tmp_path / "a")
    (run_b,) = offline_runs(tmp_path / "b")
    assert run_b.summary["status"] == "failed" and "FloatingPointError" in run_b.summary["error"]
    assert run_b.exit_code == 1 and "status" not in run_a.summary


def test_unreachable_server_falls_back_to_offline(no_wandb_env, monkeypatch, tmp_path):
    """A key that cannot be checked (server refuses connections) must not fail the job."""
    monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # discard port: connection refused
    logger = tracking.wandb_logger(project="hr-test", save_dir=tmp_path, mode="online", init_timeout=1)
    try:
        assert logger.experiment.settings.mode == "offline"
    finally:
        tracking.finish()
    assert len(offline_runs(tmp_path)) == 1


def test_extra_ddp_ranks_start_no_run(no_wandb_env, monkeypatch, tmp_path):
    import wandb
    from pytorch_lightning.utilities import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = tracking.wandb_logger(project="hr-test", save_dir=tmp_path)
    logger.log_metrics({"x": 1.0}, step=0)  # rank-zero-only in Lightning: a no-op here
    assert wandb.run is None and not (tmp_path / "wandb").exists()
