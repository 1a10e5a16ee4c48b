"""Turn a multirun directory into report files: tables (CSV, Markdown), plots, seed-aware tests and findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_retrieval.eval.per_query import load_per_query, pair_means
from hybrid_retrieval.files import write_atomically
from hybrid_retrieval.job.job_status import COMPLETE
from hybrid_retrieval.report import plots
from hybrid_retrieval.report.aggregate import aggregate, mean_pm_std
from hybrid_retrieval.report.axes import find_axes
from hybrid_retrieval.report.collect import load_jobs
from hybrid_retrieval.report.comparisons import comparison_table
from hybrid_retrieval.report.findings import findings, seed_sentence
from hybrid_retrieval.report.headline import benchmark_specs, pretty_metric
from hybrid_retrieval.report.paper import PAPER_COLUMNS, paper_table

MAX_HEATMAPS = 6
HEATMAP_SETTINGS = ("mono", "cross")


@dataclass
class Report:
    out_dir: Path
    jobs: pd.DataFrame
    by_config: pd.DataFrame
    significance: pd.DataFrame
    axes: list = field(default_factory=list)
    specs: dict = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    plots: dict[str, Path] = field(default_factory=dict)
    markdown: str = ""


def build_report(
    roots: list[Path],
    out_dir: Path | None = None,
    heatmap_jobs: list[str] | None = None,
    n_resamples: int = 10_000,
    alpha: float = 0.05,
    baselines: dict[str, list[str]] | None = None,
) -> Report:
    """Read the jobs, find the axes and headline metrics, compare, plot, and write every file.

    ``n_resamples`` is kept for callers of the old randomisation test; the t-tests need none.
    """
    roots = [Path(r) for r in roots]
    out_dir = Path(out_dir) if out_dir else roots[0] / "report"
    jobs = load_jobs(roots)
    axes = find_axes(jobs, baselines)
    specs = benchmark_specs(jobs)
    by_config = aggregate(jobs, axes)
    per_query = _PerQueryCache()
    sig = comparison_table(jobs, axes, specs, per_query.get, alpha=alpha)
    report = Report(out_dir, jobs, by_config, sig, axes, specs)
    report.findings = findings(sig, by_config, axes, specs, alpha)

    _write_csv(report, "summary.csv", _public(jobs))
    _write_csv(report, "summary_by_config.csv", by_config)
    _write_csv(report, "significance.csv", sig)
    have_jobs = by_config["n_complete"].sum() > 0
    for spec in specs.values():
        metrics = [spec.key(e) for e in spec.headline + spec.extra if spec.key(e) in jobs.columns]
        lower = {spec.key(e): spec.lower(e) for e in spec.headline + spec.extra}
        if not metrics or not have_jobs:
            continue
        for axis in axes:
            slug = axis.key.replace("/", "_").replace(".", "_")
            name = f"{spec.name}_vs_{slug}"
            report.plots[name] = plots.plot_overview(
                by_config,
                metrics,
                axis,
                out_dir / "plots" / f"{name}.png",
                title=f"{spec.name}: headline metrics against {axis.key}",
                lower=lower,
            )
            for m in metrics:
                stem = m.replace("/", "_").replace("@", "") + f"_vs_{slug}"
                report.plots[stem] = plots.plot_metric(by_config, m, axis, out_dir / "plots" / f"{stem}.png", lower[m])
        panels = _heatmap_panels(jobs, by_config, spec.name, per_query, heatmap_jobs)
        if panels:
            name = f"{spec.name}_language_pairs_map"
            report.plots[name] = plots.plot_language_heatmaps(
                panels,
                out_dir / "plots" / f"{name}.png",
                title=f"{spec.name}: mAP per query language x corpus language (mono on the diagonal)",
            )
    report.files.extend(report.plots.values())
    report.markdown = summary_markdown(report, roots, alpha)
    write_atomically(out_dir / "summary.md", report.markdown)
    report.files.append(out_dir / "summary.md")
    findings_md = "# Findings\n\n" + "\n".join(f"- {f}" for f in report.findings) + "\n"
    write_atomically(out_dir / "findings.md", findings_md)
    report.files.append(out_dir / "findings.md")
    return report


def _public(jobs: pd.DataFrame) -> pd.DataFrame:
    return jobs.drop(columns=[c for c in jobs.columns if c.startswith("_")])


class _PerQueryCache:
    """Per-query files are large; read each (job, benchmark) once."""

    def __init__(self):
        self._frames: dict[tuple[str, str], pd.DataFrame] = {}

    def get(self, job_path: str, benchmark: str) -> pd.DataFrame:
        key = (str(job_path), benchmark)
        if key not in self._frames:
            self._frames[key] = load_per_query(Path(job_path), benchmark)
        return self._frames[key]


def _heatmap_panels(
    jobs: pd.DataFrame, by_config: pd.DataFrame, bench: str, per_query: _PerQueryCache, chosen: list[str] | None
) -> dict[str, pd.DataFrame]:
    """Chosen jobs one by one, or by default each configuration (seeds pooled), at most MAX_HEATMAPS."""
    done = jobs[jobs["status"] == COMPLETE]
    if chosen:
        unknown = [j for j in chosen if j not in set(jobs["job"])]
        if unknown:
            raise ValueError(f"--heatmap-jobs: {unknown} are not jobs of this sweep; jobs: {jobs['job'].tolist()}")
        selection = {
            f"job {j}: {done.loc[done['job'] == j, 'config'].iloc[0]}": done.loc[done["job"] == j, "path"].tolist()
            for j in chosen
            if j in set(done["job"])
        }
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
    axis_keys = [a.key for a in report.axes]
    out = [
        f"# Sweep report: {', '.join(str(r) for r in roots)}",
        "",
        f"{len(jobs)} jobs: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + ". Swept: "
        + (
            ", ".join(f"`{a.key}` ({', '.join(a.values)}; baseline {', '.join(a.baselines)})" for a in report.axes)
            or "nothing but the seed"
        )
        + ".",
        "",
    ]
    out += ["## Findings", ""] + [f"- {f}" for f in report.findings] + [""]
    for spec in report.specs.values():
        metrics = [spec.key(e) for e in spec.headline + spec.extra if spec.key(e) in jobs.columns]
        out += [f"## {spec.name}: mean ± std over seeds", ""]
        header = ["configuration", *axis_keys, "seeds"] + [pretty_metric(m) for m in metrics]
        rows = [
            [
                r["config"],
                *[("–" if pd.isna(r.get(f"axis:{k}")) else r[f"axis:{k}"]) for k in axis_keys],
                "eval only" if r["reference"] else f"{r['n_complete']}/{r['n_jobs']}",
            ]
            + [mean_pm_std(r[f"{m}:mean"], r[f"{m}:std"], 1 if m.endswith("rank_distance") else 3) for m in metrics]
            for _, r in agg.iterrows()
        ]
        out += [markdown_table(header, rows), ""]
        if not spec.parallel:  # the paper's table is LAReQA's; other benchmarks join it as low-resource columns
            continue
        low = [
            o.key(e)
            for o in report.specs.values()
            for e in o.headline
            if "low_resource" in e and e not in PAPER_COLUMNS
        ]
        for group in dict.fromkeys(agg.loc[~agg["reference"].astype(bool), "group"]):
            paper = paper_table(agg, sig, spec.name, low, group)
            if paper:
                title = "" if group == "all" else f" ({group})"
                out += [
                    f"### {spec.name}: the paper's table{title}",
                    "",
                    "X-X = cross ratio 0, X-Y = 1; Δ: difference to the better of X-X and X-Y on that metric, "
                    f"{100 * (1 - alpha):.0f}% CI, * Holm-significant. The paper's rows are XLM-R with its own "
                    "training budget: a scale, not a target.",
                    "",
                    markdown_table(*paper),
                    "",
                ]
    failed = jobs[jobs["status"] != COMPLETE]
    if len(failed):
        out += ["## Jobs that did not complete", ""]
        out += [
            markdown_table(
                ["job", "status", "overrides", "error"],
                [[r["job"], r["status"], r["overrides"], r["error"]] for _, r in failed.iterrows()],
            ),
            "",
        ]
    out += [
        "## Significance",
        "",
        seed_sentence(agg),
        "",
        "Each configuration against the baselines of each swept axis (the other axes fixed) and against its "
        "zero-shot backbone. Unit: a question cluster (a question with its parallel translations). `recipes`: "
        "t-test whose variance has a seed part (pooled over the configurations compared) and a question part; "
        "`models`: paired t-test over question clusters, seeds unknown — it compares two trained models, not two "
        f"recipes. p-values Holm-corrected over the whole table; * : p_holm < {alpha}. See docs/sweeps.md.",
        "",
    ]
    if sig.empty:
        out += [
            "No comparisons: the sweep needs complete jobs that differ along a swept axis (or a zero-shot "
            "reference), with per-query files.",
            "",
        ]
    else:
        header = [
            "benchmark",
            "metric",
            "axis",
            "group",
            "value",
            "baseline",
            "test",
            "seeds",
            "clusters",
            "mean",
            "baseline mean",
            "diff",
            f"{100 * (1 - alpha):.0f}% CI",
            "p",
            "p (Holm)",
        ]
        rows = [
            [
                r["benchmark"],
                r["metric"],
                r["axis"],
                r["group"],
                r["value"],
                r["baseline"],
                r["kind"],
                f"{r['n_seeds']} vs {r['n_baseline_seeds']}",
                r["n_clusters"],
                f"{r['mean']:.4g}",
                f"{r['baseline_mean']:.4g}",
                f"{r['diff']:+.4g}",
                f"[{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]",
                f"{r['p']:.2g}",
                f"{r['p_holm']:.2g}{' *' if r['significant'] else ''}",
            ]
            for _, r in sig.iterrows()
        ]
        if sig["group"].isin(["all", ""]).all():  # a single group says nothing: leave its column out
            header.pop(3)
            rows = [r[:3] + r[4:] for r in rows]
        out += [markdown_table(header, rows), ""]
    out += [
        "## Files",
        "",
        "- `summary.csv`: one row per job (overrides, status, error, every metric)",
        "- `summary_by_config.csv`: `<metric>:mean` and `<metric>:std` for every metric, per configuration",
        "- `significance.csv`: the comparisons above, unrounded",
        "- `findings.md`: the findings above",
    ]
    out += [f"- `plots/{p.name}`" for p in report.plots.values()]
    overviews = {f"{s}_vs_{a.key.replace('/', '_').replace('.', '_')}" for s in report.specs for a in report.axes}
    for name, p in report.plots.items():
        if name in overviews or name.endswith("_language_pairs_map"):
            out += ["", f"![{name}](plots/{p.name})"]
    return "\n".join(out) + "\n"


def _num(v) -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{float(v):g}"
