"""One job composed in-process: outputs, metric keys, run files, and bad inputs that must fail before training."""

from __future__ import annotations

import json

import pytest
from conftest import compose_config, smoke_overrides

from hybrid_retrieval.config.validate import ConfigError
from hybrid_retrieval.job.run_job import run_job


def test_job_writes_metrics_and_runs(data_root, tmp_path):
    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["eval.save_runs=true", "data.cross_ratio=0.5"])
    metrics = run_job(cfg)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == pytest.approx(metrics, nan_ok=True)
    for key in [
        "xquad_r/mono/map",
        "xquad_r/cross/map",
        "xquad_r/multi/map",
        "xquad_r/multi/rank_distance",
        "xquad_r/multi/recall@10",
        "xquad_r/cross/recall@10/en",
        "train/cross_batch_fraction",
        "train/pairs_per_s",
    ]:
        assert key in metrics, key
    assert metrics["train/cross_batch_fraction"] == pytest.approx(0.5)
    for setting in ("mono", "cross", "multi"):
        run = (tmp_path / "runs" / "xquad_r" / f"{setting}.trec").read_text().splitlines()
        qrels = (tmp_path / "runs" / "xquad_r" / f"{setting}.qrels").read_text().splitlines()
        assert run and qrels
        qid = run[0].split()[0]
        lang_pair, _, question = qid.partition(":")
        q_lang, c_lang = lang_pair.split("-")
        assert q_lang in ("de", "en", "es") and question
        assert (
            (c_lang == q_lang) if setting == "mono" else (c_lang == "multi" if setting == "multi" else c_lang != q_lang)
        )
    assert (tmp_path / "per_query_xquad_r.csv.gz").is_file()


@pytest.mark.parametrize(
    "override, key",
    [
        ("data.cross_ratio=1.5", "data.cross_ratio"),
        ("data.cross_ratio=-0.1", "data.cross_ratio"),
        ("data.languages=[en,xx]", "data.languages"),
        ("eval.benchmarks.xquad_r.languages=[en,klingon]", "eval.benchmarks.xquad_r.languages"),
        ("data.languages=[en]", "data.cross_ratio"),
        ("data.batch_size=1", "data.batch_size"),
    ],
)
def test_bad_config_fails_naming_the_key(data_root, tmp_path, override, key):
    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["data.cross_ratio=0.5", override])
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        run_job(cfg)
    assert not (tmp_path / "metrics.json").exists()


def test_missing_data_root_names_key(tmp_path):
    cfg = compose_config(smoke_overrides(tmp_path / "nope", tmp_path))
    with pytest.raises(ConfigError, match=r"paths\.data_dir"):
        run_job(cfg)


def test_missing_file_names_path_and_both_remedies(tmp_path):
    (tmp_path / "mlqa-r").mkdir()
    cfg = compose_config(smoke_overrides(tmp_path, tmp_path / "out"))
    with pytest.raises(FileNotFoundError) as err:
        run_job(cfg)
    text = str(err.value)
    assert "xquad-r" in text and "hybrid_retrieval.data.download" in text and "HYBRID_RETRIEVAL_DATA" in text


def test_unreachable_hub_backbone_fails_fast_naming_it(data_root, tmp_path, monkeypatch):
    from hybrid_retrieval.backbones.errors import BackboneNotFoundError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["model=xlmr_base"])
    with pytest.raises(BackboneNotFoundError, match=r"FacebookAI/xlm-roberta-base.*model\.backbone=DIR"):
        run_job(cfg)


def test_zeroshot_skips_training(data_root, tmp_path):
    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["trainer.max_steps=0", "save_encoder=false"])
    metrics = run_job(cfg)
    assert "xquad_r/mono/map" in metrics and "train/steps" not in metrics
    assert not (tmp_path / "encoder").exists()


def test_trained_encoder_is_saved(data_root, tmp_path):
    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["save_encoder=true", "trainer.max_steps=2"])
    run_job(cfg)
    assert (tmp_path / "encoder" / "modules.json").is_file() and (tmp_path / "encoder" / "config.json").is_file()
