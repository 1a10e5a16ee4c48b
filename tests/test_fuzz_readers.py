"""Fuzzed readers (hypothesis): truncated files, flipped bytes, values of the wrong type and huge lines end
either in a normal read or in the reader's own error (a ValueError subclass) naming the file; never another
exception, a hang (deadline) or, for whole-document JSON, a silent partial read.

EXAMPLES (40) per reader and mutation: 7 readers x (truncation, byte flips, huge lines) + wrong types for the
3 JSON readers = 960 examples, about 15 s on 2 cores."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pytest
from conftest import write_lareqa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybrid_retrieval.data.formats.beir import read_qrels_tsv, read_queries
from hybrid_retrieval.data.formats.jsonl import read_parallel_jsonl
from hybrid_retrieval.data.formats.lareqa import LareqaFormatError, read_lareqa
from hybrid_retrieval.data.formats.passages import JsonlFormatError
from hybrid_retrieval.data.formats.trec import TrecFormatError, read_qrels, read_topics
from hybrid_retrieval.data.formats.tydi import TydiFormatError, read_goldp

EXAMPLES = 40
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=5000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
WORK = Path(tempfile.mkdtemp(prefix="fuzz-readers-"))


def _lareqa() -> bytes:
    write_lareqa(WORK / "seed.json", "en", n_paragraphs=2)
    return (WORK / "seed.json").read_bytes()


def _goldp() -> bytes:
    qas = [
        {"id": f"swahili-{i}-0", "question": f"swali {i}?", "answers": [{"text": "habari", "answer_start": 3}]}
        for i in range(3)
    ]
    doc = {"data": [{"title": "t", "paragraphs": [{"context": "ni habari njema sana", "qas": qas}]}]}
    return json.dumps(doc).encode()


PARALLEL = (
    "\n".join(
        json.dumps({"id": f"i{i}", "lang": lang, "query": f"q {i} {lang}", "positive": f"p {i} {lang}"})
        for i in range(3)
        for lang in ("en", "de")
    ).encode()
    + b"\n"
)
# reader, seed bytes, the reader's own errors, whether the file is one JSON document (a cut must fail)
READERS = {
    "lareqa": (lambda p: read_lareqa(p, "en"), _lareqa(), LareqaFormatError, True),
    "tydi_goldp": (read_goldp, _goldp(), TydiFormatError, True),
    "trec_topics": (read_topics, b"1\twhat is a river\n2\twho built the castle\n", TrecFormatError, False),
    "trec_qrels": (read_qrels, b"1 0 d1 1\n1 0 d2 0\n2 Q0 d3 2\n", TrecFormatError, False),
    "beir_queries": (read_queries, b'{"_id": "1", "text": "a"}\n{"_id": "2", "text": "b"}\n', JsonlFormatError, False),
    "beir_qrels": (read_qrels_tsv, b"query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t0\n", TrecFormatError, False),
    "parallel_jsonl": (lambda p: list(read_parallel_jsonl([p])), PARALLEL, JsonlFormatError, False),
}


def check(name: str, data: bytes, must_fail: bool = False) -> None:
    read, _, own_error, _ = READERS[name]
    path = WORK / f"{name}.input"
    path.write_bytes(data)
    try:
        read(path)
    except own_error as err:
        assert str(path) in str(err), f"{type(err).__name__} does not name the file: {err}"
        return
    assert not must_fail, f"{name}: a damaged document was read without an error"


def test_seeds_are_valid():
    for name, (read, seed, _, _) in READERS.items():
        path = WORK / f"{name}.seed"
        path.write_bytes(seed)
        assert read(path), name


@pytest.mark.parametrize("name", READERS)
@FUZZ
@given(cut=st.floats(0, 1, exclude_max=True))
def test_truncated(name, cut):
    seed, whole_doc = READERS[name][1], READERS[name][3]
    at = int(len(seed.rstrip()) * cut)
    check(name, seed[:at], must_fail=whole_doc)


@pytest.mark.parametrize("name", READERS)
@FUZZ
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=4))
def test_flipped_bytes(name, flips):
    data = bytearray(READERS[name][1])
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    check(name, bytes(data))


@pytest.mark.parametrize("name", READERS)
@FUZZ
@given(size=st.integers(1 << 16, 1 << 21), byte=st.sampled_from([b"a", b"\t", b"{", b"\xff", b" "]))
def test_huge_line(name, size, byte):
    seed = READERS[name][1]
    check(name, seed[: len(seed) // 2] + byte * size + b"\n" + seed[len(seed) // 2 :])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def _replace_somewhere(doc, value, rng: random.Random):
    """``doc`` with one randomly chosen node replaced by ``value``."""
    nodes = []

    def walk(node, parent, key):
        nodes.append((parent, key))
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for k, child in children:
            walk(child, node, k)

    walk(doc, None, None)
    parent, key = rng.choice(nodes)
    if parent is None:
        return value
    parent[key] = value
    return doc


@pytest.mark.parametrize("name", ["lareqa", "tydi_goldp", "parallel_jsonl"])
@FUZZ
@given(value=JSON_VALUES, seed=st.integers(0, 2**32 - 1))
def test_wrong_types(name, value, seed):
    rng = random.Random(seed)
    raw = READERS[name][1]
    if name == "parallel_jsonl":
        lines = [json.loads(line) for line in raw.decode().splitlines()]
        i = rng.randrange(len(lines))
        lines[i] = _replace_somewhere(lines[i], value, rng)
        data = "\n".join(json.dumps(line) for line in lines).encode()
    else:
        data = json.dumps(_replace_somewhere(json.loads(raw), value, rng)).encode()
    check(name, data)


@pytest.mark.parametrize("name", ["trec_topics", "trec_qrels", "beir_queries", "beir_qrels", "parallel_jsonl"])
def test_non_utf8_line_names_file_and_line(name):
    read, seed, own_error, _ = READERS[name]
    lines = seed.split(b"\n")
    lines[1] = lines[1][:3] + b"\xff" + lines[1][3:]
    path = WORK / f"{name}.latin"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(own_error, match=rf"{path}:2: not UTF-8 text \(byte 3 of the line: invalid start byte\)"):
        read(path)
