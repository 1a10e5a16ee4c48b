"""A synthetic retrieval task of any size: N short passages made on the fly (never all in memory) and
queries whose single relevant passage is known, for measuring evaluation at scale
(``perf/eval_scale.py``) through the same pipeline as a real benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

VOCAB = (
    "river castle engine garden market winter bridge forest valley harbor island mountain desert village "
    "temple library museum station tower canal meadow orchard quarry glacier volcano lagoon prairie canyon "
    "fortress cathedral lighthouse vineyard"
).split()


def passage_text(i: int) -> str:
    """Passage i, a deterministic function of i (so queries can quote it without storing the corpus)."""
    v = len(VOCAB)
    w = [VOCAB[(i * p + k * 7919) % v] for k, p in enumerate((31, 17, 13, 7))]
    return f"{VOCAB[(i // 10) % v].title()} {w[0]} {w[1]} {i} {w[2]} {w[3]}"


@dataclass(frozen=True)
class SyntheticCorpus:
    """``n`` passages ``d0``..``d{n-1}``, streamed in batches (a corpus of :mod:`hybrid_retrieval.eval.pipeline`)."""

    n: int
    description: str = "synthetic"

    def batches(self, size: int) -> Iterator[tuple[list[str], list[str]]]:
        for lo in range(0, self.n, size):
            rows = range(lo, min(lo + size, self.n))
            yield [f"d{i}" for i in rows], [passage_text(i) for i in rows]


def synthetic_queries(
    n_passages: int, n_queries: int, seed: int = 0
) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Each query quotes three words and the number of one passage, which is its only relevant one."""
    targets = np.random.default_rng(seed).choice(n_passages, size=min(n_queries, n_passages), replace=False)
    queries, qrels = {}, {}
    for q, t in enumerate(targets.tolist()):
        words = passage_text(t).split()
        queries[f"q{q}"] = f"{words[1]} {words[3]} {words[4]}"
        qrels[f"q{q}"] = {f"d{t}": 1}
    return queries, qrels
