"""Disk a sweep can afford: ready sweeps say what they keep, and a default job checkpoints once, not twice."""

from __future__ import annotations

import pytest
from conftest import ROOT, compose_config

SWEEPS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("sweep", SWEEPS)
def test_ready_sweeps_do_not_keep_encoders_unless_asked(sweep):
    text = (ROOT / "sweeps" / f"{sweep}.yaml").read_text()
    assert "What each job keeps" in text
    assert compose_config([f"+sweeps={sweep}"]).save_encoder is False
    assert compose_config([f"+sweeps={sweep}", "save_encoder=true"]).save_encoder is True


def test_single_runs_still_save_the_encoder():
    assert compose_config([]).save_encoder is True


def test_default_job_writes_one_checkpoint_at_most():
    """Periodic checkpoints every N steps plus one at the end: a 64-step job must not get both."""
    cfg = compose_config(["experiment=default"])
    steps, every = int(cfg.trainer.max_steps), int(cfg.checkpoint.every_n_steps)
    periodic = steps // every if every else 0
    final = 1 if every and steps % every else 0
    assert periodic + final <= 1, (steps, every)
