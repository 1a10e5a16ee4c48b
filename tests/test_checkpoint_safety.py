"""Checkpoints are data, not code: they load with weights_only=True, resume loads them that way, and a
tampered one is refused before it can run anything; every rank's random generators are kept."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import compose_config, smoke_overrides
from omegaconf import OmegaConf

from hybrid_retrieval.job.checkpoint_safety import UnsafeCheckpointError, load_plain, plain_data
from hybrid_retrieval.job.rng_state import RngState
from hybrid_retrieval.job.run_job import run_job

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = [
    "data.batch_size=4",
    "data.num_batches=4",
    "save_encoder=false",
    "trainer.max_steps=2",
    "checkpoint.every_n_steps=1",
    "checkpoint.keep=true",
]


class RunsCode:
    """What an attacker would pickle: unpickling it calls a function of their choice."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


@pytest.fixture(scope="module")
def trained(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    run_job(compose_config(smoke_overrides(data_root, out) + SMALL))
    return out


def test_everything_a_job_stores_loads_with_weights_only(trained):
    path = trained / "checkpoints" / "last.ckpt"
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    state = torch.load(path, weights_only=True)
    assert state["global_step"] == 2
    assert isinstance(state["hyper_parameters"]["grad_cache"], dict)  # a DictConfig in the model's hparams


def test_tampered_checkpoint_is_refused_and_never_executed(data_root, trained, tmp_path):
    out = tmp_path / "job"
    (out / "checkpoints").mkdir(parents=True)
    for name in ("job.yaml", "last.ckpt"):
        (out / "checkpoints" / name).write_bytes((trained / "checkpoints" / name).read_bytes())
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    marker = tmp_path / "code-ran"
    state["callbacks"]["evil"] = RunsCode(marker)
    torch.save(state, out / "checkpoints" / "last.ckpt")
    with pytest.raises(UnsafeCheckpointError) as err:
        run_job(compose_config(smoke_overrides(data_root, out) + SMALL))
    assert not marker.exists()  # resume loaded with weights_only=True
    text = str(err.value)
    assert f"refusing to load {out / 'checkpoints' / 'last.ckpt'}" in text and "checkpoint.resume=false" in text
    assert not (out / "metrics.json").exists()


def test_load_plain_refuses_a_pickled_object(tmp_path):
    torch.save({"x": RunsCode(tmp_path / "ran")}, tmp_path / "bad.ckpt")
    with pytest.raises(UnsafeCheckpointError, match="bad.ckpt"):
        load_plain(tmp_path / "bad.ckpt")
    assert not (tmp_path / "ran").exists()


def test_plain_data_turns_config_objects_into_containers_and_refuses_the_rest():
    got = plain_data(
        {
            "cfg": OmegaConf.create({"a": [1, 2], "b": {"c": None}}),
            "arr": np.arange(3),
            "n": np.float32(0.5),
            "p": Path("/x"),
        }
    )
    assert got["cfg"] == {"a": [1, 2], "b": {"c": None}} and got["n"] == 0.5 and got["p"] == "/x"
    assert torch.equal(got["arr"], torch.arange(3))
    with pytest.raises(TypeError, match=r"checkpoint\['bad'\]: .*RunsCode is not plain data"):
        plain_data({"bad": RunsCode(Path("/nowhere"))})


def draws() -> tuple:
    return torch.rand(2).tolist(), np.random.rand(2).tolist(), [random.random() for _ in range(2)]


def test_each_rank_restores_its_own_random_generators():
    saver = RngState()
    states = []
    for seed in (1, 2):  # what ranks 0 and 1 held when the checkpoint was written
        torch.manual_seed(seed), np.random.seed(seed), random.seed(seed)
        states.append(saver.state_dict()["ranks"][0])
        states[-1] = (states[-1], draws())
    saved = plain_data({"ranks": [s for s, _ in states]})
    for rank, (_, expected) in enumerate(states):
        restorer = RngState()
        restorer._rank = rank
        restorer.load_state_dict(saved)
        assert draws() == expected
    extra = RngState()
    extra._rank = 5  # more ranks than were saved: starts from rank 0's
    extra.load_state_dict(saved)
    assert draws() == states[0][1]
