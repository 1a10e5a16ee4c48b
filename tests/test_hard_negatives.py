"""Mined hard negatives: mining (answer never a negative, skip and window, resume) and training with them
(each pair's negatives in its passage's language, read from the batch trace)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import compose_config, smoke_overrides

from hybrid_retrieval.config.validate import ConfigError, validate
from hybrid_retrieval.data.corpus import ParallelCorpus
from hybrid_retrieval.data.datamodule import PairDataset
from hybrid_retrieval.data.hard_negatives import NegativePicker, passage_tables, read_mined, spec_from
from hybrid_retrieval.mine import core
from hybrid_retrieval.mine.core import MineSettings, mine
from hybrid_retrieval.mine.retrievers import BM25Retriever
from hybrid_retrieval.model.loss import InfoNCELoss

LANGS = ["de", "en", "es"]


@pytest.fixture(scope="module")
def corpus(data_root) -> ParallelCorpus:
    return ParallelCorpus.from_lareqa("mlqa-r", LANGS, data_root)


@pytest.fixture(scope="module")
def bm25_file(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mined") / "bm25.jsonl"
    mine(corpus, BM25Retriever(), MineSettings(k=4, skip=1, window=10), out)
    return out


class ByIdRetriever:
    """A retriever whose ranking is known: every query ranks the passages in reverse pid order."""

    name = "by_id"

    def describe(self) -> dict:
        return {"retriever": "by_id"}

    def index(self, passages):
        self.n = len(passages)

    def queries(self, texts):
        return list(texts)

    def search(self, queries, depth):
        return np.tile(np.arange(self.n)[::-1][:depth], (len(queries), 1))


def test_mined_negatives_never_hold_the_query_s_own_answer(corpus, bm25_file):
    meta, lines = read_mined(bm25_file)
    assert meta["retriever"] == "bm25" and meta["skip"] == 1 and meta["window"] == 10
    assert len(lines) == int(corpus.available.sum())  # one line per (query, language)
    tables = passage_tables(corpus)
    for (item, q_lang, lang), pids in lines.items():
        assert q_lang == lang  # --pairs same
        answer = corpus.example(corpus.items.index(item), LANGS.index(lang)).positive
        assert len(pids) == 4 and answer.pid not in pids
        assert all(tables[LANGS.index(lang)][pid].text != answer.text for pid in pids)
        assert all(pid.startswith(f"{lang}:") for pid in pids)  # LAReQA ids carry their language


def test_skip_and_rank_window_are_honoured(corpus, tmp_path):
    settings = MineSettings(k=3, skip=5, window=4, seed=7)
    out = tmp_path / "by_id.jsonl"
    mine(corpus, ByIdRetriever(), settings, out)
    tables = passage_tables(corpus)
    for line in out.read_text(encoding="utf-8").splitlines()[1:]:
        record = json.loads(line)
        j = LANGS.index(record["lang"])
        answer = corpus.example(corpus.items.index(record["item"]), j).positive
        ranked = [pid for pid in sorted(tables[j], reverse=True) if pid != answer.pid]  # the known ranking
        window = ranked[5:9]  # ranks 6..9 after the answer is removed
        assert len(record["negatives"]) == 3 and set(record["negatives"]) <= set(window)
        assert all(6 <= r <= 9 for r in record["ranks"]) and record["ranks"] == sorted(record["ranks"])
        assert [ranked[r - 1] for r in record["ranks"]] == record["negatives"]
    # a window larger than what is left gives all of it; skip 0 starts at rank 1
    mine(corpus, ByIdRetriever(), MineSettings(k=50, skip=0, window=2), tmp_path / "all.jsonl")
    first = json.loads((tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()[1])
    assert first["ranks"] == [1, 2]


def test_a_killed_mining_run_resumes_to_the_same_file(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(core, "CHUNK", 10)
    settings = MineSettings(k=4, skip=1, window=10)
    whole = tmp_path / "whole.jsonl"
    mine(corpus, BM25Retriever(), settings, whole)

    class Killed(Exception):
        pass

    def kill_after(written):
        if written >= 50:
            raise Killed

    out = tmp_path / "killed.jsonl"
    with pytest.raises(Killed):
        mine(corpus, BM25Retriever(), settings, out, after_chunk=kill_after)
    kept = len(out.read_text(encoding="utf-8").splitlines()) - 1  # complete lines after the meta line
    assert 50 <= kept < int(corpus.available.sum())
    with out.open("a", encoding="utf-8") as f:  # killed in the middle of writing a line
        f.write('{"item": "p3q1", "query_la')
    figures = mine(corpus, BM25Retriever(), settings, out)
    assert figures["written"] == int(corpus.available.sum()) - kept and figures["lines"] == int(corpus.available.sum())
    assert out.read_bytes() == whole.read_bytes()
    assert mine(corpus, BM25Retriever(), settings, out)["written"] == 0  # complete: nothing left to do
    with pytest.raises(ValueError, match="mined otherwise"):  # other settings never append to it
        mine(corpus, BM25Retriever(), MineSettings(k=4, skip=2, window=10), out)


def test_dense_mining_through_the_cli_with_the_project_s_backbone(data_root, tmp_path):
    from hybrid_retrieval.mine.__main__ import main

    out = tmp_path / "dense.jsonl"
    assert (
        main(
            [
                "--retriever",
                "dense",
                "--k",
                "2",
                "--skip",
                "0",
                "--window",
                "5",
                "--pairs",
                "all",
                "--out",
                str(out),
                "experiment=smoke",
                "model=tiny",
                f"paths.data_dir={data_root}",
            ]
        )
        == 0
    )
    meta, lines = read_mined(out)
    assert meta["retriever"] == "dense" and meta["model"].startswith("tiny")
    assert {(q, p) for _, q, p in lines} == {(q, p) for q in LANGS for p in LANGS}  # every query language too
    assert all(all(pid.startswith(f"{p}:") for pid in pids) and len(pids) == 2 for (_, _, p), pids in lines.items())


def test_each_pair_takes_its_negatives_in_its_passage_s_language(corpus, bm25_file):
    picker = NegativePicker(corpus, {"source": "file", "n": 2, "path": str(bm25_file)}, seed=3)
    de, en, es = range(3)
    cross = picker.pick(0, de, es)
    assert len(cross) == 2 and all(lang == es and p.pid.startswith("es:") for p, lang in cross)
    mono = picker.pick(0, de, de)
    assert all(lang == de and p.pid.startswith("de:") for p, lang in mono)
    # translated: the same negatives in the query's language, where the corpus knows the translation
    translated = NegativePicker(corpus, {"source": "file", "n": 4, "path": str(bm25_file), "translated": True})
    tables = passage_tables(corpus)
    answers = {corpus.example(i, es).positive.pid: corpus.example(i, de).positive.pid for i in range(len(corpus))}
    mined = [p.pid for p in translated.mined[(0, es, es)]]
    got = translated.pick(0, de, es)
    assert [p.pid for p, _ in got] == [answers[pid] for pid in mined if pid in answers]
    assert all(lang == de and p.pid in tables[de] for p, lang in got)


def test_an_integer_still_means_paragraph_sentences(corpus):
    assert spec_from(2) == spec_from({"source": "paragraph", "n": 2})
    old = PairDataset(corpus, {"mono": None}, hard_negatives=2, seed=1)
    new = PairDataset(corpus, {"mono": None}, hard_negatives={"source": "paragraph", "n": 2}, seed=1)
    for item in range(5):
        assert old.negatives.pick(item, 0, 1) == new.negatives.pick(item, 0, 1)
        assert len(old.negatives.pick(item, 0, 1)) == 2  # 3-sentence paragraphs: both others


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["data.hard_negatives.source=bm25"],
            "data.hard_negatives.source='bm25': must be one of ['none', 'paragraph', 'file']",
        ),
        (["data.hard_negatives.source=file", "data.hard_negatives.n=2"], "data.hard_negatives.path: source=file needs"),
        (
            ["data.hard_negatives.source=file", "data.hard_negatives.n=2", "data.hard_negatives.path=/no/such.jsonl"],
            "data.hard_negatives.path=/no/such.jsonl: no such file; mine it first: python -m hybrid_retrieval.mine",
        ),
        (["data.hard_negatives.source=none", "data.hard_negatives.n=1"], "data.hard_negatives.n=1 with source=none"),
        (["data.hard_negatives.n=-2"], "data.hard_negatives.n=-2: must be an integer >= 0"),
    ],
)
def test_bad_hard_negative_settings_fail_before_training(data_root, tmp_path, overrides, message):
    cfg = compose_config(smoke_overrides(data_root, tmp_path) + overrides)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert message in str(err.value)


def test_a_file_mined_for_fewer_languages_fails_naming_the_gap(data_root, tmp_path):
    two = ParallelCorpus.from_lareqa("mlqa-r", ["de", "en"], data_root)
    out = tmp_path / "two.jsonl"
    mine(two, BM25Retriever(), MineSettings(k=2, skip=0, window=4), out)
    three = ParallelCorpus.from_lareqa("mlqa-r", LANGS, data_root)
    with pytest.raises(ValueError, match="no mined negatives for 48 training pair"):
        NegativePicker(three, {"source": "file", "n": 2, "path": str(out)})


def test_loss_masks_a_mined_negative_that_is_another_pair_s_answer():
    torch.manual_seed(0)
    q, pos = torch.randn(2, 8), torch.randn(2, 8)
    p = torch.cat([pos, pos[1:]])  # query 0's mined negative is query 1's answer
    keys = torch.tensor([10, 11, 11])
    loss = InfoNCELoss(0.05)(q, p, keys)
    scores = q @ p.T / 0.05
    expect = (
        (
            torch.logsumexp(scores[0], 0)
            - scores[0, 0]  # a negative for query 0
            + torch.logsumexp(scores[1, :2], 0)
            - scores[1, 1]
        )
        / 2
    )  # masked for query 1: it is its answer
    assert torch.allclose(loss, expect, atol=1e-5)


# translated: some pairs have fewer negatives than others; GradCache chunks the passages of such batches
@pytest.mark.parametrize("translated, extra", [(False, []), (True, ["model.grad_cache.chunk_size=5"])])
def test_cross_lingual_batches_negatives_are_in_their_passages_language_in_the_trace(
    data_root, tmp_path, bm25_file, translated, extra, one_torch_thread
):
    import pytorch_lightning as pl

    from hybrid_retrieval.data.batch_trace import BatchTrace, trace_path
    from hybrid_retrieval.job.train import build, build_datamodule

    cfg = compose_config(
        smoke_overrides(data_root, tmp_path)
        + [
            "data.cross_ratio=0.5",
            "data.hard_negatives.source=file",
            "data.hard_negatives.n=2",
            f"data.hard_negatives.path={bm25_file}",
            f"data.hard_negatives.translated={str(translated).lower()}",
            *extra,
        ]
    )
    validate(cfg)
    model = build(cfg.model)
    datamodule = build_datamodule(cfg.data, collate_fn=model.make_collator())
    trainer = pl.Trainer(
        max_steps=6,
        callbacks=[BatchTrace(tmp_path)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )
    trainer.fit(model, datamodule=datamodule)
    records = [json.loads(line) for line in trace_path(tmp_path, 0).read_text(encoding="utf-8").splitlines()]
    assert len(records) == 6 and {r["is_cross"] for r in records} == {True, False}
    seen = 0
    for r in records:
        for q_lang, p_lang, negs in zip(r["query_langs"], r["passage_langs"], r["negative_langs"], strict=True):
            expected = q_lang if translated else p_lang  # mono batches: the two are one language
            assert set(negs) <= {expected}, r
            assert len(negs) == 2 or (translated and q_lang != p_lang), r  # translated: those that have one
            assert q_lang != p_lang if r["is_cross"] else q_lang == p_lang
            seen += len(negs)
    assert seen > 0


SLOW_MINER = """
import sys, time
from hybrid_retrieval.data.corpus import ParallelCorpus
from hybrid_retrieval.mine import core
from hybrid_retrieval.mine.retrievers import BM25Retriever

class Slow(BM25Retriever):
    def search(self, queries, depth):
        time.sleep(0.3)
        return super().search(queries, depth)

core.CHUNK = 10
corpus = ParallelCorpus.from_lareqa("mlqa-r", ["de", "en", "es"], sys.argv[1])
core.mine(corpus, Slow(), core.MineSettings(k=4, skip=1, window=10), sys.argv[2])
"""


def test_a_sigkilled_mining_process_resumes_to_the_same_file(corpus, data_root, tmp_path, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    monkeypatch.setattr(core, "CHUNK", 10)
    settings = MineSettings(k=4, skip=1, window=10)
    whole = tmp_path / "whole.jsonl"
    mine(corpus, BM25Retriever(), settings, whole)
    out = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_MINER, str(data_root), str(out)], cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.is_file() or out.read_text(encoding="utf-8").count("\n") < 31):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = out.read_text(encoding="utf-8").count("\n") - 1
    assert 30 <= kept < int(corpus.available.sum())  # killed part-way
    assert mine(corpus, BM25Retriever(), settings, out)["written"] == int(corpus.available.sum()) - kept
    assert out.read_bytes() == whole.read_bytes()
