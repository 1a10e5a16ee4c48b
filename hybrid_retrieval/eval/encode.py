"""Encode texts once, fast: length-sorted batches under inference_mode.

Sorting by token length before batching means each batch pads only to its own
longest text, which removes most padding on LAReQA's short sentences.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from hybrid_retrieval.data.collate import pad_ids
from hybrid_retrieval.precision import resolve_precision
from hybrid_retrieval.progress import phase
from hybrid_retrieval.text_spec import TextSpec


class TextEncoder:
    """Wraps a backbone + pooling as ``encode(texts, kind) -> float32 unit vectors``.

    ``pool(hidden, mask)`` is any function of the token states: a pooling, or pooling with the model's
    Dense layers (model/head.py; its ``dim`` attribute then gives the output size).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        pool: Callable,
        spec: TextSpec = TextSpec(),
        batch_size: int = 32,
        precision: str = "32",
        show_progress: bool = True,
    ):
        self.model, self.tokenizer, self.pool = model, tokenizer, pool
        self.spec = spec
        self.batch_size, self.show_progress = batch_size, show_progress
        self.precision = resolve_precision(precision, next(model.parameters()).device.type)
        self.tokens_encoded = 0  # real tokens (prefix and special tokens included) of every text encoded so far
        self.token_squares = 0
        self._fingerprint: str | None = None
        self._tokenizer_id: str | None = None

    def encode(self, texts: Sequence[str], kind: str, desc: str | None = None) -> np.ndarray:
        return self.encode_ids(self.token_ids(texts, kind), kind, desc)

    def encode_ids(self, enc: Sequence[Sequence[int]], kind: str, desc: str | None = None) -> np.ndarray:
        """:meth:`encode` from ids already made by :meth:`token_ids` (kept by a token cache: tokenised once for
        every model that shares the tokenizer, prefix and max length); the same vectors, bit for bit."""
        self.tokens_encoded += sum(len(ids) for ids in enc)
        self.token_squares += sum(len(ids) ** 2 for ids in enc)  # attention's FLOPs grow with length^2
        order = np.argsort([len(ids) for ids in enc], kind="stable")[::-1]
        device = next(self.model.parameters()).device
        out = np.empty((len(enc), self._dim()), dtype=np.float32)
        was_training = self.model.training
        self.model.eval()
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision.startswith("bf16"))
        pad = self.tokenizer.pad_token_id or 0
        # a bar on a terminal (unless show_progress=False); off a terminal "encode ...: k/n texts, ETA" lines
        progress = phase(
            desc or f"encode {kind}s", total=len(enc), unit="texts", bar=None if self.show_progress else False
        )
        with torch.inference_mode(), autocast, progress:
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo : lo + self.batch_size]
                batch = pad_ids([enc[i] for i in idx], pad)
                ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
                hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
                out[idx] = F.normalize(self.pool(hidden, mask).float(), dim=-1).cpu().numpy()
                progress.update(len(idx))
        self.model.train(was_training)
        return out

    def token_ids(self, texts: Sequence[str], kind: str) -> list[list[int]]:
        """The ids :meth:`encode` feeds the model: each text with its kind's prefix, truncated to its max length."""
        return self.spec.token_ids(self.tokenizer, texts, kind)

    def tokenizer_id(self) -> str:
        """:func:`~hybrid_retrieval.data.token_cache.tokenizer_fingerprint` of the tokenizer, computed once (it
        serialises the whole vocabulary: over a second for 250k entries) for every store and token cache."""
        if self._tokenizer_id is None:
            from hybrid_retrieval.data.token_cache import tokenizer_fingerprint

            self._tokenizer_id = tokenizer_fingerprint(self.tokenizer)
        return self._tokenizer_id

    def fingerprint(self) -> str:
        """What decides a passage's vector: weights, model config, tokenizer, pooling, passage prefix, max length,
        precision. Stores of corpus embeddings are keyed by it (:mod:`.embedding_cache`); computed once."""
        if self._fingerprint is None:
            import json

            h = hashlib.sha256()
            config = {
                k: v
                for k, v in self.model.config.to_dict().items()
                if k not in ("_name_or_path", "transformers_version", "architectures", "torch_dtype", "dtype")
            }
            pool = getattr(self.pool, "__qualname__", None) or repr(self.pool)
            for part in (
                type(self.model).__name__,
                json.dumps(config, sort_keys=True, default=str),
                self.tokenizer_id(),
                f"{getattr(self.pool, '__module__', '')}.{pool}",
                self.spec.prefix("passage"),
                str(self.spec.max_length("passage")),
                self.precision,
            ):
                h.update(part.encode("utf-8") + b"\0")
            for name, tensor in self.model.state_dict().items():
                t = tensor.detach().to("cpu").contiguous()
                h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
                h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def _dim(self) -> int:
        return int(getattr(self.pool, "dim", None) or self.model.config.hidden_size)
