"""The report on any swept axis: a backbone-size sweep, a recipe sweep, a declared low-resource headline,
a zero-shot reference, one-seed wording, baselines from the command line, and the W&B report run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hybrid_retrieval.job.job_status import write_status
from hybrid_retrieval.report.build import build_report
from hybrid_retrieval.report.cli import main as report_main

LANGS = ("en", "sw", "te")
N_Q = 60
TYDI = {
    "_target_": "hybrid_retrieval.eval.benchmarks.tydi.load_tydi",
    "name": "tydi",
    "headline": ["mono/ndcg@10/low_resource", "mono/recall@10/low_resource", "mono/ndcg@10"],
    "low_resource": ["sw", "te"],
}


def make_job(
    root: Path, num: int, overrides: list[str], cfg: dict, seed: int, shift: float, benchmarks: dict | None = None
) -> Path:
    """A job dir with a TyDi-like (non-parallel) benchmark that declares its headline and low-resource group."""
    job = root / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([*overrides, f"seed={seed}"]))
    full = {
        "seed": seed,
        "trainer": {"max_steps": 24},
        "model": {"name": "tiny", "size": 1000},
        "data": {"cross_ratio": 0.5, "languages": list(LANGS)},
        "eval": {"benchmarks": {"tydi": TYDI, "miracl": None} if benchmarks is None else benchmarks},
        "logger": {"_target_": "pytorch_lightning.loggers.CSVLogger"},
    }
    for k, v in cfg.items():
        full[k] = {**full[k], **v} if isinstance(v, dict) else v
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(full))
    write_status(job, "complete")
    rng = np.random.default_rng(100 * seed + num)
    seed_shift = 0.0 if full["trainer"]["max_steps"] == 0 else 0.005 * rng.standard_normal()
    rows = []
    for lang in LANGS:
        for q in range(N_Q):
            base = 0.2 + 0.6 * ((q * 37) % 59) / 59
            value = float(np.clip(base + shift + seed_shift + 0.05 * rng.standard_normal(), 0, 1))
            rows.append(
                {
                    "benchmark": "tydi",
                    "setting": "mono",
                    "query_lang": lang,
                    "corpus_lang": lang,
                    "qid": str(q),
                    "ndcg@10": value,
                    "recall@10": min(1.0, value + 0.1),
                }
            )
    frame = pd.DataFrame(rows)
    frame.to_csv(job / "per_query_tydi.csv.gz", index=False)
    metrics = {"tydi/mono/ndcg@10": frame["ndcg@10"].mean(), "tydi/mono/recall@10": frame["recall@10"].mean()}
    low = frame[frame["query_lang"].isin(["sw", "te"])]
    metrics.update(
        {
            "tydi/mono/ndcg@10/low_resource": low["ndcg@10"].mean(),
            "tydi/mono/recall@10/low_resource": low["recall@10"].mean(),
        }
    )
    (job / "metrics.json").write_text(json.dumps(metrics))
    return job


@pytest.fixture
def backbone_sweep(tmp_path) -> Path:
    """+sweeps=backbone_size-shaped: model=tiny_small,tiny_large (sizes 1000, 5000) x seeds 1-3, large +0.1,
    and a zero-shot job per backbone (trainer.max_steps=0) that the large model's training made worse."""
    root, num = tmp_path / "backbone", 0
    for model, size, shift in (("tiny_large", 5000, 0.1), ("tiny_small", 1000, 0.0)):
        for seed in (1, 2, 3):
            make_job(
                root, num, ["experiment=smoke", f"model={model}"], {"model": {"name": model, "size": size}}, seed, shift
            )
            num += 1
    for model, size, shift in (("tiny_small", 1000, -0.1), ("tiny_large", 5000, 0.3)):
        make_job(
            root / "reference",
            num,
            [f"model={model}", "trainer.max_steps=0", "save_encoder=false"],
            {"model": {"name": model, "size": size}, "trainer": {"max_steps": 0}},
            42,
            shift,
        )
        num += 1
    return root


