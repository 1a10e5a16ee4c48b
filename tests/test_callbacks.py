"""Training callbacks come from the ``callbacks`` config group (conf/callbacks/), built in one place."""

from __future__ import annotations

import pytest
from conftest import compose_config, smoke_overrides
from pytorch_lightning.callbacks import ModelCheckpoint

from hybrid_retrieval.config.validate import ConfigError, check_callbacks
from hybrid_retrieval.data.batch_trace import BatchTrace
from hybrid_retrieval.job.callbacks import find_callback, instantiate_callbacks
from hybrid_retrieval.job.finite_guard import FiniteStateGuard
from hybrid_retrieval.job.preemption import PreemptionCheckpoint
from hybrid_retrieval.job.rng_state import RngState
from hybrid_retrieval.job.train_progress import ProgressLog
from hybrid_retrieval.job.training_record import TrainingRecord


def callbacks(tmp_path, *overrides: str) -> list:
    cfg = compose_config(smoke_overrides(tmp_path, tmp_path) + list(overrides))
    check_callbacks(cfg)
    return instantiate_callbacks(cfg)


def test_default_callbacks_read_the_user_facing_keys(tmp_path):
    built = callbacks(tmp_path, "checkpoint.every_n_steps=7", "progress.every_n_steps=3", "progress.every_s=2.5")
    assert [type(cb) for cb in built] == [
        TrainingRecord,
        RngState,
        FiniteStateGuard,
        PreemptionCheckpoint,
        ModelCheckpoint,
        ProgressLog,
    ]
    checkpoint = find_callback(built, ModelCheckpoint)
    assert checkpoint._every_n_train_steps == 7 and checkpoint.save_last and checkpoint.save_top_k == 0
    assert checkpoint.dirpath == str(tmp_path / "checkpoints")
    assert find_callback(built, PreemptionCheckpoint).last == tmp_path / "checkpoints" / "last.ckpt"
    progress = find_callback(built, ProgressLog)
    assert (progress.every_n_steps, progress.every_s) == (3, 2.5)
    assert find_callback(built, BatchTrace) is None  # opt-in


def test_no_periodic_checkpoint_callback_when_checkpoints_are_off(tmp_path):
    assert find_callback(callbacks(tmp_path, "checkpoint.every_n_steps=0"), ModelCheckpoint) is None


@pytest.mark.parametrize("selection", ["callbacks=with_batch_trace", "callbacks=[default,batch_trace]"])
def test_batch_trace_is_turned_on_by_choosing_it(tmp_path, selection):
    trace = find_callback(callbacks(tmp_path, selection), BatchTrace)
    assert trace is not None and str(trace.out_dir) == str(tmp_path)


def test_a_callback_set_to_null_is_off(tmp_path):
    assert find_callback(callbacks(tmp_path, "callbacks.progress=null"), ProgressLog) is None


def test_a_misspelt_callback_argument_fails_naming_the_key(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"callbacks\.model_checkpoint\.save_lst: not an argument of .*"
        r"did you mean save_last\?",
    ):
        callbacks(tmp_path, "+callbacks.model_checkpoint.save_lst=true")


def test_an_unknown_callback_class_fails_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"callbacks\.extra\._target_='no\.such\.Callback': cannot import it"):
        callbacks(tmp_path, "+callbacks.extra._target_=no.such.Callback")


def test_a_callback_without_target_fails_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"callbacks\.extra: a callback node needs a _target_"):
        callbacks(tmp_path, "+callbacks.extra.every=3")


def test_training_without_its_record_fails_naming_the_callback(data_root, tmp_path):
    from hybrid_retrieval.job.run_job import run_job

    cfg = compose_config(
        smoke_overrides(data_root, tmp_path) + ["callbacks.training_record=null", "save_encoder=false"]
    )
    with pytest.raises(ConfigError, match=r"no TrainingRecord.*keep callbacks\.training_record"):
        run_job(cfg)


def test_a_job_without_checkpoints_writes_none_anywhere(data_root, tmp_path):
    from hybrid_retrieval.job.run_job import run_job

    metrics = run_job(
        compose_config(smoke_overrides(data_root, tmp_path) + ["checkpoint.every_n_steps=0", "save_encoder=false"])
    )
    assert metrics["train/steps"] == 6 and "train/final_loss" in metrics
    assert list(tmp_path.rglob("*.ckpt")) == [] and not (tmp_path / "checkpoints").exists()
