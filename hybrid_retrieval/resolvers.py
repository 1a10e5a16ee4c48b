"""OmegaConf resolvers that turn locally built backbones into paths.

``model.backbone`` is always a hub id or a directory; configs for backbones we
build ourselves say ``${hr.tiny_bert:}`` and get the cached directory, so a
user's ``model.backbone=<hub id>`` override simply replaces it.
"""
from __future__ import annotations

from omegaconf import OmegaConf


def _tiny_bert() -> str:
    from hybrid_retrieval.model.tiny import build_tiny_bert
    return build_tiny_bert()


def _bundled_me5_small() -> str:
    from hybrid_retrieval.model.me5_bundled import ensure_me5_small
    return str(ensure_me5_small())


def register() -> None:
    for name, fn in {"hr.tiny_bert": _tiny_bert, "hr.bundled_me5_small": _bundled_me5_small}.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn, use_cache=True)


register()
