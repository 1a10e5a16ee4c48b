"""The encoding rate this device measured: what the evaluation plan divides its FLOPs by.

Every corpus encoded into a kept store (:mod:`.embedding_cache`) records its rate here, per device
(CPU model or GPU name) and precision, in ``<cache>/eval_rates.json``: FLOP/s on the convention of
:mod:`hybrid_retrieval.bench.flops` (2 per non-embedding parameter per token, plus attention), so a rate
measured with one backbone prices another -- of a similar size: a tiny test model keeps the cores far
from their peak, so a rate counts only when measured with at least :data:`MIN_PARAMS` non-embedding
parameters.  Nothing such measured yet: the matrix-product peak measured now, times :data:`PEAK_SHARE`
(the share the bundled encoder reaches when encoding on CPU, perf/RESULTS.md), stated in the plan as the
estimate it is.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from hybrid_retrieval.files import cache_root, write_atomically

log = logging.getLogger(__name__)
RATES_FILE = "eval_rates.json"
MIN_PARAMS = 10_000_000  # non-embedding parameters of the smallest encoder whose rate prices others
PEAK_SHARE = 0.5  # of the measured matmul peak, until this device has measured an encoding


def device_name(device_type: str) -> str:
    if device_type == "cuda":
        import torch

        return f"cuda:{torch.cuda.get_device_name(0)}"
    from hybrid_retrieval.bench.hardware import cpu_info

    return f"cpu:{cpu_info()['model']}"


def rate_key(device_type: str, precision: str) -> str:
    return f"{device_name(device_type)}|{precision}"


def _path() -> Path:
    return cache_root() / RATES_FILE


def read_rates() -> dict:
    try:
        return json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def record_rate(encoder, passages: int, tokens: int, token_squares: int, seconds: float) -> None:
    """Keep the rate of an encoding long enough to mean something (at least 1,000 passages and 2 s)."""
    if passages < 1000 or seconds < 2 or not hasattr(encoder, "model"):
        return
    try:
        device = next(encoder.model.parameters()).device.type
        from hybrid_retrieval.bench.flops import encoder_shape, encoding_flops

        shape = encoder_shape(encoder.model)
        flops = encoding_flops(**shape, tokens=tokens, token_squares=token_squares)
        rates = read_rates()
        rates[rate_key(device, encoder.precision)] = {
            "flops_per_s": flops / seconds,
            "passages_per_s": passages / seconds,
            "tokens_per_s": tokens / seconds,
            "measured_with": type(encoder.model).__name__ + f" ({shape['params']:,} non-embedding parameters)",
            "params": shape["params"],
            "passages": passages,
            "at": time.strftime("%Y-%m-%d %H:%M"),
        }
        write_atomically(_path(), json.dumps(rates, indent=1, sort_keys=True))
    except Exception as err:  # noqa: BLE001 - a rate not recorded only leaves the next plan on the default
        log.debug("encoding rate not recorded: %s", err)


def rate_for(device_type: str, precision: str) -> tuple[float, str]:
    """FLOP/s for the plan, and where the figure comes from."""
    found = read_rates().get(rate_key(device_type, precision))
    if found and found.get("params", 0) >= MIN_PARAMS:
        return float(
            found["flops_per_s"]
        ), f"measured here {found['at']} ({found['passages_per_s']:.0f} passages/s with {found['measured_with']})"
    import torch

    from hybrid_retrieval.bench.hardware import matmul_peak_gflops

    dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float32
    peak = matmul_peak_gflops(dtype, "cuda" if device_type == "cuda" else "cpu", n=1024) * 1e9
    return PEAK_SHARE * peak, (
        f"estimated: {PEAK_SHARE:.0%} of the {str(dtype).split('.')[-1]} matmul peak measured "
        f"now ({peak:.2e} FLOP/s); no encoding of a model this size measured on this device yet"
    )
