"""What a benchmark measures: its settings, metrics, ranking depth, language groups, headline and precision.

Each benchmark node in ``eval.benchmarks`` owns these keys, so one job can
score XQuAD-R by mAP at depth 1000 and TyDi by nDCG@10 at depth 100.  The
checks need no data, so a sweep validates every job's protocol before the
first job loads anything; each error names the benchmark's own key.

The reader adds what only it knows: its valid settings, its default headline
and whether its queries are ``parallel`` (one query id names a question across
its translations, so the report clusters them).  ``declaration()`` is the whole
protocol as the job writes it beside metrics.json (:mod:`.declaration`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hybrid_retrieval.eval.metrics import parse_metric, per_query_metrics

PROTOCOL_KEYS = ("settings", "metrics", "depth", "low_resource", "headline", "precision", "lower_is_better")
BIAS_MEASURES = ("rank_distance", "lang_pref", "query_lang@10")  # computed in pooled multilingual settings
PRECISIONS = ("auto", "32", "32-true", "bf16-mixed", "bf16-true", "16-mixed")


@dataclass(frozen=True)
class Protocol:
    """``name`` is the benchmark key (``eval.benchmarks.<name>``); ``groups`` maps a group name to languages."""

    name: str
    settings: tuple[str, ...]
    metrics: tuple[str, ...]
    depth: int = 100
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    headline: tuple[str, ...] = ()
    precision: str = "32"
    lower_is_better: tuple[str, ...] = ("rank_distance",)
    valid_settings: tuple[str, ...] = ()
    parallel: bool = False  # the reader's word: query ids are shared by a question's translations

    @classmethod
    def from_node(
        cls,
        name: str,
        node: Mapping[str, Any],
        valid_settings: Iterable[str],
        default_headline: Iterable[str] = (),
        parallel: bool = False,
    ) -> Protocol:
        """Build and check from a benchmark node's keys (unknown keys are the loader's business)."""
        low = list(node.get("low_resource") or [])
        depth = node.get("depth", 100)
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise ValueError(f"eval.benchmarks.{name}.depth={depth!r}: must be an integer >= 1")
        proto = cls(
            name=name,
            settings=tuple(node.get("settings") or ()),
            metrics=tuple(node.get("metrics") or ()),
            depth=depth,
            groups={"low_resource": tuple(low)} if low else {},
            headline=tuple(node.get("headline") or default_headline),
            precision=str(node.get("precision") or "32"),
            lower_is_better=tuple(node.get("lower_is_better") or ("rank_distance",)),
            valid_settings=tuple(valid_settings),
            parallel=bool(parallel),
        )
        # headline entries follow the settings and metrics asked for (settings=[mono] drops multi/map);
        # a malformed entry is still an error (check)
        kept = tuple(e for e in proto.headline if proto._headline_ok(e) or len(e.split("/")) not in (2, 3))
        proto = replace(proto, headline=kept)
        proto.check()
        return proto

    def with_(self, **changes: Any) -> Protocol:
        """A checked copy with some keys changed (``metrics``, ``depth``, ``settings``...)."""
        changes = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in changes.items()}
        proto = replace(self, **changes)
        if "headline" not in changes:  # keep the headline entries the changed protocol still computes
            proto = replace(proto, headline=tuple(e for e in self.headline if proto._headline_ok(e)))
        proto.check()
        return proto

    def _headline_ok(self, entry: str) -> bool:
        parts = entry.split("/")
        return (
            len(parts) in (2, 3)
            and parts[0] in self.settings
            and parts[1] in set(self.metrics) | set(BIAS_MEASURES)
            and (len(parts) == 2 or parts[2] in self.groups)
        )

    def key(self, leaf: str) -> str:
        return f"eval.benchmarks.{self.name}.{leaf}"

    def check(self) -> None:
        valid_settings = self.valid_settings
        if not self.settings or len(set(self.settings)) != len(self.settings):
            raise ValueError(
                f"{self.key('settings')}={list(self.settings)}: must be a non-empty list without duplicates "
                f"of {list(valid_settings)}"
            )
        bad = [s for s in self.settings if s not in valid_settings]
        if bad:
            raise ValueError(f"{self.key('settings')}: {bad} not valid here; valid settings: {list(valid_settings)}")
        if not self.metrics or len(set(self.metrics)) != len(self.metrics):
            raise ValueError(f"{self.key('metrics')}={list(self.metrics)}: must be a non-empty list without duplicates")
        for name in map(str, self.metrics):
            try:
                _, k = parse_metric(name)
            except ValueError:
                raise ValueError(
                    f"{self.key('metrics')}: {name!r} is not <metric> or <metric>@<k> with an integer k"
                ) from None
            if k is not None and k <= 0:
                raise ValueError(f"{self.key('metrics')}: {name!r}: k must be a positive integer")
            try:
                per_query_metrics(np.zeros((1, max(k or 1, 1)), dtype=bool), np.ones(1), [name])
            except ValueError as err:
                raise ValueError(f"{self.key('metrics')}: {err}") from None
        if self.depth < 1:
            raise ValueError(f"{self.key('depth')}={self.depth}: must be >= 1")
        largest = self.largest_cutoff
        if largest > self.depth:
            raise ValueError(
                f"{self.key('depth')}={self.depth} is smaller than the largest cutoff @{largest} in "
                f"{self.key('metrics')}; set {self.key('depth')}>={largest} or drop that metric"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(f"{self.key('precision')}={self.precision!r}: valid values are {list(PRECISIONS)}")
        known = set(self.metrics) | set(BIAS_MEASURES)
        for entry in self.headline:
            if not self._headline_ok(entry):
                raise ValueError(
                    f"{self.key('headline')}: {entry!r} is not <setting>/<metric>[/<group>] with a "
                    f"setting of {list(self.settings)}, a metric of {sorted(known)} and a group of "
                    f"{sorted(self.groups)}"
                )

    @property
    def largest_cutoff(self) -> int:
        return max((k for _, k in map(parse_metric, self.metrics) if k), default=0)

    def headline_keys(self) -> list[str]:
        """The metrics.json keys this benchmark leads with."""
        return [f"{self.name}/{entry}" for entry in self.headline]

    def declaration(self) -> dict[str, Any]:
        """The protocol as plain JSON: what the job's headline line, ``optimized_metric`` and the report read."""
        return {
            "settings": list(self.settings),
            "metrics": list(self.metrics),
            "depth": self.depth,
            "groups": {g: list(langs) for g, langs in self.groups.items()},
            "headline": list(self.headline),
            "lower_is_better": list(self.lower_is_better),
            "parallel": self.parallel,
            "precision": self.precision,
        }
