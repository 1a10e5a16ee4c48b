"""``${hr.*}`` resolvers: name a locally built backbone without building it.

``model.backbone`` is a hub id, a directory, or ``local:<name>`` for a backbone we
build ourselves; the resolvers come from the one registry (backbones/registry.py),
which materialises the backbone when the job loads it, so composing a config does
no I/O and ``model.backbone=<hub id>`` simply replaces it.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from hybrid_retrieval.backbones.registry import LOCAL_BACKBONES

RESOLVERS = {b.resolver: b.marker for b in LOCAL_BACKBONES.values()}


def register() -> None:
    for name, marker in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, lambda marker=marker: marker, use_cache=True)


register()
