"""Bring-your-own parallel training data in the documented JSON-lines format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import compose_config, smoke_overrides

from hybrid_retrieval.data.corpus import ParallelCorpus
from hybrid_retrieval.data.formats.passages import JsonlFormatError

QUERIES = {"en": "where is the {w} number {i}", "de": "wo ist {w} Nummer {i}", "fr": "ou est {w} numero {i}"}
WORDS = ["river", "castle", "engine", "garden", "market", "winter", "bridge", "forest"]


def lines(n_items: int = 24, langs=("en", "de", "fr")) -> list[dict]:
    out = []
    for i in range(n_items):
        for lang in langs:
            if lang == "fr" and i % 4 == 3:
                continue  # not every item exists in every language
            w = WORDS[i % 8]
            out.append(
                {
                    "id": f"mm{i}",
                    "lang": lang,
                    "query": QUERIES[lang].format(w=w, i=i),
                    "positive": {"id": f"p{i}-{lang}", "title": w.title(), "text": f"{w} {i} passage in {lang}"}
                    if i % 2
                    else f"{w} {i} passage in {lang}",
                    "negatives": [
                        f"{WORDS[(i + 1) % 8]} {i + 1} other passage in {lang}",
                        {"text": f"{WORDS[(i + 2) % 8]} unrelated {lang}"},
                    ],
                }
            )
    return out


def write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.encode()) if path.suffix == ".gz" else text.encode())
    return path


def test_reads_items_languages_passages_and_negatives(tmp_path):
    corpus = ParallelCorpus.from_jsonl(write(tmp_path / "train.jsonl", lines()), ["en", "fr"])
    assert corpus.languages == ["en", "fr"] and len(corpus) == 24
    assert corpus.items_per_language() == {"en": 24, "fr": 18}
    item = corpus.items.index("mm1")
    ex = corpus.example(item, 1)
    assert ex.query == "ou est castle numero 1"
    assert (ex.positive.pid, ex.positive.text) == ("p1-fr", "Castle castle 1 passage in fr")  # "title text"
    assert [n.text for n in ex.negatives] == ["engine 2 other passage in fr", "garden unrelated fr"]
    plain = corpus.example(corpus.items.index("mm2"), 0).positive
    assert plain.pid == plain.text == "engine 2 passage in en"  # no id: the text identifies the passage
    assert not corpus.available[corpus.items.index("mm3"), 1]


def test_accepts_gzip_lists_and_folders(tmp_path):
    rows = lines()
    en = [r for r in rows if r["lang"] == "en"]
    other = [r for r in rows if r["lang"] != "en"]
    write(tmp_path / "dir" / "en.jsonl.gz", en)
    write(tmp_path / "dir" / "other.jsonl", other)
    (tmp_path / "dir" / "README.txt").write_text("ignored")
    a = ParallelCorpus.from_jsonl(tmp_path / "dir", ["en", "de"])
    b = ParallelCorpus.from_jsonl(
        [str(tmp_path / "dir" / "en.jsonl.gz"), str(tmp_path / "dir" / "other.jsonl")], ["en", "de"]
    )
    assert a.items == b.items and (a.available == b.available).all() and a.available.all()


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"id": "x", "lang": "en", "query": "q"}, r"train\.jsonl:2: missing field\(s\) \['positive'\]"),
        ({"id": "x", "lang": "en", "query": " ", "positive": "p"}, r"train\.jsonl:2: query must be"),
        ({"id": "x", "lang": "en", "query": "q", "positive": {"title": "t"}}, r"train\.jsonl:2: positive must be"),
        (
            {"id": "x", "lang": "en", "query": "q", "positive": "p", "negatives": "n"},
            r"train\.jsonl:2: negatives must be a list",
        ),
        (
            {"id": "mm0", "lang": "en", "query": "q", "positive": "p"},
            r"train\.jsonl:2: item 'mm0' in 'en' already given at .*train\.jsonl:1",
        ),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, bad, message):
    path = write(tmp_path / "train.jsonl", [lines(1, ("en",))[0], bad])
    with pytest.raises(JsonlFormatError, match=message):
        ParallelCorpus.from_jsonl(path, ["en"])


def test_not_json_and_missing_path(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps(lines(1, ("en",))[0]) + "\n{oops\n")
    with pytest.raises(JsonlFormatError, match=r"train\.jsonl:2: not valid JSON"):
        ParallelCorpus.from_jsonl(tmp_path / "train.jsonl", ["en"])
    with pytest.raises(FileNotFoundError, match=r"data\.corpus\.path=.*nope\.jsonl.*docs/data\.md"):
        ParallelCorpus.from_jsonl(tmp_path / "nope.jsonl", ["en"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"data\.corpus\.path=.*holds no \*\.jsonl"):
        ParallelCorpus.from_jsonl(tmp_path / "empty", ["en"])


def test_language_without_lines_names_data_languages(tmp_path):
    with pytest.raises(ValueError, match=r"data\.languages: no training items for \['sw'\]"):
        ParallelCorpus.from_jsonl(write(tmp_path / "t.jsonl", lines()), ["en", "sw"])


def test_job_trains_on_jsonl_data(data_root, tmp_path):
    from hybrid_retrieval.job.run_job import run_job

    path = write(tmp_path / "data" / "mmarco.jsonl.gz", lines(48))
    cfg = compose_config(
        smoke_overrides(data_root, tmp_path / "out")
        + [
            "data=jsonl",
            f"data.corpus.path={path}",
            "data.languages=[en,de,fr]",
            "data.hard_negatives=1",
            "data.cross_ratio=0.5",
            "trainer.max_steps=6",
            "save_encoder=false",
        ]
    )
    metrics = run_job(cfg)
    assert metrics["train/steps"] == 6 and metrics["train/cross_batch_fraction"] == pytest.approx(0.5)
    assert "xquad_r/mono/map" in metrics


def test_jsonl_config_requires_a_path(data_root, tmp_path):
    from hybrid_retrieval.job.run_job import run_job

    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["data=jsonl"])
    with pytest.raises(Exception, match=r"data\.corpus\.path"):
        run_job(cfg)
    assert not (tmp_path / "metrics.json").exists()
