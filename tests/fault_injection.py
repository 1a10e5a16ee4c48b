"""Losses that fail on purpose, for the fault tests: ``model.loss._target_=fault_injection.<Name>``.

Each is the real InfoNCE loss until its fault fires, so a run that never
reaches the fault trains exactly like one with the plain loss.
"""

from __future__ import annotations

import os
import time

import torch

from hybrid_retrieval.model.loss import InfoNCELoss

HOLD_ENV = "HR_TEST_HOLD_AT_CALL"


class _Counting(InfoNCELoss):
    def __init__(self, temperature: float = 0.05):
        super().__init__(temperature)
        self.calls = 0

    def forward(self, q, p, *args, **kwargs):
        self.calls += 1
        return super().forward(q, p, *args, **kwargs)


class NaNLossFrom(_Counting):
    """NaN from the ``from_call``-th call on."""

    def __init__(self, temperature: float = 0.05, from_call: int = 1):
        super().__init__(temperature)
        self.from_call = from_call

    def forward(self, q, p, *args, **kwargs):
        loss = super().forward(q, p, *args, **kwargs)
        return loss * float("nan") if self.calls >= self.from_call else loss


class NaNGradientAt(_Counting):
    """A finite loss whose gradient is NaN at call ``at``: that optimizer step spoils the weights."""

    def __init__(self, temperature: float = 0.05, at: int = 1):
        super().__init__(temperature)
        self.at = at

    def forward(self, q, p, *args, **kwargs):
        loss = super().forward(q, p, *args, **kwargs)
        if self.calls == self.at:
            loss = loss + 0.0 * torch.sqrt(q.sum() * 0.0)  # value + 0; gradient 0 * inf = NaN
        return loss


class HoldAt(_Counting):
    """Blocks forever at call ``$HR_TEST_HOLD_AT_CALL`` (when set), so a test can kill the job mid-training
    at a known point; without the variable it is the plain loss, so reference and re-run share one config."""

    def forward(self, q, p, *args, **kwargs):
        loss = super().forward(q, p, *args, **kwargs)
        if os.environ.get(HOLD_ENV) and self.calls >= int(os.environ[HOLD_ENV]):
            while True:  # until SIGKILL
                time.sleep(1)
        return loss


PAUSE_ENV = "HR_TEST_PAUSE_FILE"  # with HR_TEST_PAUSE_AT_CALL: where PauseAt says that it waits


class PauseAt(_Counting):
    """At call ``$HR_TEST_PAUSE_AT_CALL`` creates ``$HR_TEST_PAUSE_FILE`` and waits until the test deletes it,
    so a signal sent meanwhile lands inside that training step; without the variables it is the plain loss."""

    def forward(self, q, p, *args, **kwargs):
        loss = super().forward(q, p, *args, **kwargs)
        at, marker = os.environ.get("HR_TEST_PAUSE_AT_CALL"), os.environ.get(PAUSE_ENV)
        if at and marker and self.calls == int(at):
            open(marker, "w").close()
            deadline = time.monotonic() + 300
            while os.path.exists(marker) and time.monotonic() < deadline:
                time.sleep(0.02)
        return loss
