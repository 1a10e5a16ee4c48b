"""Per-query scores as a table: what significance tests and the report read back."""
from __future__ import annotations

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
