"""TREC run and qrels files: the ranked lists behind every reported metric.

Run lines: ``qid Q0 docid rank score tag``; scores are written with 9
significant digits so float32 values round-trip exactly and trec_eval sorts
them as we did.  Qrels keep graded levels (trec_eval's nDCG gains).  A
setting's files are written once, atomically, when its benchmark is done: a
killed job never leaves a half file that a later reader takes as whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hybrid_retrieval.data.formats.trec import read_qrels  # noqa: F401  (the one qrels reader, re-exported)
from hybrid_retrieval.files import write_atomically


def run_lines(
    qids: list[str], ids: np.ndarray, scores: np.ndarray, doc_names: np.ndarray, tag: str = "hybrid_retrieval"
) -> str:
    """Run lines for every found document; ``ids`` index ``doc_names``, -1 entries (never found) are skipped."""
    for name in (qids, doc_names):
        bad = next((x for x in name if any(c.isspace() for c in str(x))), None)
        if bad is not None:
            raise ValueError(f"id {bad!r} contains whitespace, which TREC run files cannot hold")
    names = np.asarray(doc_names, dtype=object)
    ranks = [str(r) for r in range(1, ids.shape[1] + 1)]
    out = []
    for qid, row, score_row in zip(qids, ids, scores.astype(np.float64)):
        keep = row >= 0  # -1: fewer documents found (approximate index, dropped identical ids); always at the end
        docs, values = names[row[keep]], score_row[keep].tolist()
        out.append(
            "".join(f"{qid} Q0 {doc} {rank} {value:.9g} {tag}\n" for doc, rank, value in zip(docs, ranks, values))
        )
    return "".join(out)


def qrels_lines(qrels: Mapping[str, Mapping[str, int]]) -> str:
    return "".join(f"{qid} 0 {doc} {level}\n" for qid, docs in qrels.items() for doc, level in docs.items())


def write_run(
    path: Path,
    qids: list[str],
    ids: np.ndarray,
    scores: np.ndarray,
    doc_names: np.ndarray,
    tag: str = "hybrid_retrieval",
) -> None:
    write_atomically(Path(path), run_lines(qids, ids, scores, doc_names, tag))


def write_qrels(path: Path, qrels: Mapping[str, Mapping[str, int]]) -> None:
    write_atomically(Path(path), qrels_lines(qrels))


class RunFiles:
    """Collects one benchmark's run and qrels lines per setting; ``write`` puts each file down atomically."""

    def __init__(self, folder: Path | None):
        self.folder = None if folder is None else Path(folder)
        self._runs: dict[str, list[str]] = {}
        self._qrels: dict[str, list[str]] = {}

    def add(
        self,
        setting: str,
        qids: list[str],
        ids: np.ndarray,
        scores: np.ndarray,
        doc_names: np.ndarray,
        qrels: Mapping[str, Mapping[str, int]],
    ) -> None:
        if self.folder is None:
            return
        self._runs.setdefault(setting, []).append(run_lines(qids, ids, scores, doc_names))
        self._qrels.setdefault(setting, []).append(qrels_lines(qrels))

    def write(self) -> None:
        if self.folder is None:
            return
        for setting, chunks in self._runs.items():
            write_atomically(self.folder / f"{setting}.trec", "".join(chunks))
            write_atomically(self.folder / f"{setting}.qrels", "".join(self._qrels[setting]))


def read_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            qid, _, doc, _, score, *_ = line.split()
            run.setdefault(qid, {})[doc] = float(score)
    return run
