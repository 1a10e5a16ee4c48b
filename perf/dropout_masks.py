"""Dropout mask draws on CPU: torch's ``bernoulli_`` against the same masks from ``model/torch_masks.py``.

A training step of the default job draws, per forward pass, one attention-probability mask
(rows x heads x length x length) and three hidden-state masks (rows x length x hidden) per
layer, at the padded batch's shape.  This times each way of drawing them, in one run:

- ``F.dropout`` (what the padded step does: ``bernoulli_`` into a float noise tensor),
- ``torch_masks.keep_mask_like_torch`` (the default unpadded step: the same masks bit for bit),
- ``fast_dropout.keep_mask`` (``model.fast_dropout``: another random stream, for reference),

and checks that the first two are equal.

    python perf/dropout_masks.py [--rows 32] [--length 128] [--heads 12] [--hidden 384] [--repeats 7]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import cpu_line, machine  # noqa: E402
from hybrid_retrieval.model import torch_masks  # noqa: E402
from hybrid_retrieval.model.fast_dropout import keep_mask  # noqa: E402


def _median_ms(draw, shape, p: float, repeats: int) -> float:
    draw(shape, p)  # warm: numba's compiled loop loads from its cache on first use
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        draw(shape, p)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--p", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(cpu_line())
    print(f"machine: {machine()}; torch_masks fast path active: {torch_masks.available()}")
    contenders = {
        "F.dropout (bernoulli_)": lambda shape, p: torch.nn.functional.dropout(torch.ones(shape), p, training=True) != 0,
        "torch_masks (same masks)": torch_masks.keep_mask_like_torch,
        "fast_dropout.keep_mask (other stream)": keep_mask,
    }
    shapes = {"attention": (args.rows, args.heads, args.length, args.length),
              "hidden": (args.rows, args.length, args.hidden)}
    for kind, shape in shapes.items():
        torch.manual_seed(0)
        ours = torch_masks.keep_mask_like_torch(shape, args.p)
        torch.manual_seed(0)
        same = torch.equal(ours, contenders["F.dropout (bernoulli_)"](shape, args.p))
        ms = {name: _median_ms(draw, shape, args.p, args.repeats) for name, draw in contenders.items()}
        base = ms["F.dropout (bernoulli_)"]
        cells = ", ".join(f"{name} {t:.1f} ms ({base / t:.2f}x)" for name, t in ms.items())
        print(f"{kind} {shape} = {ours.numel() / 1e6:.2f}M elements, p={args.p}: {cells}; "
              f"torch_masks equal to bernoulli_: {same}")


if __name__ == "__main__":
    main()
