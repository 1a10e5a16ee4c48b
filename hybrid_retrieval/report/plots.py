"""Figures for a paper: metrics against the cross ratio with seed error bars, and language-pair heatmaps."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hybrid_retrieval.cache import replaced_atomically  # noqa: E402
from hybrid_retrieval.report.aggregate import pretty_metric  # noqa: E402

LOWER_IS_BETTER = ("rank_distance",)


def save_figure(fig, path: Path, dpi: int = 150) -> Path:
    """Write a PNG via temp file + rename, so a reader never sees half a file."""
    try:
        with replaced_atomically(Path(path), suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)


def _draw_metric(ax, agg: pd.DataFrame, metric: str) -> None:
    measured = agg[agg[f"{metric}:mean"].notna()]
    groups = list(dict.fromkeys(measured["group"]))
    for group in groups:
        sub = measured[measured["group"] == group].sort_values("cross_ratio")
        std = sub[f"{metric}:std"].fillna(0.0)
        ax.errorbar(sub["cross_ratio"], sub[f"{metric}:mean"], yerr=std, marker="o", capsize=4, linewidth=1.5,
                    label=None if group == "all" else group)
    ax.set_xlabel("cross-lingual batch share (cross_ratio)")
    ax.set_ylabel(pretty_metric(metric))
    lower = any(metric.endswith(k) for k in LOWER_IS_BETTER)
    ax.set_title(f"{pretty_metric(metric)} ({'lower' if lower else 'higher'} is better)", fontsize=10)
    ax.set_xticks(sorted(measured["cross_ratio"].dropna().unique()))
    ax.grid(alpha=0.3)
    if len(groups) > 1:
        ax.legend(fontsize=7)


def _seed_note(agg: pd.DataFrame) -> str:
    n = agg.loc[agg["n_complete"] > 0, "n_complete"]
    if n.empty or n.max() <= 1:
        return "one seed per point (no error bars)"
    counts = f"{n.min()}" if n.min() == n.max() else f"{n.min()}–{n.max()}"
    return f"mean ± std over seeds (n = {counts} per point)"


def plot_metric_vs_ratio(agg: pd.DataFrame, metric: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    _draw_metric(ax, agg, metric)
    fig.suptitle(f"{metric.split('/')[0]}: {_seed_note(agg)}", fontsize=8, y=0.02, va="bottom")
    fig.subplots_adjust(bottom=0.2)
    return save_figure(fig, path)


def plot_overview(agg: pd.DataFrame, metrics: list[str], path: Path, title: str) -> Path:
    """All headline metrics of one benchmark as panels of one figure."""
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.3 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        _draw_metric(ax, agg, metric)
    for ax in list(axes.flat)[len(metrics):]:
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
    fig, axes = plt.subplots(rows, cols, figsize=(cols * (size * cell + 1.6), rows * (size * cell + 1.2)),
                             squeeze=False, layout="constrained")
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
                    ax.text(j, i, f"{v:.{digits}f}"[1:] if 0 <= v < 1 else f"{v:.2g}", ha="center", va="center",
                            fontsize=6 if size > 6 else 8, color="white" if dark else "black")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label=pretty_metric(f"x/{metric}"))
    return save_figure(fig, path)
