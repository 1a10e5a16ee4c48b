"""BEIR-format collections: graded qrels, ignore_identical_ids, and metrics equal to pytrec_eval (graded nDCG
included)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
from conftest import compose_config, smoke_overrides, without_timing

from hybrid_retrieval.data.download import DataNotFoundError
from hybrid_retrieval.eval.benchmarks.beir import load_beir
from hybrid_retrieval.eval.runfiles import read_qrels

TOPICS = ["solar power", "river trade", "chess opening", "bread yeast", "glacier melt", "violin strings"]
N_DOCS = 36


def write_beir(folder: Path, gz: bool = False) -> None:
    """A small collection in BEIR's layout; query ``arg-2`` is also a corpus document with the same text."""
    docs = [
        {"_id": f"doc{i}", "title": TOPICS[i % 6].split()[0].title(), "text": f"{TOPICS[i % 6]} fact {i}"}
        for i in range(N_DOCS - 1)
    ]
    queries = [{"_id": f"arg-{q}", "text": f"{TOPICS[q % 6]} fact?"} for q in range(8)]
    docs.append({"_id": "arg-2", "title": "", "text": queries[2]["text"]})
    queries.append({"_id": "unjudged", "text": "nothing"})
    qrels = ["query-id\tcorpus-id\tscore"]
    for q in range(8):
        qrels += [f"arg-{q}\tdoc{q % 6}\t2", f"arg-{q}\tdoc{q % 6 + 6}\t1", f"arg-{q}\tdoc{q % 6 + 12}\t0"]
    qrels.append("arg-2\targ-2\t1")  # even when judged relevant, BEIR drops the query's own id from the hits
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qrels").mkdir(exist_ok=True)
    for name, rows in (("corpus.jsonl", docs), ("queries.jsonl", queries)):
        text = "".join(json.dumps(r) + "\n" for r in rows)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / name).write_text(text)
    (folder / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n")


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("beir") / "argu"
    write_beir(folder)
    return folder


def read_ranked(path: Path) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for line in path.read_text().splitlines():
        qid, _, doc, rank, score, _ = line.split()
        out.setdefault(qid, []).append((doc, float(score)))
    return out


def evaluate(collection, encoder, out, ignore, depth, metrics=("ndcg@10", "recall@5", "map", "mrr@10")):
    bench = load_beir(collection, name="argu", ignore_identical_ids=ignore, encode_chunk=10)
    found, per_query = bench.evaluate(encoder, metrics=list(metrics), depth=depth, runs_dir=out)
    return found, per_query, read_ranked(out / "argu" / "mono.trec"), read_qrels(out / "argu" / "mono.qrels")


@pytest.mark.parametrize("depth", [10, 50])
def test_own_id_is_dropped_before_the_cut_and_metrics_equal_pytrec_eval(collection, encoder, tmp_path, depth):
    found, per_query, ranked, qrels = evaluate(collection, encoder, tmp_path / "drop", True, depth)
    _, _, full, _ = evaluate(collection, encoder, tmp_path / "keep", False, N_DOCS)  # complete rankings
    assert set(ranked) == {f"en:arg-{q}" for q in range(8)}  # the unjudged query is not evaluated
    for qid, docs in ranked.items():
        expected = [d for d in full[qid] if d[0] != qid.split(":", 1)[1]][:depth]
        assert [d for d, _ in docs] == [d for d, _ in expected]  # drop first, then cut: lists stay full
        assert len(docs) == min(depth, N_DOCS - (qid == "en:arg-2"))
    assert "arg-2" in [d for d, _ in full["en:arg-2"]] and "arg-2" not in [d for d, _ in ranked["en:arg-2"]]
    assert qrels["en:arg-2"]["doc2"] == 2  # graded levels survive into the written qrels

    run = {q: dict(docs) for q, docs in ranked.items()}
    trec = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10", "recall_5", "map"}).evaluate(run)
    top10 = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(
        {q: dict(docs[:10]) for q, docs in ranked.items()}
    )
    rows = per_query.set_index("qid")
    assert len(set(np.round(rows["ndcg@10"], 6))) > 1  # not all equal: the comparison has teeth
    for qid in ranked:
        q = qid.split(":", 1)[1]
        assert rows.loc[q, "ndcg@10"] == pytest.approx(trec[qid]["ndcg_cut_10"], abs=1e-6)  # graded gains
        assert rows.loc[q, "recall@5"] == pytest.approx(trec[qid]["recall_5"], abs=1e-6)
        assert rows.loc[q, "map"] == pytest.approx(trec[qid]["map"], abs=1e-6)
        assert rows.loc[q, "mrr@10"] == pytest.approx(top10[qid]["recip_rank"], abs=1e-6)
    for metric, name in (("ndcg@10", "ndcg_cut_10"), ("map", "map")):
        mean = np.mean([trec[q][name] for q in trec])
        assert found[f"argu/mono/{metric}"] == pytest.approx(mean) == found[f"argu/mono/{metric}/en"]


def test_gzipped_collection_reads_the_same(tmp_path, collection, encoder):
    write_beir(tmp_path / "gz", gz=True)
    a, _, _, _ = evaluate(collection, encoder, tmp_path / "a", True, 10)
    b = load_beir(tmp_path / "gz", name="argu", encode_chunk=7).evaluate(
        encoder, metrics=["ndcg@10", "recall@5", "map", "mrr@10"], depth=10
    )[0]
    assert without_timing(a) == pytest.approx(without_timing(b))


def test_missing_path_and_files_name_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"eval\.benchmarks\.beir\.path is not set"):
        load_beir(None)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "corpus.jsonl").write_text('{"_id": "d", "text": "t"}\n')
    with pytest.raises(
        DataNotFoundError, match=r"(?s)eval\.benchmarks\.scifact\.path=.*queries\.jsonl.*qrels/test\.tsv"
    ):
        load_beir(tmp_path / "half", name="scifact")


def test_bad_lines_name_file_and_line(tmp_path):
    write_beir(tmp_path / "bad")
    with (tmp_path / "bad" / "queries.jsonl").open("a") as fh:
        fh.write('{"text": "no id"}\n')
    with pytest.raises(ValueError, match=r"queries\.jsonl:10: missing field '_id'"):
        load_beir(tmp_path / "bad")


def test_job_with_a_beir_collection(data_root, collection, tmp_path):
    from hybrid_retrieval.job.run_job import run_job

    cfg = compose_config(
        smoke_overrides(data_root, tmp_path)
        + [
            "eval=beir",
            f"eval.benchmarks.beir.path={collection}",
            "eval.benchmarks.beir.name=argu",
            "eval.benchmarks.beir.metrics=[ndcg@10,recall@100,map,mrr@10]",
            "eval.benchmarks.beir.depth=100",
            "trainer.max_steps=0",
            "save_encoder=false",
        ]
    )
    assert cfg.eval.benchmarks.beir.ignore_identical_ids is True
    metrics = run_job(cfg)
    for key in ("argu/mono/ndcg@10", "argu/mono/ndcg@10/en", "argu/mono/recall@100", "argu/mono/map"):
        assert 0 <= metrics[key] <= 1
    assert (tmp_path / "per_query_beir.csv.gz").is_file()
