"""Load a transformer backbone and its tokenizer from a hub id, a local directory or a ``local:<name>`` build.

:func:`load_published` also reads what a sentence-transformers model says about itself (st_modules.py)
and starts the job's backbone card (card.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hybrid_retrieval.backbones.card import content_hash
from hybrid_retrieval.backbones.errors import BackboneNotFoundError
from hybrid_retrieval.backbones.hub import cached_locally, hub_reachable
from hybrid_retrieval.backbones.registry import local_backbone, materialise
from hybrid_retrieval.backbones.st_modules import ModelFiles, STModules, read_modules


@dataclass
class Published:
    """A backbone as its authors publish it: the transformer, its tokenizer, its sentence-transformers modules
    (None for a plain transformers model) and the card's facts about where it came from."""

    model: Any
    tokenizer: Any
    modules: STModules | None
    card: dict[str, Any]

    def max_length(self) -> int:
        """What sentence-transformers truncates to: ``max_seq_length``, else min(tokenizer, position embeddings)."""
        if self.modules is not None and self.modules.max_seq_length:
            return int(self.modules.max_seq_length)
        limits = [
            getattr(self.tokenizer, "model_max_length", None),
            getattr(self.model.config, "max_position_embeddings", None),
        ]
        limits = [int(n) for n in limits if isinstance(n, int) and 0 < n < 1_000_000]
        return min(limits) if limits else 512

    def text_format(
        self,
        pooling: str | None = None,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        max_query_length: int | None = None,
        max_passage_length: int | None = None,
    ) -> dict[str, Any]:
        """Pooling, prefixes and lengths: a value given (non-null in the model config) wins; null takes what
        the model says (its Pooling, prompts, max_seq_length); a plain transformers model says nothing, so null
        means what sentence-transformers would do with it (mean pooling, no prompt, its maximum length)."""
        st = self.modules or STModules()
        lengths = st.lengths if self.modules is not None else {}
        found = {
            "pooling": pooling if pooling is not None else st.pooling,
            "query_prefix": query_prefix if query_prefix is not None else (st.prompt("query") or ""),
            "passage_prefix": passage_prefix if passage_prefix is not None else (st.prompt("passage") or ""),
            "max_query_length": int(max_query_length or lengths.get("query") or self.max_length()),
            "max_passage_length": int(max_passage_length or lengths.get("passage") or self.max_length()),
        }
        if not st.include_prompt and (found["query_prefix"] or found["passage_prefix"]):
            raise BackboneNotFoundError(
                f"model.backbone={self.card['id']!r}: its Pooling excludes the prompt (include_prompt=false), which "
                "this project does not reproduce; set model.query_prefix='' and model.passage_prefix='' to run it "
                "without prompts"
            )
        return found


def load_published(backbone: str) -> Published:
    """The model, tokenizer, modules and provenance of ``model.backbone`` (hub id, directory or local build)."""
    backbone = str(backbone)
    local = local_backbone(backbone)
    path = materialise(backbone)
    offline = not os.path.isdir(path) and not hub_reachable()
    modules = read_modules(path, local_files_only=offline)
    subfolder = {"subfolder": modules.transformer_path} if modules and modules.transformer_path else {}
    model, tokenizer = load_backbone(path, **subfolder)
    card: dict[str, Any] = {
        "id": backbone,
        "source": "local build" if local else ("directory" if os.path.isdir(path) else "hub"),
        "path": path,
        "revision": content_hash(path) if os.path.isdir(path) else ModelFiles(path, offline).revision(),
        "published_as": "sentence-transformers" if modules is not None else "transformers",
        "weight_precision": local.precision if local else _dtype(next(model.parameters()).dtype),
        "stored_dtype": _dtype(getattr(model.config, "dtype", None) or getattr(model.config, "torch_dtype", None)),
    }
    return Published(model, tokenizer, modules, card)


def _dtype(dtype: Any) -> str | None:
    return None if dtype is None else str(dtype).removeprefix("torch.")


def load_backbone(name_or_path: str, **kwargs: Any):
    """Return (model, tokenizer); a hub id that cannot be reached fails fast with a clear message."""
    from transformers import AutoModel, AutoTokenizer

    name_or_path = materialise(name_or_path)

    if not os.path.isdir(name_or_path) and not hub_reachable():
        if not cached_locally(name_or_path):
            raise BackboneNotFoundError(
                f"model.backbone={name_or_path!r}: not a local directory, not in the local Hugging Face cache, and "
                f"the model hub is not reachable. Download it where you have network (e.g. `huggingface-cli download "
                f"{name_or_path} --local-dir DIR`) and pass model.backbone=DIR, or use the offline model=me5_small_q4."
            )
        kwargs["local_files_only"] = True
    try:
        where = {"subfolder": kwargs["subfolder"]} if "subfolder" in kwargs else {}
        tokenizer = AutoTokenizer.from_pretrained(
            name_or_path, local_files_only=kwargs.get("local_files_only", False), **where
        )
        model = AutoModel.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError) as err:
        local = os.path.isdir(name_or_path)
        hint = (
            "the directory exists but does not hold a transformers model (config.json, weights, tokenizer files)"
            if local
            else "it is not a local directory and the model hub could not serve it (no network, a typo, or a gated "
            "model). Download it where you have network (e.g. `huggingface-cli download "
            f"{name_or_path} --local-dir DIR`) and pass model.backbone=DIR"
        )
        raise BackboneNotFoundError(f"model.backbone={name_or_path!r}: cannot load: {hint}.\n  cause: {err}") from err
    return model, tokenizer