def test_backbone_size_sweep_gets_tables_plots_tests_and_a_zero_shot_reference(backbone_sweep, tmp_path):
    report = build_report([backbone_sweep], tmp_path / "r")
    (axis,) = report.axes
    assert axis.key == "model" and axis.values == ("tiny_small", "tiny_large")  # ordered by size, not by name
    assert axis.baselines == ("tiny_small",)
    assert axis.log and axis.sizes == (1000.0, 5000.0)  # plotted by parameter count on a log scale
    assert axis.position("tiny_large") == 5000.0
    spec = report.specs["tydi"]
    assert spec.declared and not spec.parallel and spec.low_resource == ("sw", "te")
    sig = report.significance
    along = sig[sig["axis"] == "model"]
    assert set(along["metric"]) == set(TYDI["headline"])
    low = along[along["metric"] == "mono/ndcg@10/low_resource"].iloc[0]
    assert low["n_clusters"] == 2 * N_Q  # non-parallel: each (language, qid) is its own cluster
    assert low["kind"] == "recipes" and low["better"] and low["diff"] == pytest.approx(0.1, abs=0.02)
    zs = sig[sig["axis"] == "zero-shot"]
    assert set(zs["baseline_config"]) == {"zero-shot tiny_small", "zero-shot tiny_large"}
    large = zs[(zs["config"] == "model=tiny_large") & (zs["metric"] == "mono/ndcg@10")].iloc[0]
    assert large["n_baseline_seeds"] == 1 and large["kind"] == "recipes"  # zero-shot has no seed variance
    assert large["significant"] and not large["better"]  # fine-tuning made it worse: the report must say so
    md = (tmp_path / "r" / "summary.md").read_text()
    assert "zero-shot tiny_large" in md and "eval only" in md
    assert "**worse** for model=tiny_large" in md
    assert "trainer.max_steps" not in "".join(a.key for a in report.axes)
    assert report.plots["tydi_vs_model"].read_bytes()[:4] == b"\x89PNG"
    assert "tydi_mono_ndcg10_low_resource_vs_model" in report.plots
    assert "Best model for tydi mono nDCG@10 low-resource: tiny_large" in md


def test_size_axis_uses_the_measured_parameter_count_of_the_backbone_card():
    from hybrid_retrieval.report.axes import parameter_counts

    trained = pd.DataFrame(
        {
            "_override_map": [{"model": "me5_small"}, {"model": "me5_base"}, {"model": "x"}],
            "model_size": [117e6, 278e6, 0.0],
            "backbone/parameters": [118e6, np.nan, 5e6],
        }
    )
    assert parameter_counts(trained) == {"me5_small": 118e6, "me5_base": 278e6, "x": 5e6}


@pytest.fixture
def recipe_sweep(tmp_path) -> Path:
    """A recipe axis (a config group override) crossed with a numeric code-switch rate, one seed each."""
    root, num = tmp_path / "recipes", 0
    for recipe, shift in (("hybrid", 0.0), ("multilingual", 0.05), ("codeswitch", -0.02)):
        for rate in ("0.1", "0.3"):
            make_job(root, num, [f"data/recipe={recipe}", f"data.code_switch.rate={rate}"], {}, 1, shift)
            num += 1
    return root


def test_recipe_sweep_groups_by_every_axis_and_says_one_seed_compares_models(recipe_sweep, tmp_path):
    report = build_report([recipe_sweep], tmp_path / "r")
    assert [(a.key, a.baselines) for a in report.axes] == [
        ("data/recipe", ("hybrid",)),
        ("data.code_switch.rate", ("0.1", "0.3")),
    ]
    sig = report.significance
    recipe = sig[sig["axis"] == "data/recipe"]
    assert set(recipe["group"]) == {"data.code_switch.rate=0.1", "data.code_switch.rate=0.3"}
    assert set(recipe["value"]) == {"multilingual", "codeswitch"} and (recipe["kind"] == "models").all()
    assert set(sig[sig["axis"] == "data.code_switch.rate"]["group"]) == {
        f"data/recipe={r}" for r in ("hybrid", "multilingual", "codeswitch")
    }
    md = (tmp_path / "r" / "summary.md").read_text()
    assert "compares two trained models, not two recipes" in md and "Add 2 more seeds" in md
    assert {"tydi_vs_data_recipe", "tydi_vs_data_code_switch_rate"} <= set(report.plots)


def test_cli_baseline_choice_and_bad_baseline(recipe_sweep, tmp_path, capsys):
    out = tmp_path / "r"
    assert (
        report_main([str(recipe_sweep), "--out", str(out), "--baseline", "data/recipe=multilingual", "--wandb", "off"])
        == 0
    )
    sig = pd.read_csv(out / "significance.csv", dtype=str)
    assert set(sig.loc[sig["axis"] == "data/recipe", "baseline"]) == {"multilingual"}
    assert report_main([str(recipe_sweep), "--out", str(out), "--baseline", "data/recipe=nope", "--wandb", "off"]) == 2
    assert "not among its values" in capsys.readouterr().err
    assert report_main([str(recipe_sweep), "--out", str(out), "--baseline", "lr=1", "--wandb", "off"]) == 2
    assert "not a swept key" in capsys.readouterr().err


def test_report_run_is_logged_offline_with_findings(backbone_sweep, tmp_path, monkeypatch):
    from wandb_offline import offline_runs

    monkeypatch.setenv("WANDB_MODE", "offline")
    out = tmp_path / "r"
    assert report_main([str(backbone_sweep), "--out", str(out), "--wandb", "on", "--wandb-mode", "offline"]) == 0
    (run,) = offline_runs(out)
    assert run.job_type == "report" and run.exit_code == 0
    assert "report/findings" in run.summary and "zero-shot" in run.summary["report/findings"]
    for key in ("report/significance", "report/findings", "report/plots/tydi_vs_model"):
        assert any(k.startswith(key) for k in run.history_keys), (key, sorted(run.history_keys))
