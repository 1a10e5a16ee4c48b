"""How much bf16 evaluation moves the numbers: one encoder evaluated in fp32 and in bf16, query by query.

Run the same evaluation twice (only the precision differs), then compare the two job dirs:

    python run.py experiment=zeroshot model.backbone=ENCODER_DIR eval=xquad_r_tydi \\
        trainer.precision=32-true hydra.run.dir=OUT/fp32
    python run.py experiment=zeroshot model.backbone=ENCODER_DIR eval=xquad_r_tydi \\
        trainer.precision=bf16-mixed hydra.run.dir=OUT/bf16
    python perf/precision_noise.py OUT/fp32 OUT/bf16 [--metrics map ndcg@10]

For each benchmark and setting (and a benchmark's low-resource group) it prints
the mean metric in both precisions, their difference, the largest per-query
change and the share of queries whose score changed at all.  Differences below
these figures are precision noise, not an effect of a training recipe.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from _common import cpu_line  # noqa: E402

from hybrid_retrieval.eval.per_query import COLUMNS, load_per_query  # noqa: E402


def low_resource_groups(job_dir: Path) -> dict[str, list[str]]:
    """``eval.benchmarks.<name>.low_resource`` of the job's composed config (empty where none)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(job_dir / ".hydra" / "config.yaml")
    return {name: list(node.get("low_resource") or []) for name, node in cfg.eval.benchmarks.items()}


def compare(a: pd.DataFrame, b: pd.DataFrame, metrics: list[str], groups: dict[str, list[str]]) -> pd.DataFrame:
    """One row per (benchmark, setting[, low-resource group], metric): means in a and b, b - a, per-query changes."""
    paired = a.merge(b, on=list(COLUMNS), suffixes=("_a", "_b"), validate="one_to_one")
    if len(paired) != len(a) or len(paired) != len(b):
        raise SystemExit(f"the two jobs evaluated different queries ({len(a)} vs {len(b)}, {len(paired)} shared): "
                         "compare runs of the same evaluation")
    rows = []
    for (benchmark, setting), frame in paired.groupby(["benchmark", "setting"], sort=True):
        subsets = [("all", frame)]
        low = groups.get(benchmark) or []
        if low:
            subsets.append(("low-resource " + ",".join(low), frame[frame.query_lang.isin(low)]))
        for subset, part in subsets:
            for metric in metrics:
                if f"{metric}_a" not in part:
                    continue
                delta = part[f"{metric}_b"] - part[f"{metric}_a"]
                rows.append({"benchmark": benchmark, "setting": setting, "queries": subset, "metric": metric,
                             "n": len(part), "a": part[f"{metric}_a"].mean(), "b": part[f"{metric}_b"].mean(),
                             "b_minus_a": delta.mean(), "max_abs_per_query": delta.abs().max(),
                             "share_changed": float((delta.abs() > 1e-12).mean())})
    return pd.DataFrame(rows)


def describe(job_dir: Path) -> str:
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(job_dir / ".hydra" / "config.yaml")
    return f"{job_dir} (trainer.precision={cfg.trainer.precision}, model.backbone={cfg.model.backbone})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fp32_dir", type=Path)
    parser.add_argument("bf16_dir", type=Path)
    parser.add_argument("--metrics", nargs="+", default=["map", "ndcg@10"])
    parser.add_argument("--json", type=Path, help="also write the table here")
    args = parser.parse_args()
    a, b = load_per_query(args.fp32_dir), load_per_query(args.bf16_dir)
    if a.empty or b.empty:
        raise SystemExit("no per_query_*.csv.gz in one of the dirs: give two finished job dirs")
    table = compare(a, b, args.metrics, low_resource_groups(args.fp32_dir))
    print(cpu_line())
    print("a:", describe(args.fp32_dir))
    print("b:", describe(args.bf16_dir))
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    worst = table.loc[table.b_minus_a.abs().idxmax()]
    print(f"largest change of a mean: {worst.b_minus_a:+.4f} ({worst.benchmark} {worst.setting} {worst.queries} "
          f"{worst.metric})")
    if args.json:
        args.json.write_text(json.dumps(table.to_dict(orient="records"), indent=1))


if __name__ == "__main__":
    main()
