"""Bad data files: each fails naming the file and the line or record, except answers in no sentence (skipped,
counted)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from conftest import write_lareqa

from hybrid_retrieval.data.corpus import ParallelCorpus
from hybrid_retrieval.data.formats.lareqa import LareqaFormatError, read_lareqa


def lareqa_doc(path: Path, lang: str = "en") -> dict:
    write_lareqa(path, lang, n_paragraphs=3)
    return json.loads(path.read_text(encoding="utf-8"))


def save(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


# --- LAReQA JSON -----------------------------------------------------------------------------


def test_malformed_json_names_file_line_and_column(tmp_path):
    path = tmp_path / "en.json"
    path.write_text('{"data": [\n  {"paragraphs": [}\n]}', encoding="utf-8")
    with pytest.raises(LareqaFormatError, match=r"en\.json: not valid JSON \(line 2, column 19\)"):
        read_lareqa(path, "en")


def test_empty_file_is_malformed_json(tmp_path):
    path = tmp_path / "en.json"
    path.write_text("", encoding="utf-8")
    with pytest.raises(LareqaFormatError, match=r"en\.json: not valid JSON \(line 1, column 1\)"):
        read_lareqa(path, "en")


def test_non_utf8_file_names_file_and_byte(tmp_path):
    path = tmp_path / "en.json"
    path.write_bytes(b'{"data":\n ["caf\xe9"]}')
    with pytest.raises(
        LareqaFormatError, match=r"en\.json: not UTF-8 text \(line 2, byte offset 15: invalid continuation byte"
    ):
        read_lareqa(path, "en")


def test_not_squad_shaped(tmp_path):
    path = save(tmp_path / "en.json", {"version": "1.1", "articles": []})
    with pytest.raises(LareqaFormatError, match=r"en\.json: expected a SQuAD-style object with a 'data' list"):
        read_lareqa(path, "en")


@pytest.mark.parametrize("field", ["sentences", "sentence_breaks", "qas"])
def test_missing_paragraph_field_names_the_record(tmp_path, field):
    path = tmp_path / "en.json"
    doc = lareqa_doc(path)
    del doc["data"][0]["paragraphs"][2][field]
    save(path, doc)
    with pytest.raises(LareqaFormatError, match=rf"en\.json: data\[0\]\.paragraphs\[2\]: missing field '{field}'"):
        read_lareqa(path, "en")


def test_sentences_and_breaks_disagree(tmp_path):
    path = tmp_path / "en.json"
    doc = lareqa_doc(path)
    doc["data"][0]["paragraphs"][1]["sentence_breaks"].pop()
    save(path, doc)
    with pytest.raises(LareqaFormatError, match=r"paragraphs\[1\]: 3 sentences but 2 sentence_breaks"):
        read_lareqa(path, "en")


def test_malformed_sentence_breaks(tmp_path):
    path = tmp_path / "en.json"
    doc = lareqa_doc(path)
    doc["data"][0]["paragraphs"][0]["sentence_breaks"][1] = [5]
    save(path, doc)
    with pytest.raises(LareqaFormatError, match=r"paragraphs\[0\]: 'sentence_breaks' must be a list of \[start, end\]"):
        read_lareqa(path, "en")


def test_question_without_answer_names_the_record(tmp_path):
    path = tmp_path / "en.json"
    doc = lareqa_doc(path)
    doc["data"][0]["paragraphs"][1]["qas"][1]["answers"] = []
    save(path, doc)
    with pytest.raises(
        LareqaFormatError, match=r"paragraphs\[1\]\.qas\[1\]: needs id, question and answers\[0\]\.answer_start"
    ):
        read_lareqa(path, "en")


def test_non_integer_answer_start_names_record_and_value(tmp_path):
    path = tmp_path / "en.json"
    doc = lareqa_doc(path)
    doc["data"][0]["paragraphs"][2]["qas"][0]["answers"][0]["answer_start"] = "12"
    save(path, doc)
    with pytest.raises(
        LareqaFormatError, match=r"paragraphs\[2\]\.qas\[0\]: answers\[0\]\.answer_start='12' must be an integer"
    ):
        read_lareqa(path, "en")


def test_answer_in_no_sentence_is_skipped_and_counted_in_the_log(tmp_path, caplog):
    path = tmp_path / "en.json"
    doc = lareqa_doc(path)
    doc["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 10_000  # past every sentence
    doc["data"][0]["paragraphs"][2]["qas"][1]["answers"][0]["answer_start"] = -1
    save(path, doc)
    with caplog.at_level(logging.WARNING, logger="hybrid_retrieval.data.formats.lareqa"):
        data = read_lareqa(path, "en")
    assert data.skipped_questions == 2
    assert len(data.questions) == 3 * 2 - 2
    assert {q.qid for q in data.questions}.isdisjoint({"p0q0", "p2q1"})
    assert "skipped 2 question(s) whose answer lies in no sentence" in caplog.text and "en.json" in caplog.text


def test_file_with_no_usable_question_names_the_language(tmp_path):
    path = tmp_path / "de.json"
    doc = lareqa_doc(path, "de")
    for para in doc["data"][0]["paragraphs"]:
        for qa in para["qas"]:
            qa["answers"][0]["answer_start"] = 10_000
    save(path, doc)
    with pytest.raises(LareqaFormatError, match=r"de\.json: language 'de' has no usable question \(6 skipped"):
        read_lareqa(path, "de")


def test_bad_file_fails_the_job_before_training(data_root, tmp_path):
    """Through run_job(): the reader's error reaches the user unwrapped, and nothing is trained or written."""
    import shutil

    from conftest import compose_config, smoke_overrides

    from hybrid_retrieval.job.run_job import run_job

    root = tmp_path / "data"
    shutil.copytree(data_root, root)
    (root / "mlqa-r" / "es.json").write_text('{"data": [', encoding="utf-8")
    cfg = compose_config(smoke_overrides(root, tmp_path / "out"))
    with pytest.raises(LareqaFormatError, match=r"mlqa-r/es\.json: not valid JSON \(line 1"):
        run_job(cfg)
    assert (
        not (tmp_path / "out" / "checkpoints" / "last.ckpt").exists()
        and not (tmp_path / "out" / "metrics.json").exists()
    )


