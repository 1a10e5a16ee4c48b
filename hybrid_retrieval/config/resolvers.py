"""``${hr.*}`` resolvers: name a locally built backbone without building it.

``model.backbone`` is a hub id, a directory, or ``local:<name>`` for a backbone we
build ourselves (model/backbones.py materialises it when the job loads it), so
composing a config does no I/O and ``model.backbone=<hub id>`` simply replaces it.
"""
from __future__ import annotations

from omegaconf import OmegaConf

RESOLVERS = {"hr.tiny_bert": "local:tiny_bert", "hr.bundled_me5_small": "local:me5_small"}


def register() -> None:
    for name, marker in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, lambda marker=marker: marker, use_cache=True)


register()
