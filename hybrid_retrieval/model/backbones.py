"""Load a transformer backbone and its tokenizer from a hub id, a local directory or a ``local:<name>`` build."""
from __future__ import annotations

import os
import socket
from urllib.parse import urlparse
from typing import Any


LOCAL = "local:"  # model.backbone=local:<name>: a backbone we build (config/resolvers.py), made on first load


class BackboneNotFoundError(OSError):
    """The backbone could not be loaded; the message names it and the local-path alternative."""


def hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connect to the hub endpoint: seconds, where the hub client's retries take about a minute."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _cached_locally(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # an id that is not a valid repo name
        return False


def _tiny_bert() -> str:
    from hybrid_retrieval.model.tiny import build_tiny_bert
    return build_tiny_bert()


def _me5_small():
    from hybrid_retrieval.model.me5_bundled import ensure_me5_small
    return ensure_me5_small()


LOCAL_BUILDS = {"tiny_bert": _tiny_bert, "me5_small": _me5_small}


def materialise(name_or_path: str) -> str:
    """The directory of a ``local:<name>`` backbone, built into the cache once; anything else as it is."""
    name_or_path = str(name_or_path)
    if not name_or_path.startswith(LOCAL):
        return name_or_path
    build = LOCAL_BUILDS.get(name_or_path[len(LOCAL):])
    if build is not None:
        return str(build())
    raise BackboneNotFoundError(f"model.backbone={name_or_path!r}: unknown local backbone; "
                                f"valid: {', '.join(LOCAL + n for n in LOCAL_BUILDS)}, a hub id or a directory")


def load_backbone(name_or_path: str, **kwargs: Any):
    """Return (model, tokenizer); a hub id that cannot be reached fails fast with a clear message."""
    from transformers import AutoModel, AutoTokenizer

    name_or_path = materialise(name_or_path)

    if not os.path.isdir(name_or_path) and not hub_reachable():
        if not _cached_locally(name_or_path):
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