# --- a language with no items ----------------------------------------------------------------


def test_training_language_without_items_names_it(tmp_path):
    from hybrid_retrieval.data.corpus import Example, Passage

    examples = {
        (f"q{i}", lang): Example(f"question {i}", Passage(f"{lang}{i}", f"answer {i}"))
        for i in range(4)
        for lang in ("de", "en")
    }
    with pytest.raises(
        ValueError, match=r"data\.languages: no training items for \['es'\]; languages with data: \['de', 'en'\]"
    ):
        ParallelCorpus(examples, ["de", "en", "es"])


# --- JSONL / TSV readers (data/formats/{jsonl,passages,trec,beir}.py) ---------------------------


def test_jsonl_malformed_line_names_file_and_line(tmp_path):
    from hybrid_retrieval.data.formats.passages import JsonlFormatError, iter_jsonl

    path = tmp_path / "corpus.jsonl"
    path.write_text('{"docid": "a", "text": "x"}\n\n{"docid": "b", "text": \n', encoding="utf-8")
    with pytest.raises(JsonlFormatError, match=r"corpus\.jsonl:3: not valid JSON"):
        list(iter_jsonl(path))


def test_jsonl_non_object_line(tmp_path):
    from hybrid_retrieval.data.formats.passages import JsonlFormatError, iter_jsonl

    path = tmp_path / "corpus.jsonl"
    path.write_text('{"docid": "a", "text": "x"}\n["b", "y"]\n', encoding="utf-8")
    with pytest.raises(JsonlFormatError, match=r"corpus\.jsonl:2: expected a JSON object, got list"):
        list(iter_jsonl(path))


def test_parallel_jsonl_missing_field_names_line(tmp_path):
    from hybrid_retrieval.data.formats.jsonl import read_parallel_jsonl
    from hybrid_retrieval.data.formats.passages import JsonlFormatError

    path = tmp_path / "train.jsonl"
    lines = [
        {"id": "q1", "lang": "en", "query": "who?", "positive": "him"},
        {"id": "q1", "lang": "de", "positive": "ihn"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    with pytest.raises(JsonlFormatError, match=r"train\.jsonl:2: missing field\(s\) \['query'\]"):
        list(read_parallel_jsonl([path]))


def test_trec_topics_malformed_line_names_file_and_line(tmp_path):
    from hybrid_retrieval.data.formats.trec import TrecFormatError, read_topics

    path = tmp_path / "topics.tsv"
    path.write_text("1\twho wrote faust\n2 no tab here\n", encoding="utf-8")
    with pytest.raises(TrecFormatError, match=r"topics\.tsv:2: expected '<qid>\\t<query text>'"):
        read_topics(path)


def test_trec_qrels_bad_relevance_names_file_and_line(tmp_path):
    from hybrid_retrieval.data.formats.trec import TrecFormatError, read_qrels

    path = tmp_path / "qrels.txt"
    path.write_text("1 0 d1 1\n1 0 d2 high\n", encoding="utf-8")
    with pytest.raises(TrecFormatError, match=r"qrels\.txt:2: relevance 'high' is not an integer"):
        read_qrels(path)


def test_beir_qrels_tsv_short_line_names_file_and_line(tmp_path):
    from hybrid_retrieval.data.formats.beir import read_qrels_tsv
    from hybrid_retrieval.data.formats.trec import TrecFormatError

    path = tmp_path / "test.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\n", encoding="utf-8")
    with pytest.raises(TrecFormatError, match=r"test\.tsv:3: expected 'query-id\\tcorpus-id\\tscore'"):
        read_qrels_tsv(path)
