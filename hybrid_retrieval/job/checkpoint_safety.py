"""Checkpoints that are data, not code.

A ``last.ckpt`` found in an output dir is loaded when a job resumes; if it could hold
pickled objects, whoever wrote it could run code in the job. So everything a job
stores is reduced to plain containers, tensors and numbers before it is written
(:func:`plain_data`), and a checkpoint is only ever loaded with
``torch.load(weights_only=True)`` (:func:`load_plain`), which refuses anything else.
"""

from __future__ import annotations

import enum
import pickle
from pathlib import PurePath
from typing import Any

import numpy as np
import torch

_SCALARS = (str, int, float, bool, type(None), bytes, torch.dtype, torch.device)


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds something other than plain data: it is refused, never executed."""


def plain_data(obj: Any, where: str = "checkpoint") -> Any:
    """``obj`` as dicts, lists, tuples, tensors and numbers only, so that it loads with ``weights_only=True``.

    Config objects (OmegaConf, Lightning's AttributeDict, defaultdict) become plain containers,
    numpy values become tensors or numbers, paths become strings; anything else is a bug in
    whoever put it into the checkpoint, and fails here, at save time, naming where it sits.
    """
    if isinstance(obj, _SCALARS) or isinstance(obj, torch.Tensor) or isinstance(obj, torch.Size):
        return obj
    if isinstance(obj, enum.Enum):
        return plain_data(obj.value, where)
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    if type(obj).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        return plain_data(OmegaConf.to_container(obj, resolve=True), where)
    if isinstance(obj, dict):
        return {plain_data(k, where): plain_data(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(plain_data(v, f"{where}[{i}]") for i, v in enumerate(obj))
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [plain_data(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(
        f"{where}: {type(obj).__module__}.{type(obj).__qualname__} is not plain data; "
        f"checkpoints hold only containers, tensors and numbers (load with weights_only=True)"
    )


def load_plain(path: Any, map_location: Any = None) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``; a file that holds pickled objects is refused with a clear error."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()
        detail = next(
            (line.strip() for line in first if "GLOBAL" in line or "Unsupported" in line), first[0] if first else ""
        )
        raise UnsafeCheckpointError(
            f"refusing to load {path}: it is not plain data ({detail}); loading it could run code from whoever "
            f"wrote it. This framework's own checkpoints are plain data: delete the file, or start over in this "
            f"dir with checkpoint.resume=false"
        ) from None
