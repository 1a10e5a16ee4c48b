"""What a sentence-transformers model says about itself, read from its own files (hub id or directory).

A model published for sentence-transformers lists its modules in ``modules.json``: the Transformer
(``sentence_bert_config.json``: ``max_seq_length``), Pooling (its mode, whether the prompt is pooled),
Dense layers (sizes, bias, activation, weights), Normalize; ``config_sentence_transformers.json``
holds its prompts. :func:`read_modules` reads them into plain data (no torch): the dual encoder
(model/head.py) rebuilds the same computation, so an untrained job encodes as
``SentenceTransformer.encode`` does. A model without ``modules.json`` is a plain transformers model
and returns None: sentence-transformers would load it with mean pooling and no prompts.

Hub files come through ``huggingface_hub`` (cached, or ``local_files_only`` when the hub is not
reachable), so a hub id works online and from the local cache; a directory is read as it is.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybrid_retrieval.backbones.errors import BackboneNotFoundError

POOLING_MODES = ("cls", "mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
_LEGACY_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
# the passage side's prompt: the first of these the model names, as SentenceTransformer.encode_document takes it
PASSAGE_PROMPT_NAMES = ("document", "passage", "corpus")
OWN_RECORD = "hybrid_retrieval.json"  # what our export adds: the query and passage lengths of the job


@dataclass(frozen=True)
class DenseLayer:
    """One ``Dense`` module: ``activation(linear(x))``; ``weights`` is its weights file (safetensors or .bin)."""

    in_features: int
    out_features: int
    bias: bool
    activation: str  # dotted torch.nn class, e.g. torch.nn.modules.activation.Tanh
    weights: str


@dataclass(frozen=True)
class STModules:
    """The modules of a sentence-transformers model, as data."""

    transformer_path: str = ""  # subfolder of the Transformer module ("" = the model root)
    pooling: str = "mean"
    include_prompt: bool = True
    dense: tuple[DenseLayer, ...] = ()
    normalize: bool = False
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    max_seq_length: int | None = None
    lengths: dict[str, int] = field(default_factory=dict)  # query / passage lengths our own export recorded

    def prompt(self, kind: str) -> str | None:
        """The prompt ``SentenceTransformer.encode`` puts before a query or passage (None: the model names none)."""
        names = ("query",) if kind == "query" else PASSAGE_PROMPT_NAMES
        for name in names:
            if name in self.prompts:
                return self.prompts[name]
        if self.default_prompt_name:
            return self.prompts.get(self.default_prompt_name)
        return None

    def modules(self) -> list[str]:
        """The module list in words, e.g. ``["Transformer", "Pooling(cls)", "Dense(768->768, Tanh)", "Normalize"]``."""
        return [
            "Transformer",
            f"Pooling({self.pooling})",
            *(f"Dense({d.in_features}->{d.out_features}, {d.activation.rsplit('.', 1)[-1]})" for d in self.dense),
            *(["Normalize"] if self.normalize else []),
        ]


class ModelFiles:
    """Files of a model directory or hub repository; ``get(name)`` is a local path or None when absent."""

    def __init__(self, name_or_path: str, local_files_only: bool = False):
        self.source, self.local_files_only = str(name_or_path), local_files_only
        self.is_dir = os.path.isdir(self.source)

    def get(self, filename: str) -> str | None:
        if self.is_dir:
            path = Path(self.source) / filename
            return str(path) if path.is_file() else None
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RemoteEntryNotFoundError

        try:
            return hf_hub_download(self.source, filename, local_files_only=self.local_files_only)
        except (EntryNotFoundError, RemoteEntryNotFoundError):
            return None
        except LocalEntryNotFoundError:  # offline and this file was never cached: the repo may still not have it
            return None
        except Exception as err:  # a gated or missing repository, a network error: say which model and why
            raise BackboneNotFoundError(
                f"model.backbone={self.source!r}: cannot read {filename} from the model hub "
                f"({type(err).__name__}: {err}); download the model where you have network "
                f"(`huggingface-cli download {self.source} --local-dir DIR`) and pass "
                "model.backbone=DIR"
            ) from err

    def json(self, filename: str) -> Any:
        path = self.get(filename)
        if path is None:
            return None
        try:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except ValueError as err:
            raise BackboneNotFoundError(f"model.backbone={self.source!r}: {filename} is not valid JSON: {err}") from err

    def revision(self) -> str | None:
        """A hub model's commit hash (from the cached snapshot path); None for a directory."""
        if self.is_dir:
            return None
        path = self.get("config.json") or self.get("modules.json")
        found = re.search(r"snapshots[/\\]([0-9a-f]{40})", path or "")
        return found.group(1) if found else None


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def _pooling_mode(config: dict, where: str) -> str:
    mode = config.get("pooling_mode")
    if mode is None:
        modes = [m for flag, m in _LEGACY_FLAGS.items() if config.get(flag)]
        mode = modes if len(modes) != 1 else modes[0]
        mode = mode or "mean"
    if isinstance(mode, (list, tuple)):
        if len(mode) != 1:
            raise BackboneNotFoundError(
                f"{where}: pooling modes {list(mode)} concatenated; one mode is supported ({', '.join(POOLING_MODES)})"
            )
        mode = mode[0]
    if mode not in POOLING_MODES:
        raise BackboneNotFoundError(f"{where}: unknown pooling mode {mode!r}; known: {', '.join(POOLING_MODES)}")
    return mode


