"""What follows the transformer: pooling, then the model's Dense layers (trained with the backbone).

The same modules sentence-transformers runs after its Transformer module (Pooling, Dense with its
activation); the unit-length normalisation is the dual encoder's own (cosine similarity). Dense
weights keep sentence-transformers' names (``linear.weight``, ``linear.bias``), so the export
(model/export.py) writes them back as its Dense modules.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import torch
from torch import nn

from hybrid_retrieval.model.pooling import get_pooler


def activation_module(dotted: str) -> nn.Module:
    """``torch.nn.modules.activation.Tanh`` -> ``nn.Tanh()`` (torch.nn classes only)."""
    module, _, name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module), name) if dotted.startswith("torch.") else None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"Dense activation {dotted!r}: not a torch.nn module class")
    return cls()


def activation_name(activation: nn.Module) -> str:
    cls = type(activation)
    return f"{cls.__module__}.{cls.__qualname__}"


class Dense(nn.Module):
    """sentence-transformers' Dense: ``activation(linear(x))``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "torch.nn.modules.activation.Tanh",
    ):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.activation = activation_module(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))


def _load_weights(path: str) -> dict[str, torch.Tensor]:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


class EmbeddingHead(nn.Module):
    """Pooling then Dense layers: token states (batch, tokens, hidden) -> text vectors (batch, dim)."""

    def __init__(self, pooling: str, hidden_size: int, dense: Sequence[Dense] = ()):
        super().__init__()
        self.pooling = pooling
        self.pool = get_pooler(pooling)
        self.dense = nn.ModuleList(dense)
        self.dim = int(dense[-1].linear.out_features) if len(dense) else int(hidden_size)

    @classmethod
    def from_layers(cls, pooling: str, hidden_size: int, layers: Sequence = ()) -> EmbeddingHead:
        """From the model's Dense layers as read from its files (backbones/st_modules.DenseLayer), weights loaded."""
        dense = []
        for layer in layers:
            module = Dense(layer.in_features, layer.out_features, layer.bias, layer.activation)
            module.load_state_dict(_load_weights(layer.weights))
            dense.append(module)
        return cls(pooling, hidden_size, dense)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.pool(hidden, mask)
        for layer in self.dense:
            x = layer(x)
        return x

    def describe(self) -> list[str]:
        return [
            f"Dense({d.linear.in_features}->{d.linear.out_features}, {type(d.activation).__name__})" for d in self.dense
        ]
