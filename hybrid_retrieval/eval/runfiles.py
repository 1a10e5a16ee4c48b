"""TREC run and qrels files: the ranked lists behind every reported metric.

Run lines: ``qid Q0 docid rank score tag``; scores are written with 9
significant digits so float32 values round-trip exactly and trec_eval sorts
them as we did.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_run(path: Path, qids: list[str], ids: np.ndarray, scores: np.ndarray, doc_names: np.ndarray,
              tag: str = "hybrid_retrieval", append: bool = False) -> None:
    nq, depth = ids.shape
    for name in (qids, doc_names):
        bad = next((x for x in name if any(c.isspace() for c in str(x))), None)
        if bad is not None:
            raise ValueError(f"id {bad!r} contains whitespace, which TREC run files cannot hold")
    frame = pd.DataFrame({
        "qid": np.repeat(np.asarray(qids, dtype=object), depth),
        "q0": "Q0",
        "docid": np.asarray(doc_names, dtype=object)[ids.ravel()],
        "rank": np.tile(np.arange(1, depth + 1), nq),
        "score": np.char.mod("%.9g", scores.astype(np.float64).ravel()),
        "tag": tag,
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep=" ", header=False, index=False, mode="a" if append else "w")


def write_qrels(path: Path, qrels: dict[str, list[str]], append: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        for qid, docs in qrels.items():
            for doc in docs:
                fh.write(f"{qid} 0 {doc} 1\n")


def read_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            qid, _, doc, _, score, *_ = line.split()
            run.setdefault(qid, {})[doc] = float(score)
    return run


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            qid, _, doc, rel = line.split()
            qrels.setdefault(qid, {})[doc] = int(rel)
    return qrels
