"""Load a transformer backbone and its tokenizer from a hub id or a local directory."""
from __future__ import annotations

import os
from typing import Any


class BackboneNotFoundError(OSError):
    """The backbone could not be loaded; the message names it and the local-path alternative."""


def load_backbone(name_or_path: str, **kwargs: Any):
    """Return (model, tokenizer); a hub id that cannot be reached fails fast with a clear message."""
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
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