def read_modules(name_or_path: str, local_files_only: bool = False) -> STModules | None:
    """The model's sentence-transformers modules, or None when it has no ``modules.json`` (a plain model)."""
    files = ModelFiles(name_or_path, local_files_only)
    listed = files.json("modules.json")
    if listed is None:
        return None
    where = f"model.backbone={name_or_path!r}"
    found: dict[str, Any] = {"dense": []}
    for module in sorted(listed, key=lambda m: int(m.get("idx", 0))):
        kind, path = str(module.get("type", "")).rsplit(".", 1)[-1], str(module.get("path", ""))
        if kind == "Transformer":
            found["transformer_path"] = path
            sbert = files.json(_join(path, "sentence_bert_config.json")) or {}
            if sbert.get("max_seq_length"):
                found["max_seq_length"] = int(sbert["max_seq_length"])
        elif kind == "Pooling":
            config = files.json(_join(path, "config.json")) or {}
            found["pooling"] = _pooling_mode(config, f"{where} ({_join(path, 'config.json')})")
            found["include_prompt"] = bool(config.get("include_prompt", True))
        elif kind == "Dense":
            found["dense"].append(_dense(files, path, where))
        elif kind == "Normalize":
            found["normalize"] = True
        elif kind == "Dropout":
            continue  # identity when encoding
        else:
            raise BackboneNotFoundError(
                f"{where}: module {module.get('type')!r} ({path}) is not supported; "
                "supported: Transformer, Pooling, Dense, Normalize"
            )
    settings = files.json("config_sentence_transformers.json") or {}
    found["prompts"] = {str(k): str(v) for k, v in (settings.get("prompts") or {}).items()}
    found["default_prompt_name"] = settings.get("default_prompt_name")
    own = files.json(OWN_RECORD) or {}
    found["lengths"] = {
        kind: int(own[f"max_{kind}_length"]) for kind in ("query", "passage") if own.get(f"max_{kind}_length")
    }
    found["dense"] = tuple(found["dense"])
    return STModules(**found)


def _dense(files: ModelFiles, path: str, where: str) -> DenseLayer:
    config = files.json(_join(path, "config.json"))
    if config is None:
        raise BackboneNotFoundError(f"{where}: Dense module {path!r} has no config.json")
    weights = files.get(_join(path, "model.safetensors")) or files.get(_join(path, "pytorch_model.bin"))
    if weights is None:
        raise BackboneNotFoundError(f"{where}: Dense module {path!r} has no model.safetensors or pytorch_model.bin")
    activation = str(config.get("activation_function") or "torch.nn.modules.activation.Tanh")
    if not activation.startswith("torch."):
        raise BackboneNotFoundError(
            f"{where}: Dense activation {activation!r} is not a torch.nn module; "
            "only torch activations are loaded (as sentence-transformers does by default)"
        )
    return DenseLayer(
        int(config["in_features"]), int(config["out_features"]), bool(config.get("bias", True)), activation, weights
    )
