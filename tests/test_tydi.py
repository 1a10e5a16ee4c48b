"""TyDi GoldP as a retrieval benchmark, the language-bias measures, and metrics reproduced from run files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import pytrec_eval
from conftest import GOLDP

from hybrid_retrieval.data.formats.tydi import TydiFormatError, read_goldp
from hybrid_retrieval.data.sentences import split_sentences
from hybrid_retrieval.eval.benchmarks.lareqa import load_lareqa
from hybrid_retrieval.eval.benchmarks.tydi import candidates, load_tydi
from hybrid_retrieval.eval.bias import lang_pref, query_lang_share
from hybrid_retrieval.eval.runfiles import read_qrels, read_run

TREC = {
    "ndcg@10": "ndcg_cut_10",
    "recall@1": "recall_1",
    "recall@10": "recall_10",
    "recall@100": "recall_100",
    "map": "map",
}


def test_official_single_file_and_per_language_files_give_the_same_records(data_root, tmp_path):
    per_lang = {
        x: read_goldp(data_root / "tydiqa-goldp" / "dev" / f"{name}_tydiqa_dev.json")[x]
        for x, (name, _) in GOLDP.items()
    }
    merged = {
        "data": [
            a
            for name, _ in GOLDP.values()
            for a in json.loads(
                (data_root / "tydiqa-goldp" / "dev" / f"{name}_tydiqa_dev.json").read_text(encoding="utf-8")
            )["data"]
        ]
    }
    official = tmp_path / "tydiqa-goldp-v1.1-dev.json"
    official.write_text(json.dumps(merged, ensure_ascii=False), encoding="utf-8")
    assert read_goldp(official) == per_lang
    assert read_goldp(official, ["sw"]) == {"sw": per_lang["sw"]}


def test_reader_errors_name_file_and_record(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "title": "t",
                        "paragraphs": [
                            {
                                "context": "abc",
                                "qas": [
                                    {"id": "swahili-1", "question": "q?", "answers": [{"answer_start": 9, "text": "z"}]}
                                ],
                            }
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(TydiFormatError, match=r"x\.json: data\[0\]\.paragraphs\[0\]\.qas\[0\]: answer_start=9"):
        read_goldp(bad)
    bad.write_text(
        json.dumps(
            {
                "data": [
                    {
                        "title": "t",
                        "paragraphs": [
                            {
                                "context": "abc",
                                "qas": [
                                    {"id": "klingon-1", "question": "q?", "answers": [{"answer_start": 0, "text": "a"}]}
                                ],
                            }
                        ],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(TydiFormatError, match="does not start with a GoldP language name"):
        read_goldp(bad)


@pytest.mark.parametrize(
    "lang, text, expected",
    [
        ("bn", "আমি ভাত খাই। তুমি কি খাও? সে জানে।", ["আমি ভাত খাই।", "তুমি কি খাও?", "সে জানে।"]),
        ("ar", "ذهبت إلى المدرسة. هل أنت هنا؟ نعم.", ["ذهبت إلى المدرسة.", "هل أنت هنا؟", "نعم."]),
        ("ko", "나는 간다. 너는 온다? 그래!", ["나는 간다.", "너는 온다?", "그래!"]),
        ("te", "నేను వచ్చాను. అతను వెళ్ళాడు.", ["నేను వచ్చాను.", "అతను వెళ్ళాడు."]),
    ],
)
def test_sentence_splitter_handles_the_scripts_and_keeps_offsets(lang, text, expected):
    spans = split_sentences(text, lang)
    assert [s for _, _, s in spans] == expected
    assert all(text[a:b] == s for a, b, s in spans)


def test_candidates_relevance_and_skipped_questions(data_root):
    recs = read_goldp(data_root / "tydiqa-goldp" / "dev" / "bengali_tydiqa_dev.json")["bn"]
    passages = candidates(recs, "passage")
    assert len(passages.candidates.ids) == 12 and len(passages.relevant) == 24 and passages.skipped == 0
    sentences = candidates(recs, "sentence")
    assert len(sentences.candidates.ids) == 36  # 12 passages x 3 danda-terminated sentences
    for r in recs:  # the relevant sentence holds the answer's first character
        text = sentences.candidates.texts[sentences.candidates.ids.index(sentences.relevant[r.qid])]
        assert r.context[r.answer_start : r.answer_start + 2] == text[:2]
    moved = [
        type(r)(r.qid, r.lang, r.question, r.title, r.context, r.answer, r.context.index("।") + 1) for r in recs[:1]
    ]
    assert candidates(moved, "sentence").skipped == 1  # answer starts on the space between two sentences


def test_language_bias_measures_on_hand_built_rankings():
    ranks = [np.array([1, 5, 9]), np.array([3, 2, 8]), np.array([4])]
    langs = [np.array(["de", "en", "zh"])] * 2 + [np.array(["de"])]
    assert lang_pref(ranks, langs, "de").tolist()[:2] == [1.0, 0.0] and np.isnan(lang_pref(ranks, langs, "de")[2])
    ranked = np.array([["de", "de", "en", None], ["zh", "en", "en", "de"]], dtype=object)
    assert query_lang_share(ranked, "de", k=4).tolist() == [0.5, 0.25]


def _check_against_trec_eval(found: dict, per_query: pd.DataFrame, runs, name: str, settings, metrics):
    for setting in settings:
        run, qrels = read_run(runs / name / f"{setting}.trec"), read_qrels(runs / name / f"{setting}.qrels")
        trec = pytrec_eval.RelevanceEvaluator(qrels, {TREC[m] for m in metrics if m in TREC}).evaluate(run)
        rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(
            {q: {d: s for d, s in docs.items() if d in _top10(run[q])} for q, docs in run.items()}
        )
        rows = per_query[per_query.setting == setting]
        pair_means = {}
        for (x, y), grp in rows.groupby(["query_lang", "corpus_lang"]):
            for m in metrics:
                ours = grp[m].to_numpy()
                theirs = np.array(
                    [
                        (rr if m == "mrr@10" else trec)[f"{x}-{y}:{q}"]["recip_rank" if m == "mrr@10" else TREC[m]]
                        for q in grp.qid
                    ]
                )
                np.testing.assert_allclose(ours, theirs, atol=1e-6, err_msg=f"{name} {setting} {m} {x}-{y}")
                pair_means.setdefault(m, []).append(theirs.mean())
        for m in metrics:
            assert found[f"{name}/{setting}/{m}"] == pytest.approx(np.mean(pair_means[m]), abs=1e-6)


def _top10(docs: dict) -> set:
    """trec_eval's order: score descending, then docid descending."""
    return {d for d, _ in sorted(docs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:10]}


