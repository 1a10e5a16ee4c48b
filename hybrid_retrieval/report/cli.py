"""Command line: ``hybrid-retrieval-report <multirun dir> [<more dirs>] [--out DIR] ...``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="hybrid-retrieval-report",
        description="Summarise a Hydra multirun: summary.csv (a row per job), summary.md (findings, mean ± std over "
        "seeds, the paper's table, failed jobs, seed-aware tests), findings.md, significance.csv and PNG "
        "plots along every swept axis.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="multirun dir(s); every job dir below them is read")
    parser.add_argument("--out", type=Path, default=None, help="output dir (default: <first dir>/report)")
    parser.add_argument(
        "--heatmap-jobs",
        nargs="+",
        default=None,
        metavar="JOB",
        help="jobs (as named in summary.csv's `job` column) to draw language heatmaps for; "
        "default: every configuration, seeds pooled (at most 6)",
    )
    parser.add_argument(
        "--baseline",
        action="append",
        default=None,
        metavar="KEY=VALUE[,VALUE]",
        help="baseline values of a swept key (repeatable), e.g. --baseline data.cross_ratio=0,1 "
        "--baseline model=me5_small; default: both ends of a numeric axis, else its first value",
    )
    parser.add_argument("--resamples", type=int, default=10_000, help=argparse.SUPPRESS)  # the old randomisation test
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level after Holm (default 0.05)")
    parser.add_argument(
        "--wandb",
        choices=("auto", "on", "off"),
        default="auto",
        help="also log the report to W&B; auto: if the jobs used logger=wandb",
    )
    parser.add_argument(
        "--wandb-mode",
        choices=("online", "offline"),
        default=None,
        help="default: online with an API key, offline without (then: wandb sync)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    from hybrid_retrieval.report.build import build_report

    try:
        from hybrid_retrieval.report.axes import parse_baselines

        report = build_report(
            args.dirs,
            args.out,
            heatmap_jobs=args.heatmap_jobs,
            n_resamples=args.resamples,
            alpha=args.alpha,
            baselines=parse_baselines(args.baseline),
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"hybrid-retrieval-report: error: {err}", file=sys.stderr)
        return 2
    jobs = report.jobs
    print(f"{len(jobs)} jobs ({', '.join(f'{n} {s}' for s, n in jobs['status'].value_counts().items())})")
    for path in report.files:
        print(f"  wrote {path}")
    used_wandb = (jobs["logger"] == "wandb").any()
    if args.wandb == "on" or (args.wandb == "auto" and used_wandb):
        _log_to_wandb(report, args.wandb_mode)
    return 0


def _log_to_wandb(report, mode: str | None) -> None:
    import pandas as pd

    from hybrid_retrieval.job.tracking import log_report

    jobs = report.jobs
    project = next((p for p in jobs["wandb_project"] if isinstance(p, str) and p), "hybrid-retrieval")
    group = next((g for g in jobs["sweep_dir"] if isinstance(g, str) and g), None)
    tables = {
        "summary": jobs.drop(columns=[c for c in jobs.columns if c.startswith("_")]),
        "by_config": report.by_config,
        "significance": report.significance,
        "findings_table": pd.DataFrame({"finding": report.findings}),
    }
    where = log_report(
        tables,
        report.plots,
        project=project,
        group=group[-128:] if group else None,
        out_dir=report.out_dir,
        mode=mode,
        texts={"findings": "\n".join(f"- {f}" for f in report.findings), "summary": report.markdown},
    )
    print(f"  W&B report run: {where}")
