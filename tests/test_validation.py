"""Config checks: types and unknown keys fail while Hydra composes; ranges and cross-key rules fail in validate().

(tests/test_train_inprocess.py runs a few of these through run_job(); here each
row of docs/errors.md's config table is checked, fast, without training.)
"""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import compose_config, smoke_overrides
from hydra.errors import ConfigCompositionException

from hybrid_retrieval.config.validate import ConfigError, validate
from hybrid_retrieval.data.download import DataNotFoundError


def composed(data_root, tmp_path, *overrides: str):
    return compose_config(smoke_overrides(data_root, tmp_path) + list(overrides))


def composition_error(data_root, tmp_path, override: str) -> str:
    with pytest.raises(ConfigCompositionException) as err:
        composed(data_root, tmp_path, override)
    return f"{err.value}\n{err.value.__cause__}"


def test_smoke_config_is_valid(data_root, tmp_path):
    validate(composed(data_root, tmp_path))


@pytest.mark.parametrize(
    "override, key",
    [
        ("data.cross_ration=0.5", "cross_ration"),  # open group
        ("model.temprature=0.1", "temprature"),
        ("eval.dpeth=10", "dpeth"),
        ("sed=3", "sed"),
        ("trainer.max_step=10", "max_step"),  # closed groups
        ("checkpoint.every_n_step=5", "every_n_step"),
    ],
)
def test_unknown_key_fails_while_composing_naming_it(data_root, tmp_path, override, key):
    text = composition_error(data_root, tmp_path, override)
    assert re.search(rf"Key '{key}' (is )?not in", text), text
    assert f"Could not override '{override.split('=')[0]}'" in text


@pytest.mark.parametrize(
    "override, key, kind",
    [
        ("data.cross_ratio=half", "data.cross_ratio", "Float"),
        ("data.batch_size=many", "data.batch_size", "Integer"),
        ("model.loss.temperature=hot", "model.loss.temperature", "Float"),
        ("trainer.max_steps=lots", "trainer.max_steps", "Integer"),
        ("seed=abc", "seed", "Integer"),
    ],
)
def test_wrong_type_fails_while_composing_naming_key_and_value(data_root, tmp_path, override, key, kind):
    text = composition_error(data_root, tmp_path, override)
    value = override.split("=", 1)[1]
    assert f"full_key: {key}" in text and f"Value '{value}'" in text and f"converted to {kind}" in text, text


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.cross_ratio=1.5", "data.cross_ratio=1.5: must be a number in [0, 1]"),
        ("data.batch_size=1", "data.batch_size=1: must be >= 2"),
        ("model.loss.temperature=0", "model.loss.temperature=0.0: must be > 0"),
        ("model.loss.temperature=-0.05", "model.loss.temperature=-0.05: must be > 0"),
        ("model.lr=0", "model.lr=0.0: must be > 0"),
        (
            "model.pooling=median",
            "model.pooling='median': must be null or one of ['cls', 'lasttoken', 'max', 'mean', "
            "'mean_sqrt_len_tokens', 'weightedmean']",
        ),
        ("data.cross_mode=diagonal", "data.cross_mode='diagonal': must be one of ['per_sample', 'per_batch']"),
        ("data.schedule=random", "data.schedule='random': must be one of ['exact', 'bernoulli']"),
        ("data.hard_negatives=-1", "data.hard_negatives=-1: must be >= 0"),
        ("data.num_batches=0", "data.num_batches=0: must be null or >= 1"),
        ("data.languages=[en,en]", "data.languages=['en', 'en']: must be a non-empty list without duplicates"),
        ("data.languages=[]", "data.languages=[]: must be a non-empty list without duplicates"),
        ("eval.benchmarks.xquad_r.depth=0", "eval.benchmarks.xquad_r.depth=0: must be >= 1"),
        (
            "eval.benchmarks.xquad_r.metrics=[map,recall@0]",
            "eval.benchmarks.xquad_r.metrics: 'recall@0': k must be a positive integer",
        ),
        (
            "eval.benchmarks.xquad_r.metrics=[map,ndcg@-5]",
            "eval.benchmarks.xquad_r.metrics: 'ndcg@-5': k must be a positive integer",
        ),
        (
            "eval.benchmarks.xquad_r.metrics=[map,recall@ten]",
            "eval.benchmarks.xquad_r.metrics: 'recall@ten' is not <metric> or <metric>@<k>",
        ),
        (
            "eval.benchmarks.xquad_r.metrics=[precision@5]",
            "eval.benchmarks.xquad_r.metrics: unknown metric 'precision@5'",
        ),
        (
            "eval.benchmarks.xquad_r.metrics=[map,recall@5000]",
            "eval.benchmarks.xquad_r.depth=1000 is smaller than the largest cutoff @5000 in "
            "eval.benchmarks.xquad_r.metrics",
        ),
        (
            "eval.benchmarks.xquad_r.settings=[]",
            "eval.benchmarks.xquad_r.settings=[]: must be a non-empty list without duplicates",
        ),
        ("trainer.max_steps=-2", "trainer.max_steps=-2: must be >= -1"),
        ("trainer.max_steps=-1", "trainer.max_steps=-1 with trainer.max_epochs=-1: the job would never stop"),
        ("trainer.accumulate_grad_batches=0", "trainer.accumulate_grad_batches=0: must be >= 1"),
        ("checkpoint.every_n_steps=-5", "checkpoint.every_n_steps=-5: must be >= 0"),
        ("seed=-1", "seed=-1: must be an integer in [0, 4294967295]"),
        ("data.languages=[en]", "data.cross_ratio=0.5 needs at least two training languages"),
        (
            "data.languages=[en,xx]",
            "data.languages: ['xx'] not in mlqa-r; valid languages: ['ar', 'de', 'en', 'es', 'hi', 'vi', 'zh']",
        ),
        (
            "eval.benchmarks.xquad_r.languages=[en,tlh]",
            "eval.benchmarks.xquad_r.languages: ['tlh'] not in xquad-r; valid languages:",
        ),
        ("eval.benchmarks.xquad_r.depth=deep", "eval.benchmarks.xquad_r.depth='deep': must be an integer >= 1"),
        (
            "eval.benchmarks.tydi.depth=5",
            "eval.benchmarks.tydi.depth=5 is smaller than the largest cutoff @100 in eval.benchmarks.tydi.metrics",
        ),
        ("eval.benchmarks.tydi.metrics=[ndcg@10,bleu]", "eval.benchmarks.tydi.metrics: unknown metric 'bleu'"),
        ("eval.benchmarks.tydi.languages=[sw,yo]", "eval.benchmarks.tydi.languages=['sw', 'yo']: TyDi GoldP has"),
        (
            "eval.benchmarks.tydi.granularity=word",
            "eval.benchmarks.tydi.granularity='word': valid values are ['sentence', 'passage']",
        ),
        (
            "+trainer.fast_dev_run=true",
            "trainer.fast_dev_run: not a key of the trainer group; valid keys: ['_target_',",
        ),
    ],
)
def test_bad_value_fails_naming_key_value_and_what_is_valid(data_root, tmp_path, override, message):
    cfg = composed(data_root, tmp_path, override)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert message in str(err.value)


