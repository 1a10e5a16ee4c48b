"""How fast a job could be on this machine: its arithmetic at the measured matrix-product peak.

Counts the tokens a job computes on (the training batches of its config, each
text at its real length; every evaluation text with its prefix, truncated as the
evaluation encodes it), turns them into FLOPs (2 per non-embedding parameter per
token forward, 6 with backward, plus attention's 4 x length^2 x width per layer
forward) and divides by the matrix-product peak measured now (the best of five), at
the thread count of this process.  That is the time no implementation of the same computation
beats here; given a finished job's metrics.json it also prints what share of
that floor each phase reached, and given the job time of an earlier commit the
largest speed-up the same computation allows.  Why: an optimisation target is
only worth chasing when the floor leaves room for it.

    OMP_NUM_THREADS=1 python perf/job_floor.py [--metrics DIR/metrics.json] [--before-s 1601.7] [overrides ...]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from hybrid_retrieval.bench.flops import encoder_shape
from hybrid_retrieval.bench.hardware import cpu_line, matmul_peak_gflops
from hybrid_retrieval.precision import resolve_precision

ROOT = Path(__file__).resolve().parents[1]


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import hybrid_retrieval.config.resolvers  # noqa: F401  (${hr.*} interpolations)

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", type=Path, help="a finished job's metrics.json: achieved share of the floor")
    parser.add_argument("--before-s", type=float, help="an earlier commit's job seconds (same machine, same threads)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the job (default: the default job)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from hybrid_retrieval.job.cost import job_costs
    from hybrid_retrieval.job.train import build

    cfg = compose(args.overrides)
    model = build(cfg.model)
    backbone = model.encoder
    try:
        costs, pairs = job_costs(cfg, model)
    except ValueError as err:  # no training batches, or a corpus this count cannot hold
        raise SystemExit(str(err)) from err
    phases = {phase: cost.flops for phase, cost in costs.items()}
    tokens = {phase: cost.tokens for phase, cost in costs.items()}
    shape = encoder_shape(backbone)
    params, layers, width = shape["params"], shape["layers"], shape["width"]

    train_precision = resolve_precision(str(cfg.trainer.precision), "cpu")
    eval_precision = {
        name: resolve_precision(str(node.precision), "cpu")
        for name, node in cfg.eval.benchmarks.items()
        if node is not None
    }
    # the best of several: a shared machine's rate swings within a minute, and a floor must not be too high
    peaks = {
        p: max(matmul_peak_gflops(torch.bfloat16 if p.startswith("bf16") else torch.float32) for _ in range(5))
        for p in {train_precision, *eval_precision.values()}
    }
    precision_of = {"train": train_precision, **{f"eval_{n}": p for n, p in eval_precision.items()}}
    measured = json.loads(args.metrics.read_text()) if args.metrics else {}
    measured_key = {"train": "time/train_s", **{f"eval_{n}": f"time/{n}_encode_s" for n in eval_precision}}

    print(cpu_line())
    print(
        f"machine: torch {torch.__version__}, {torch.get_num_threads()} threads; "
        + ", ".join(f"{p} matmul peak {g:.0f} GFLOP/s (best of 5, measured now)" for p, g in sorted(peaks.items()))
    )
    print(
        f"job: {cfg.model.get('name') or cfg.model._target_}, {params / 1e6:.1f}M non-embedding parameters, "
        f"{layers} layers x {width}; {pairs} training pairs; overrides: {' '.join(args.overrides) or '(none)'}"
    )
    floor_total = 0.0
    for phase, flops in phases.items():
        floor_s = flops / (peaks[precision_of[phase]] * 1e9)
        floor_total += floor_s
        line = (
            f"{phase}: {tokens[phase]:,} real tokens, {flops / 1e12:.1f} TFLOP ({precision_of[phase]}): "
            f"floor {floor_s:.0f} s at the peak"
        )
        got = measured.get(measured_key[phase])
        if got:
            line += f"; the job took {got:.0f} s: {floor_s / got:.0%} of the peak"
        print(line)
    print(f"floor of the job's encoder arithmetic: {floor_total:.0f} s")
    if measured:
        other = measured.get("time/load_s", 0) + sum(
            measured.get(f"time/eval_{n}_s", 0) - measured.get(f"time/{n}_encode_s", 0) for n in eval_precision
        )
        print(f"the job's other work (loading; evaluation other than encoding): {other:.0f} s")
        floor_total += other
    if args.before_s:
        print(
            f"largest speed-up of the same computation over {args.before_s:.0f} s: "
            f"{args.before_s / floor_total:.2f}x (every phase at the peak"
            f"{', the other work as measured' if measured else ''})"
        )


if __name__ == "__main__":
    main()
