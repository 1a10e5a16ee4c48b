"""What values a setting accepts, declared once by the code that owns the setting.

A constructor (the sampler, the loss, the pooling) declares its rule here-shaped
and calls ``RULE.require(key, value)``; the config schema points at the same
rule (:func:`owned`), so ``validate()`` can fail in a second, before anything
loads, with the very message the constructor would give.  Keys that no
constructor consumes (seed, lr, trainer keys) declare their rule in the schema.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Valid:
    """``test`` decides; ``explain()`` says what is valid (a function when the choices live elsewhere)."""

    test: Callable[[Any], bool]
    describe: str | Callable[[], str]

    def explain(self) -> str:
        return self.describe() if callable(self.describe) else self.describe

    def passes(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except TypeError:  # e.g. a string where a number belongs
            return False

    def require(self, key: str, value: Any) -> None:
        """Raise ``ValueError('<key>=<value>: must be <what is valid>')`` unless ``value`` passes."""
        if not self.passes(value):
            raise ValueError(f"{key}={show(value)}: must be {self.explain()}")


def show(value: Any) -> str:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)


def between(lo: float, hi: float) -> Valid:
    return Valid(lambda v: lo <= v <= hi, f"a number in [{lo}, {hi}]")


def at_least(lo: int) -> Valid:
    return Valid(lambda v: v >= lo, f">= {lo}")


def above(lo: float) -> Valid:
    return Valid(lambda v: v > lo, f"> {lo}")


def one_of(choices: Callable[[], tuple[str, ...]]) -> Valid:
    """Choices looked up when checked, so the module that owns them stays the one source of truth."""
    return Valid(lambda v: v in choices(), lambda: f"one of {list(choices())}")


def non_empty_unique() -> Valid:
    return Valid(lambda v: len(v) > 0 and len(set(v)) == len(v), "a non-empty list without duplicates")


def optional(valid: Valid) -> Valid:
    return Valid(lambda v: v is None or valid.test(v), lambda: f"null or {valid.explain()}")


def owned(module: str, name: str) -> Valid:
    """The rule ``name`` of ``module``, imported when first checked (the schema must not import torch)."""

    def rule() -> Valid:
        return getattr(importlib.import_module(module), name)

    return Valid(lambda v: rule().test(v), lambda: rule().explain())
