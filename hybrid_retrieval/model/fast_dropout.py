"""``model.fast_dropout``: dropout masks from NumPy's generator on CPU, an opt-in speed lever.

PyTorch draws CPU dropout masks element by element (``bernoulli_``, one thread; Intel
CPUs get an MKL path, others do not): 17% of an fp32 training step of me5-small on the
AMD EPYC of perf/RESULTS.md, 25% of a bf16 one.  NumPy's PCG64DXSM fills the same mask
about 8x faster (``perf/RESULTS.md``).  Rates and scaling are unchanged; only the random
stream differs, so a run trains the same model *as another seed would*: not bit-identical
to the default, and each mask's keep probability is ``1 - round(p * 2**16) / 2**16``
(0.9000 for p = 0.1 to 5 decimals).  Seeds come from torch's generator, so seeded runs,
checkpoint resumes and GradCache's replayed passes see the same masks.  Off the CPU, and
in evaluation, the backbone's own code runs.

The attention-probability dropout lives inside the attention function, so an attention
implementation that calls the backbone's SDPA when no dropout applies (evaluation: the
same numbers as the default) and an eager softmax with these masks in training is
registered with transformers under :data:`ATTENTION`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hybrid_retrieval.model.dropout import swap_dropouts

ATTENTION = "hybrid_retrieval_fast_dropout"
_RESOLUTION = 1 << 16  # masks compare uint16 draws against round(p * 2**16)


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """Bool mask, each entry True with probability ~1 - p, drawn from a generator seeded by torch's."""
    seed = int(torch.randint(0, 2**62, (1,)).item())  # torch's RNG: torch.manual_seed / resume / replay govern it
    rng = np.random.Generator(np.random.PCG64DXSM(seed))
    count = int(np.prod(shape, dtype=np.int64))
    draws = np.frombuffer(rng.bytes(2 * count), dtype=np.uint16)
    keep = draws >= np.uint16(round(p * _RESOLUTION))
    return torch.from_numpy(keep).view(*shape).to(device)


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout`` with a NumPy mask on CPU (same rate, same 1/(1-p) scaling); ``F.dropout`` elsewhere."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return nn.functional.dropout(x, p, training=True)
    return torch.where(keep_mask(x.shape, p), x * (1.0 / (1.0 - p)), 0.0)  # where saves only the bool mask


class FastDropout(nn.Dropout):
    """An ``nn.Dropout`` (``p`` stays readable and settable) whose mask comes from :func:`keep_mask`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.p, self.training)


def masked_scores(query: torch.Tensor, key: torch.Tensor, attention_mask: torch.Tensor | None,
                  scaling: float | None) -> torch.Tensor:
    """QK^T * scale plus the SDPA mask (bool, True = attend, or additive float): eager attention's logits."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is None:
        return scores
    if attention_mask.dtype == torch.bool:
        return scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
    return scores + attention_mask.to(scores.dtype)


def fast_dropout_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """SDPA where no dropout applies; in training, softmax(QK^T * scale + mask) with :func:`fast_dropout`, then V."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if dropout == 0.0 or not module.training or query.device.type != "cpu":
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout,
                                      **kwargs)
    scores = masked_scores(query, key, attention_mask, scaling)
    probs = fast_dropout(torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype), dropout)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(ATTENTION, fast_dropout_attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)  # masks built as for SDPA, which evaluation calls


def use_fast_dropout(model: nn.Module) -> int:
    """Swap every ``nn.Dropout`` of ``model`` for :class:`FastDropout` and route attention through
    :func:`fast_dropout_attention`; returns how many dropout modules were swapped."""
    swapped = swap_dropouts(model, lambda m: FastDropout(m.p, m.inplace) if type(m) is nn.Dropout else None)
    config = getattr(model, "config", None)
    if config is not None and getattr(config, "_attn_implementation", None) in ("sdpa", "eager"):
        _register_attention()
        model.set_attn_implementation(ATTENTION)
    return swapped  # transformers does not save the attention name with the weights: exports load anywhere

