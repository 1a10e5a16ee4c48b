"""Per-query scores as a table: what significance tests and the report read back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

COLUMNS = ("benchmark", "setting", "query_lang", "corpus_lang", "qid")


def scores_frame(rows: list[tuple[str, str, str, str, list[str], dict]]) -> pd.DataFrame:
    """One row per query from (benchmark, setting, query_lang, corpus_lang, qids, {metric: scores})."""
    frames = []
    for benchmark, setting, query_lang, corpus_lang, qids, scores in rows:
        frame = pd.DataFrame(scores)
        for name, value in reversed(list(zip(COLUMNS, (benchmark, setting, query_lang, corpus_lang, qids)))):
            frame.insert(0, name, value)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_per_query(job_dir: Path, benchmark: str | None = None) -> pd.DataFrame:
    """A job's per-query scores (``per_query_<benchmark>.csv.gz``, written by job/evaluate.py)."""
    pattern = f"per_query_{benchmark}.csv.gz" if benchmark else "per_query_*.csv.gz"
    frames = [
        pd.read_csv(
            p,
            keep_default_na=False,
            na_values=["", "nan", "NaN"],
            dtype={"qid": str, "query_lang": str, "corpus_lang": str},
        )
        for p in sorted(Path(job_dir).glob(pattern))
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def pair_means(per_query: pd.DataFrame, metric: str = "map", by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Mean of ``metric`` per (query language, corpus language): the cells of a language heatmap."""
    keys = [*by, "query_lang", "corpus_lang"]
    grouped = per_query.groupby(keys, sort=True)[metric]
    return grouped.agg(value="mean", n_queries="count").reset_index()
