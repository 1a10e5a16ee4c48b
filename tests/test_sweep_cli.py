"""Ready sweeps compose and expand as documented; a real CLI sweep with offline W&B feeds the report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import FAST, ROOT, job_dirs, run_cli
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from wandb_offline import offline_runs

import hybrid_retrieval.config.resolvers  # noqa: F401
from hybrid_retrieval.config.validate import validate

SWEEPS = {"cross_ratio": 5, "seeds": 3, "cross_ratio_x_seeds": 15, "backbone_size": 3, "language_set": 2}


def expand(overrides: list[str]) -> list[list[str]]:
    """The jobs Hydra's basic sweeper would launch for ``python run.py -m <overrides>``."""
    parser = OverridesParser.create()
    fixed = [o.input_line for o in parser.parse_overrides(overrides) if not o.is_sweep_override()]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=fixed, return_hydra_config=True)
    params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.params or {}).items()]
    parsed = parser.parse_overrides(params + overrides)
    (batch,) = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    return batch


def compose_job(job_overrides: list[str]):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=job_overrides)


@pytest.fixture(scope="module")
def all_languages_root(data_root, tmp_path_factory) -> Path:
    """Every benchmark language present on disk (copies of the English file): enough for validate()."""
    from hybrid_retrieval.eval.benchmarks.lareqa import KNOWN_LANGUAGES

    root = tmp_path_factory.mktemp("all_languages")
    for folder, langs in KNOWN_LANGUAGES.items():
        (root / folder).mkdir()
        for lang in langs:
            shutil.copy(data_root / folder / "en.json", root / folder / f"{lang}.json")
    shutil.copytree(data_root / "tydiqa-goldp", root / "tydiqa-goldp")  # the default experiment's TyDi languages
    return root


@pytest.mark.parametrize("name, n_jobs", SWEEPS.items())
def test_each_sweep_composes_and_expands_to_its_jobs(name, n_jobs, all_languages_root):
    jobs = expand([f"+sweeps={name}", f"paths.data_dir={all_languages_root}"])
    assert len(jobs) == n_jobs
    assert len({tuple(j) for j in jobs}) == n_jobs
    for job in jobs:
        validate(compose_job(job))  # every job passes the pre-training checks


def test_sweep_axes_take_the_documented_values():
    ratios = {compose_job(j).data.cross_ratio for j in expand(["+sweeps=cross_ratio"])}
    assert ratios == {0, 0.25, 0.5, 0.75, 1}
    sizes = [compose_job(j).model.size for j in expand(["+sweeps=backbone_size"])]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    small, full = (list(compose_job(j).data.languages) for j in expand(["+sweeps=language_set"]))
    assert set(small) < set(full) and {"hi", "vi"} <= set(full) - set(small)
    crossed = {tuple(sorted(j)) for j in expand(["+sweeps=cross_ratio_x_seeds"])}
    assert len(crossed) == 15 and {o for j in crossed for o in j if o.startswith("seed=")} == {
        "seed=1",
        "seed=2",
        "seed=3",
    }


def test_sweeps_combine_and_command_line_wins():
    assert len(expand(["+sweeps=[cross_ratio,seeds]"])) == 15
    assert len(expand(["+sweeps=cross_ratio", "data.cross_ratio=0,1"])) == 2


@pytest.mark.slow
def test_wandb_offline_sweep_then_report(data_root, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "experiment=smoke",
            "data.cross_ratio=0,0.5,1",
            f"paths.data_dir={data_root}",
            f"hydra.sweep.dir={sweep}",
            "logger=wandb",
            *FAST,
        ],
        WANDB_MODE="offline",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "wandb sync" in proc.stderr + proc.stdout
    jobs = job_dirs(sweep)
    assert len(jobs) == 3
    for job, ratio in zip(jobs, (0.0, 0.5, 1.0)):
        assert json.loads((job / "status.json").read_text())["status"] == "complete"
        (run,) = offline_runs(job / "wandb")  # exactly one W&B run per job
        metrics = json.loads((job / "metrics.json").read_text())
        assert run.summary["xquad_r/multi/map"] == pytest.approx(metrics["xquad_r/multi/map"])
        assert run.summary["status"] == "complete" and run.exit_code == 0
        assert run.group == str(sweep) and run.config["data"]["cross_ratio"] == ratio
        assert "train/loss" in run.history_keys
        assert any(k.startswith("eval/map_by_language_pair") for k in run.history_keys)

    report = run_cli([str(sweep), "--resamples", "200"], module="hybrid_retrieval.report", WANDB_MODE="offline")
    assert report.returncode == 0, report.stderr[-3000:]
    out = sweep / "report"
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 3 and set(summary["status"]) == {"complete"}
    assert list(summary["cross_ratio"]) == [0.0, 0.5, 1.0]
    for plot in (
        "xquad_r_vs_data_cross_ratio",
        "xquad_r_multi_map_vs_data_cross_ratio",
        "xquad_r_language_pairs_map",
        "tydi_mono_ndcg10_low_resource_vs_data_cross_ratio",
    ):
        assert (out / "plots" / f"{plot}.png").stat().st_size > 10_000
    sig = pd.read_csv(out / "significance.csv")
    hybrid = sig[sig["config"] == "data.cross_ratio=0.5"]  # the middle ratio against both ends, every headline metric
    assert set(hybrid["baseline_config"]) == {"data.cross_ratio=0.0", "data.cross_ratio=1.0"} or set(
        hybrid["baseline_config"]
    ) == {"data.cross_ratio=0", "data.cross_ratio=1"}
    assert {("xquad_r", "multi/map"), ("tydi", "mono/ndcg@10/low_resource")} <= set(zip(sig.benchmark, sig.metric))
    (report_run,) = offline_runs(out / "wandb")
    assert report_run.job_type == "report" and report_run.group == str(sweep)
    assert any(k.startswith("report/summary") for k in report_run.history_keys)
