"""Turn a multirun directory into report files: tables (CSV, Markdown), plots and significance tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_retrieval.cache import write_atomically
from hybrid_retrieval.job_status import COMPLETE
from hybrid_retrieval.report import plots
from hybrid_retrieval.report.aggregate import aggregate, benchmarks, headline_metrics, mean_pm_std, pretty_metric
from hybrid_retrieval.report.collect import load_jobs, load_per_query, pair_means
from hybrid_retrieval.report.significance import significance_table

MAX_HEATMAPS = 6
HEATMAP_SETTINGS = ("mono", "cross")


@dataclass
class Report:
    out_dir: Path
    jobs: pd.DataFrame
    by_config: pd.DataFrame
    significance: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    plots: dict[str, Path] = field(default_factory=dict)


def build_report(roots: list[Path], out_dir: Path | None = None, heatmap_jobs: list[str] | None = None,
                 n_resamples: int = 10_000, alpha: float = 0.05) -> Report:
    roots = [Path(r) for r in roots]
    out_dir = Path(out_dir) if out_dir else roots[0] / "report"
    jobs = load_jobs(roots)
    by_config = aggregate(jobs)
    benches = benchmarks(jobs.columns)
    per_query = _PerQueryCache()
    sig = significance_table(jobs, per_query.get, benches, n_resamples=n_resamples, alpha=alpha)
    report = Report(out_dir, jobs, by_config, sig)

    _write_csv(report, "summary.csv", jobs.drop(columns=["_override_map"]))
    _write_csv(report, "summary_by_config.csv", by_config)
    _write_csv(report, "significance.csv", sig)
    for bench in benches:
        metrics = headline_metrics(jobs.columns, bench)
        if not metrics or by_config["n_complete"].sum() == 0:
            continue
        name = f"{bench}_vs_cross_ratio"
        report.plots[name] = plots.plot_overview(by_config, metrics, out_dir / "plots" / f"{name}.png",
                                                 title=f"{bench}: headline metrics against cross_ratio")
        for m in metrics:
            stem = m.replace("/", "_").replace("@", "") + "_vs_cross_ratio"
            report.plots[stem] = plots.plot_metric_vs_ratio(by_config, m, out_dir / "plots" / f"{stem}.png")
        panels = _heatmap_panels(jobs, by_config, bench, per_query, heatmap_jobs)
        if panels:
            name = f"{bench}_language_pairs_map"
            report.plots[name] = plots.plot_language_heatmaps(
                panels, out_dir / "plots" / f"{name}.png",
                title=f"{bench}: mAP per query language x corpus language (mono on the diagonal)")
    report.files.extend(report.plots.values())
    md = summary_markdown(report, roots, alpha)
    write_atomically(out_dir / "summary.md", md)
    report.files.append(out_dir / "summary.md")
    return report


class _PerQueryCache:
    """Per-query files are large; read each (job, benchmark) once."""

    def __init__(self):
        self._frames: dict[tuple[str, str], pd.DataFrame] = {}

    def get(self, job_path: str, benchmark: str) -> pd.DataFrame:
        key = (str(job_path), benchmark)
        if key not in self._frames:
            self._frames[key] = load_per_query(Path(job_path), benchmark)
        return self._frames[key]


def _heatmap_panels(jobs: pd.DataFrame, by_config: pd.DataFrame, bench: str, per_query: _PerQueryCache,
                    chosen: list[str] | None) -> dict[str, pd.DataFrame]:
    """Chosen jobs one by one, or by default each configuration (seeds pooled), at most MAX_HEATMAPS."""
    done = jobs[jobs["status"] == COMPLETE]
    if chosen:
        unknown = [j for j in chosen if j not in set(jobs["job"])]
        if unknown:
            raise ValueError(f"--heatmap-jobs: {unknown} are not jobs of this sweep; jobs: {jobs['job'].tolist()}")
        selection = {f"job {j}: {done.loc[done['job'] == j, 'config'].iloc[0]}": done.loc[done["job"] == j, "path"].tolist()
                     for j in chosen if j in set(done["job"])}
    else:
        configs = by_config.loc[by_config["n_complete"] > 0, "config"].tolist()
        if len(configs) > MAX_HEATMAPS:
            configs = [configs[i] for i in np.linspace(0, len(configs) - 1, MAX_HEATMAPS).round().astype(int)]
        selection = {c: done.loc[done["config"] == c, "path"].tolist() for c in configs}
    panels = {}
    for title, paths in selection.items():
        frames = [f for f in (per_query.get(p, bench) for p in paths) if not f.empty]
        if not frames or "map" not in frames[0]:
            continue
        frame = pd.concat(frames, ignore_index=True)
        cells = pair_means(frame[frame["setting"].isin(HEATMAP_SETTINGS)], "map")
        if cells.empty:
            continue
        matrix = cells.pivot(index="query_lang", columns="corpus_lang", values="value")
        langs = sorted(set(matrix.index) | set(matrix.columns))
        panels[title] = matrix.reindex(index=langs, columns=langs)
    return panels


def _write_csv(report: Report, name: str, frame: pd.DataFrame) -> None:
    path = report.out_dir / name
    write_atomically(path, frame.to_csv(index=False))
    report.files.append(path)


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub Markdown table (pandas.to_markdown would need the optional tabulate package)."""
    clean = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(map(clean, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(clean, r)) + " |" for r in rows]
    return "\n".join(lines)


