"""Load a transformer backbone and its tokenizer from a hub id, a local directory or a ``local:<name>`` build."""
from __future__ import annotations

import os
from typing import Any

from hybrid_retrieval.backbones.errors import BackboneNotFoundError
from hybrid_retrieval.backbones.hub import cached_locally, hub_reachable
from hybrid_retrieval.backbones.registry import materialise


def load_backbone(name_or_path: str, **kwargs: Any):
    """Return (model, tokenizer); a hub id that cannot be reached fails fast with a clear message."""
    from transformers import AutoModel, AutoTokenizer

    name_or_path = materialise(name_or_path)

    if not os.path.isdir(name_or_path) and not hub_reachable():
        if not cached_locally(name_or_path):
            raise BackboneNotFoundError(
                f"model.backbone={name_or_path!r}: not a local directory, not in the local Hugging Face cache, and "
                f"the model hub is not reachable. Download it where you have network (e.g. `huggingface-cli download "
                f"{name_or_path} --local-dir DIR`) and pass model.backbone=DIR, or use the offline model=me5_small.")
        kwargs["local_files_only"] = True
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=kwargs.get("local_files_only", False))
        model = AutoModel.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError) as err:
        local = os.path.isdir(name_or_path)
        hint = ("the directory exists but does not hold a transformers model (config.json, weights, tokenizer files)"
                if local else
                "it is not a local directory and the model hub could not serve it (no network, a typo, or a gated "
                "model). Download it where you have network (e.g. `huggingface-cli download "
                f"{name_or_path} --local-dir DIR`) and pass model.backbone=DIR")
        raise BackboneNotFoundError(f"model.backbone={name_or_path!r}: cannot load: {hint}.\n  cause: {err}") from err
    return model, tokenizer
