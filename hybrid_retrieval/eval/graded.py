"""nDCG with graded relevance, as trec_eval's ``ndcg_cut_k`` computes it.

:mod:`.metrics` scores binary hits; collections such as TREC-COVID or
NFCorpus judge on several levels, and trec_eval then uses the level itself as
the gain (not 2^rel - 1), with the ideal ranking built from every judged
document of the query.  Input is ranked lists of gains: no models here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def ndcg_at_k(gains: np.ndarray, judged: Sequence[np.ndarray], k: int) -> np.ndarray:
    """``gains[i, r]``: relevance level of query i's document at rank r+1 (0 if unjudged);
    ``judged[i]``: all relevance levels in query i's qrels."""
    gains = np.clip(np.asarray(gains, dtype=np.float64), 0.0, None)
    discount = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    cut = gains[:, :k]
    dcg = (cut * discount[: cut.shape[1]]).sum(axis=1)
    out = np.zeros(len(gains))
    for i, levels in enumerate(judged):
        ideal = np.sort(np.clip(np.asarray(levels, dtype=np.float64), 0.0, None))[::-1][:k]
        idcg = (ideal * discount[: len(ideal)]).sum()
        out[i] = dcg[i] / idcg if idcg > 0 else 0.0
    return out