def summary_markdown(report: Report, roots: list[Path], alpha: float) -> str:
    jobs, agg, sig = report.jobs, report.by_config, report.significance
    counts = jobs["status"].value_counts()
    out = [f"# Sweep report: {', '.join(str(r) for r in roots)}", "",
           f"{len(jobs)} jobs: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".", ""]
    for bench in benchmarks(jobs.columns):
        metrics = headline_metrics(jobs.columns, bench)
        out += [f"## {bench}: mean ± std over seeds", ""]
        header = ["configuration", "cross_ratio", "seeds"] + [pretty_metric(m) for m in metrics]
        rows = [[r["config"], _num(r["cross_ratio"]), f"{r['n_complete']}/{r['n_jobs']}"] +
                [mean_pm_std(r[f"{m}:mean"], r[f"{m}:std"], 1 if m.endswith("rank_distance") else 3)
                 for m in metrics] for _, r in agg.iterrows()]
        out += [markdown_table(header, rows), ""]
    failed = jobs[jobs["status"] != COMPLETE]
    if len(failed):
        out += ["## Jobs that did not complete", ""]
        out += [markdown_table(["job", "status", "overrides", "error"],
                               [[r["job"], r["status"], r["overrides"], r["error"]] for _, r in failed.iterrows()]), ""]
    out += ["## Significance", "",
            "Each cross ratio against the pure-mono (0) and pure-cross (1) baselines of its group. Paired two-sided "
            "randomisation test of the mean difference over questions (score per question and query language, "
            f"averaged over corpus languages and seeds); p-values Holm-corrected over the whole table; * : p_holm < {alpha}.",
            ""]
    if sig.empty:
        out += ["No comparisons: the sweep needs complete jobs at cross_ratio 0 or 1 and at another ratio "
                "in the same group, with per-query files.", ""]
    else:
        header = ["benchmark", "setting", "metric", "group", "ratio", "baseline", "queries", "mean", "baseline mean",
                  "diff", "p", "p (Holm)"]
        rows = [[r["benchmark"], r["setting"], r["metric"], r["group"], _num(r["cross_ratio"]), _num(r["baseline"]),
                 r["n_queries"], f"{r['mean']:.4g}", f"{r['baseline_mean']:.4g}", f"{r['diff']:+.4g}",
                 f"{r['p']:.2g}", f"{r['p_holm']:.2g}{' *' if r['significant'] else ''}"] for _, r in sig.iterrows()]
        if sig["group"].nunique() == 1:  # a single group says nothing: leave its column out
            header.pop(3)
            rows = [r[:3] + r[4:] for r in rows]
        out += [markdown_table(header, rows), ""]
    out += ["## Files", "", "- `summary.csv`: one row per job (overrides, status, error, every metric)",
            "- `summary_by_config.csv`: `<metric>:mean` and `<metric>:std` for every metric, per configuration",
            "- `significance.csv`: the table above, unrounded"]
    out += [f"- `plots/{p.name}`" for p in report.plots.values()]
    overviews = {f"{b}_vs_cross_ratio" for b in benchmarks(jobs.columns)}
    for name, p in report.plots.items():
        if name in overviews or name.endswith("_language_pairs_map"):
            out += ["", f"![{name}](plots/{p.name})"]
    return "\n".join(out) + "\n"


def _num(v) -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{float(v):g}"

