"""Figures for a paper: metrics along any swept axis with seed error bars and the zero-shot backbone
dashed, and language-pair heatmaps."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hybrid_retrieval.files import replaced_atomically  # noqa: E402
from hybrid_retrieval.report.headline import pretty_metric  # noqa: E402


def save_figure(fig, path: Path, dpi: int = 150) -> Path:
    """Write a PNG via temp file + rename, so a reader never sees half a file."""
    try:
        with replaced_atomically(Path(path), suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)


def _draw_metric(ax, agg: pd.DataFrame, metric: str, axis, lower: bool = False) -> None:
    """One line per group along ``axis`` (error bars: std over seeds); zero-shot references dashed."""
    col = f"axis:{axis.key}"
    measured = agg[agg[f"{metric}:mean"].notna() & ~agg["reference"].astype(bool)]
    measured = measured[measured[col].isin(axis.values)]
    groups = list(dict.fromkeys(measured["group"]))
    for group in groups:
        sub = measured[measured["group"] == group]
        x = [axis.position(v) for v in sub[col]]
        order = np.argsort(x)
        std = sub[f"{metric}:std"].fillna(0.0).to_numpy()[order]
        ax.errorbar(
            np.array(x)[order],
            sub[f"{metric}:mean"].to_numpy()[order],
            yerr=std,
            marker="o",
            capsize=4,
            linewidth=1.5,
            label=None if group == "all" else group,
        )
    refs = agg[agg["reference"].astype(bool) & agg[f"{metric}:mean"].notna()]
    for i, (_, ref) in enumerate(refs.iterrows()):
        backbone = ref["config"].removeprefix("zero-shot ")
        if axis.key == "model" and backbone in axis.values:  # a backbone axis: the reference sits at its backbone
            ax.plot(
                [axis.position(backbone)],
                [ref[f"{metric}:mean"]],
                marker="s",
                linestyle="none",
                color="0.35",
                label="zero-shot" if i == 0 else None,
            )
        else:
            ax.axhline(ref[f"{metric}:mean"], linestyle="--", color="0.35", linewidth=1.2, label=ref["config"])
    if axis.key == "model" and len(refs) > 1:
        pts = sorted(
            (axis.position(r["config"].removeprefix("zero-shot ")), r[f"{metric}:mean"])
            for _, r in refs.iterrows()
            if r["config"].removeprefix("zero-shot ") in axis.values
        )
        if pts:
            ax.plot(*zip(*pts), linestyle="--", color="0.35", linewidth=1.2)
    ax.set_xlabel(axis.key if not axis.log else f"{axis.key} (parameters, log scale)")
    ax.set_ylabel(pretty_metric(metric))
    ax.set_title(f"{pretty_metric(metric)} ({'lower' if lower else 'higher'} is better)", fontsize=10)
    labels = list(axis.values)
    if axis.log:  # a backbone axis by parameter count
        ax.set_xscale("log")
        ax.minorticks_off()
        labels = [f"{v}\n{_count(axis.position(v))}" for v in axis.values]
    ax.set_xticks(
        [axis.position(v) for v in axis.values],
        labels,
        rotation=0 if axis.numeric or axis.log or max(map(len, axis.values)) < 10 else 30,
        fontsize=8,
    )
    ax.grid(alpha=0.3)
    if len(groups) > 1 or len(refs):
        ax.legend(fontsize=7)


def _count(n: float) -> str:
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def _seed_note(agg: pd.DataFrame) -> str:
    n = agg.loc[(agg["n_complete"] > 0) & ~agg["reference"].astype(bool), "n_complete"]
    if n.empty or n.max() <= 1:
        return "one seed per point (no error bars)"
    counts = f"{n.min()}" if n.min() == n.max() else f"{n.min()}–{n.max()}"
    return f"mean ± std over seeds (n = {counts} per point)"


def plot_metric(agg: pd.DataFrame, metric: str, axis, path: Path, lower: bool = False) -> Path:
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    _draw_metric(ax, agg, metric, axis, lower)
    fig.suptitle(f"{metric.split('/')[0]}: {_seed_note(agg)}; dashed: zero-shot", fontsize=8, y=0.02, va="bottom")
    fig.subplots_adjust(bottom=0.22)
    return save_figure(fig, path)


def plot_overview(
    agg: pd.DataFrame, metrics: list[str], axis, path: Path, title: str, lower: dict[str, bool] | None = None
) -> Path:
    """All headline metrics of one benchmark along one axis, as panels of one figure."""
    lower = lower or {}
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.3 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        _draw_metric(ax, agg, metric, axis, lower.get(metric, False))
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    fig.suptitle(f"{title} — {_seed_note(agg)}", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_language_heatmaps(panels: dict[str, pd.DataFrame], path: Path, title: str, metric: str = "map") -> Path:
    """One query-language x corpus-language heatmap per panel, on a shared colour scale.

    ``panels`` maps a title to a matrix (index: query language, columns: corpus language).
    """
    n = len(panels)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    size = max(m.shape[0] for m in panels.values())
    cell = 0.42 if size > 6 else 0.7
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(cols * (size * cell + 1.6), rows * (size * cell + 1.2)),
        squeeze=False,
        layout="constrained",
    )
    values = np.concatenate([m.to_numpy(float).ravel() for m in panels.values()])
    vmin, vmax = np.nanmin(values), np.nanmax(values)
    image = None
    for ax, (name, matrix) in zip(axes.flat, panels.items()):
        data = matrix.to_numpy(float)
        image = ax.imshow(data, vmin=vmin, vmax=vmax, cmap="viridis")
        ax.set_xticks(range(matrix.shape[1]), matrix.columns)
        ax.set_yticks(range(matrix.shape[0]), matrix.index)
        ax.set_xlabel("corpus language")
        ax.set_ylabel("query language")
        ax.set_title(name, fontsize=9)
        if size <= 12:
            digits = 2 if vmax >= 0.1 else 3  # small scores (an untrained model) still show their differences
            for (i, j), v in np.ndenumerate(data):
                if np.isfinite(v):
                    dark = (v - vmin) / ((vmax - vmin) or 1) < 0.6
                    ax.text(
                        j,
                        i,
                        f"{v:.{digits}f}"[1:] if 0 <= v < 1 else f"{v:.2g}",
                        ha="center",
                        va="center",
                        fontsize=6 if size > 6 else 8,
                        color="white" if dark else "black",
                    )
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label=pretty_metric(f"x/{metric}"))
    return save_figure(fig, path)