def test_one_language_is_fine_without_cross_batches(data_root, tmp_path):
    validate(composed(data_root, tmp_path, "data.languages=[en]", "data.cross_ratio=0"))


def test_language_without_a_data_file_names_key_language_and_path(data_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(data_root, root)
    (root / "mlqa-r" / "es.json").unlink()
    cfg = compose_config(smoke_overrides(root, tmp_path / "out"))
    with pytest.raises(DataNotFoundError) as err:
        validate(cfg)
    text = str(err.value)
    assert "data.languages: no data for 'es'" in text and str(root / "mlqa-r" / "es.json") in text
    assert "hybrid_retrieval.data.download" in text


def test_resumed_dir_with_another_config_is_refused(data_root, tmp_path):
    """A checkpoint folder remembers its job's config; another config must not continue from it."""
    from hybrid_retrieval.job.checkpointing import JobCheckpoints

    first = JobCheckpoints(composed(data_root, tmp_path, "checkpoint.every_n_steps=2"), tmp_path)
    assert first.resume_path() is None  # fresh: records the config
    first.last.write_bytes(b"a checkpoint")
    again = JobCheckpoints(composed(data_root, tmp_path, "checkpoint.every_n_steps=2"), tmp_path)
    assert again.resume_path() == str(first.last)
    other = JobCheckpoints(
        composed(data_root, tmp_path, "checkpoint.every_n_steps=2", "data.cross_ratio=0.25"), tmp_path
    )
    with pytest.raises(
        ConfigError, match=r"another config \(differences: data\.cross_ratio: 0\.5 -> 0\.25\).*checkpoint\.resume=false"
    ):
        other.resume_path()
    fresh = JobCheckpoints(
        composed(data_root, tmp_path, "checkpoint.every_n_steps=2", "data.cross_ratio=0.25", "checkpoint.resume=false"),
        tmp_path,
    )
    assert fresh.resume_path() is None and not first.last.exists()  # starts over: the stale state is gone


@pytest.mark.slow
@pytest.mark.parametrize(
    "override, expected",
    [
        ("data.cross_ration=0.5", "Key 'cross_ration' is not in struct"),  # while composing
        ("model.loss.temperature=0", "model.loss.temperature=0.0: must be > 0"),  # in validate()
    ],
)
def test_cli_fails_in_seconds_naming_the_key(data_root, tmp_path, override, expected):
    from test_cli import run_cli

    proc = run_cli(
        ["experiment=smoke", f"paths.data_dir={data_root}", f"hydra.run.dir={tmp_path}", override], timeout=300
    )
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "checkpoints").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "sweep_args, bad_job, message",
    [
        # swept on the command line: jobs (0, [map]), (0, [map, recall@0]), ...
        (
            ["data.cross_ratio=0,0.5", "eval.benchmarks.xquad_r.metrics=[map],[map,recall@0]"],
            1,
            "eval.benchmarks.xquad_r.metrics: 'recall@0': k must be a positive integer",
        ),
        # swept by a ready sweep's hydra.sweeper.params (0, 0.25, ...) with one training language
        (
            ["+sweeps=cross_ratio", "data.languages=[en]"],
            1,
            "data.cross_ratio=0.25 needs at least two training languages",
        ),
    ],
)
def test_sweep_with_a_bad_job_starts_no_job(data_root, tmp_path, sweep_args, bad_job, message):
    """A bad value in one job of a multirun must not wait for the jobs before it to train."""
    from test_cli import run_cli

    sweep = tmp_path / "sweep"
    proc = run_cli(
        ["-m", "experiment=smoke", *sweep_args, f"paths.data_dir={data_root}", f"hydra.sweep.dir={sweep}"], timeout=300
    )
    assert proc.returncode != 0
    assert f"ConfigError in sweep job {bad_job} (" in proc.stderr and message in proc.stderr, proc.stderr[-2000:]
    assert "no job of the sweep was started" in proc.stderr and not sweep.exists()