@pytest.mark.parametrize("granularity", ["sentence", "passage"])
def test_tydi_metrics_equal_trec_eval_on_the_run_files(data_root, encoder, tmp_path, granularity):
    metrics = ["ndcg@10", "recall@1", "recall@10", "recall@100", "mrr@10", "map"]
    bench = load_tydi(
        languages=["sw", "te", "bn", "en"],
        granularity=granularity,
        root=data_root,
        settings=["mono", "multi"],
        metrics=metrics,
        depth=100,
        low_resource=["sw", "te", "bn"],
    )
    found, per_query = bench.evaluate(encoder, runs_dir=tmp_path)
    _check_against_trec_eval(found, per_query, tmp_path, "tydi", ["mono", "multi"], metrics)
    for m in metrics:
        low = [found[f"tydi/mono/{m}/{x}"] for x in ("sw", "te", "bn")]
        assert found[f"tydi/mono/{m}/low_resource"] == pytest.approx(np.mean(low))
    # pooled: each question keeps exactly one relevant candidate, in its own language
    qrels = read_qrels(tmp_path / "tydi" / "multi.qrels")
    assert all(len(d) == 1 and next(iter(d)).startswith(q.split("-")[0]) for q, d in qrels.items())
    assert 0 <= found["tydi/multi/query_lang@10"] <= 1 and "tydi/multi/rank_distance" not in found


def test_xquad_metrics_equal_trec_eval_on_the_run_files(data_root, encoder, tmp_path):
    metrics = ["map", "recall@1", "recall@10", "recall@100", "mrr@10", "ndcg@10"]
    bench = load_lareqa("xquad_r", "xquad-r", ["de", "en", "es"], root=data_root, metrics=metrics, depth=1000)
    found, per_query = bench.evaluate(encoder, runs_dir=tmp_path)
    _check_against_trec_eval(found, per_query, tmp_path, "xquad_r", ["mono", "cross", "multi"], metrics)
    assert found["xquad_r/multi/rank_distance"] >= 0 and 0 <= found["xquad_r/multi/lang_pref"] <= 1


def test_two_benchmarks_with_their_own_depths_and_metrics_in_one_job(data_root, tmp_path):
    from conftest import compose_config, smoke_overrides

    from hybrid_retrieval.job.evaluate import optimized_metric
    from hybrid_retrieval.job.run_job import run_job

    cfg = compose_config(smoke_overrides(data_root, tmp_path) + ["trainer.max_steps=2", "save_encoder=false"])
    assert cfg.eval.benchmarks.xquad_r.depth == 1000 and cfg.eval.benchmarks.tydi.depth == 100
    metrics = run_job(cfg)
    assert "xquad_r/multi/map" in metrics and "tydi/mono/ndcg@10/low_resource" in metrics
    assert "xquad_r/mono/ndcg@10" in metrics and "tydi/mono/map" in metrics
    assert optimized_metric(cfg) == "xquad_r/mono/map" and optimized_metric(cfg) in metrics
    assert metrics["data/tydi/candidates/sw"] == 36 and metrics["data/tydi/questions/sw"] == 24
    assert metrics["data/tydi/skipped_questions/sw"] == 0 and metrics["data/xquad_r/sentences/de"] == 72
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["tydi/multi/recall@100/sw"] == metrics["tydi/multi/recall@100/sw"]
