"""MIRACL in its official layout: every metric equals pytrec_eval's on the run files we write."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
from conftest import ROOT, compose_config, smoke_overrides, write_lareqa

from hybrid_retrieval.data.download import DATASETS, ENV_VAR, DataNotFoundError, sha256_of
from hybrid_retrieval.data.formats.miracl import LANGUAGES
from hybrid_retrieval.data.formats.trec import read_qrels, read_topics
from hybrid_retrieval.eval.benchmarks.miracl import load_miracl
from hybrid_retrieval.eval.runfiles import read_qrels as read_run_qrels
from hybrid_retrieval.eval.search import IndexSpec

WORDS = {
    "en": ["river", "castle", "engine", "garden", "market", "winter"],
    "sw": ["mto", "ngome", "injini", "bustani", "soko", "baridi"],
    "yo": ["odo", "ile", "ero", "ogba", "oja", "otutu"],
}
LAYOUT = {"en": "lang_gz", "sw": "hub", "yo": "lang_plain"}  # the three accepted corpus layouts
METRICS = ["ndcg@10", "recall@100", "recall@5", "map", "mrr@10"]
TREC_NAMES = {"ndcg@10": "ndcg_cut_10", "recall@100": "recall_100", "recall@5": "recall_5", "map": "map"}
SHARED = Path(os.environ.get(ENV_VAR) or ROOT.parent / "shared" / "data") / "miracl"


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def write_miracl(root: Path, corpus_dir: Path, n_articles: int = 40) -> None:
    """Topics, TREC qrels and corpus per language; with duplicate passages (tied scores) and edge-case queries."""
    for lang, layout in LAYOUT.items():
        w = WORDS[lang]
        passages = [
            {
                "docid": f"{a}#{p}",
                "title": f"{w[a % 6].title()} {a}",
                "text": f"{w[(a + p) % 6]} {a * 7 + p} {w[(a * p) % 6]} {'x' * (p + 1)}",
            }
            for a in range(n_articles)
            for p in range(4)
        ]
        passages.insert(21, {"docid": "5#9", "title": passages[20]["title"], "text": passages[20]["text"]})  # twin
        topics, qrels = [], []
        for q in range(12):
            a = (q * 3) % n_articles
            topics.append(f"{q + 1}\t{w[a % 6]} {a * 7 + 1}?")
            qrels += [
                f"{q + 1}\tQ0\t{a}#1\t1",
                f"{q + 1}\tQ0\t{a}#2\t0",
                f"{q + 1}\tQ0\t{(a + 1) % n_articles}#0\t{q % 2}",
            ]
        qrels += ["2\tQ0\t5#9\t1", "2\tQ0\t5#0\t1", "3\tQ0\t999#0\t1"]  # tie pair; judged passage missing from corpus
        topics.append(f"99\t{w[0]} nothing?")
        qrels.append("99\tQ0\t1#1\t0")  # a topic with no relevant passage is not evaluated (as trec_eval would not)
        (root / "miracl" / "topics").mkdir(parents=True, exist_ok=True)
        (root / "miracl" / "qrels").mkdir(parents=True, exist_ok=True)
        (root / "miracl" / "topics" / f"topics.miracl-v1.0-{lang}-dev.tsv").write_text("\n".join(topics) + "\n")
        (root / "miracl" / "qrels" / f"qrels.miracl-v1.0-{lang}-dev.tsv").write_text("\n".join(qrels) + "\n")
        half = len(passages) // 2
        if layout == "hub":
            folder = corpus_dir / f"miracl-corpus-v1.0-{lang}"
            write_jsonl(folder / "docs-0.jsonl.gz", passages[:half])
            write_jsonl(folder / "docs-1.jsonl.gz", passages[half:])
        elif layout == "lang_gz":
            write_jsonl(corpus_dir / lang / "docs-0.jsonl.gz", passages)
        else:
            write_jsonl(corpus_dir / lang / "part-a.jsonl", passages[:half])
            write_jsonl(corpus_dir / lang / "part-b.jsonl", passages[half:])


@pytest.fixture(scope="module")
def miracl_root(tmp_path_factory) -> tuple[Path, Path]:
    root, corpus = tmp_path_factory.mktemp("miracl_root"), tmp_path_factory.mktemp("miracl_corpus")
    write_miracl(root, corpus)
    for lang in ("de", "en", "es"):
        write_lareqa(root / "mlqa-r" / f"{lang}.json", lang)
        write_lareqa(root / "xquad-r" / f"{lang}.json", lang)
    return root, corpus


class Recording:
    """Wraps an encoder and keeps the passage texts it was given."""

    def __init__(self, inner):
        self.inner, self.passages = inner, []

    def encode(self, texts, kind, **kw):
        if kind == "passage":
            self.passages += list(texts)
        return self.inner.encode(texts, kind)


def read_ranked(path: Path) -> dict[str, list[tuple[str, float]]]:
    """Run file in file order (rank order), per query."""
    out: dict[str, list[tuple[str, float]]] = {}
    for line in path.read_text().splitlines():
        qid, _, doc, rank, score, _ = line.split()
        out.setdefault(qid, []).append((doc, float(score)))
        assert int(rank) == len(out[qid])
    return out


def trec_eval_scores(ranked, qrels, depth_cut=None):
    run = {q: {d: s for d, s in docs[:depth_cut]} for q, docs in ranked.items()}
    names = set(TREC_NAMES.values()) | {"recip_rank"}
    return pytrec_eval.RelevanceEvaluator(qrels, names).evaluate(run)


def test_metrics_equal_pytrec_eval_on_the_run_files(miracl_root, encoder, tmp_path):
    root, corpus = miracl_root
    bench = load_miracl(
        languages=["en", "sw", "yo"],
        root=root,
        corpus_dir=corpus,
        hub_corpus=None,
        low_resource=["sw", "te", "yo", "bn", "th"],
        index=IndexSpec(corpus_chunk=37),
        encode_chunk=50,
    )
    recorder = Recording(encoder)
    metrics, per_query = bench.evaluate(recorder, metrics=METRICS, depth=100, runs_dir=tmp_path)
    ranked = read_ranked(tmp_path / "miracl" / "mono.trec")
    qrels = read_run_qrels(tmp_path / "miracl" / "mono.qrels")
    assert set(ranked) == set(qrels) == {f"{lang}:{q}" for lang in LAYOUT for q in range(1, 13)}
    assert all(len(docs) == 100 for docs in ranked.values())
    for docs in ranked.values():  # trec_eval's order: score descending, then docid descending
        assert docs == sorted(docs, key=lambda d: (d[1], d[0].encode()), reverse=True)
    twins = [[d[0] for d in docs if d[0] in ("5#0", "5#9")] for docs in ranked.values()]
    assert ["5#9", "5#0"] in twins  # the duplicate passages tie; the larger id ranks first, as in trec_eval
    full = trec_eval_scores(ranked, qrels)
    top10 = trec_eval_scores(ranked, qrels, depth_cut=10)
    assert len(per_query) == 36 and set(per_query.setting) == {"mono"}
    for row in per_query.itertuples():
        key = f"{row.query_lang}:{row.qid}"
        for metric, trec in TREC_NAMES.items():
            assert per_query.loc[row.Index, metric] == pytest.approx(full[key][trec], abs=1e-6), (key, metric)
        assert per_query.loc[row.Index, "mrr@10"] == pytest.approx(top10[key]["recip_rank"], abs=1e-6)
    lang_means = {}
    for lang in LAYOUT:
        for metric, trec in TREC_NAMES.items():
            value = np.mean([full[k][trec] for k in full if k.startswith(f"{lang}:")])
            lang_means[(lang, metric)] = value
            assert metrics[f"miracl/mono/{metric}/{lang}"] == pytest.approx(value, abs=1e-9)
    for metric in TREC_NAMES:
        assert metrics[f"miracl/mono/{metric}"] == pytest.approx(np.mean([lang_means[(x, metric)] for x in LAYOUT]))
        assert metrics[f"miracl/mono/{metric}/low_resource"] == pytest.approx(
            np.mean([lang_means[("sw", metric)], lang_means[("yo", metric)]])
        )
    assert 0 < metrics["miracl/mono/recall@100"] <= 1 and metrics["miracl/mono/ndcg@10"] > 0
    # passages were encoded as "title text", every one of them once
    assert "Ngome 1 injini 8 ngome xx" in recorder.passages
    assert len(recorder.passages) == 3 * 161


def test_judged_passage_missing_from_corpus_still_counts_as_relevant(miracl_root, encoder):
    root, corpus = miracl_root
    bench = load_miracl(languages=["yo"], root=root, corpus_dir=corpus, hub_corpus=None)
    _, per_query = bench.evaluate(encoder, metrics=["recall@100"], depth=100)
    # query 3 has 2 relevant passages, one of which (999#0) is not in the corpus: recall can reach 1/2 at most
    assert per_query.set_index("qid").loc["3", "recall@100"] <= 0.5


def test_real_topics_and_qrels_parse_and_match_the_pinned_checksums():
    if not SHARED.is_dir():
        pytest.skip(f"no MIRACL topics at {SHARED}")
    pinned = {f.relpath: f.sha256 for f in DATASETS["miracl"]}
    for split, langs in LANGUAGES.items():
        for lang in langs:
            topics = read_topics(SHARED / "topics" / f"topics.miracl-v1.0-{lang}-{split}.tsv")
            qrels = read_qrels(SHARED / "qrels" / f"qrels.miracl-v1.0-{lang}-{split}.tsv")
            assert topics and set(qrels) <= set(topics), (lang, split)
            assert all(set(levels.values()) <= {0, 1} for levels in qrels.values())
            for kind in ("topics", "qrels"):
                rel = f"miracl/{kind}/{kind}.miracl-v1.0-{lang}-{split}.tsv"
                assert sha256_of(SHARED.parent / rel) == pinned[rel]
    assert len(read_topics(SHARED / "topics" / "topics.miracl-v1.0-yo-dev.tsv")) == 119


def test_missing_corpus_fails_before_training_naming_key_and_both_ways(miracl_root, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root, _ = miracl_root
    cfg = compose_config(
        smoke_overrides(root, tmp_path)
        + [
            "eval=miracl",
            "eval.benchmarks.miracl.languages=[en,sw]",
            "eval.benchmarks.miracl.metrics=[ndcg@10,recall@100]",
            "eval.benchmarks.miracl.depth=100",
        ]
    )
    from hybrid_retrieval.job.run_job import run_job

    with pytest.raises(DataNotFoundError) as err:
        run_job(cfg)
    text = str(err.value)
    assert "eval.benchmarks.miracl.corpus_dir" in text and "miracl/miracl-corpus" in text
    assert "hf download miracl/miracl-corpus" in text and "'en'" in text
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "csv").exists()


def test_corpus_dir_without_a_language_names_it(miracl_root, tmp_path):
    import shutil

    root, corpus = miracl_root
    with pytest.raises(DataNotFoundError, match=r"(?s)topics\.miracl-v1\.0-te-dev\.tsv.*--only miracl"):
        load_miracl(languages=["te"], root=root, corpus_dir=corpus, hub_topics=None)  # no te topics in this root
    shutil.copytree(root / "miracl", tmp_path / "miracl")
    for kind in ("topics", "qrels"):
        en = tmp_path / "miracl" / kind / f"{kind}.miracl-v1.0-en-dev.tsv"
        shutil.copy(en, en.with_name(en.name.replace("-en-", "-te-")))
    with pytest.raises(DataNotFoundError, match=r"(?s)'te'.*eval\.benchmarks\.miracl\.corpus_dir") as err:
        load_miracl(languages=["en", "te"], root=tmp_path, corpus_dir=corpus, hub_topics=None)
    assert "hub_corpus" in str(err.value) and "te/*.jsonl" in str(err.value)
    with pytest.raises(DataNotFoundError, match=r"corpus_dir=.*nope: directory does not exist"):
        load_miracl(languages=["en"], root=root, corpus_dir=tmp_path / "nope")


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"languages": ["en", "xx"]}, "eval.benchmarks.miracl.languages"),
        ({"languages": ["de"], "split": "train"}, "eval.benchmarks.miracl.languages"),
        ({"split": "test"}, "eval.benchmarks.miracl.split"),
        ({"low_resource": ["klingon"]}, "eval.benchmarks.miracl.low_resource"),
        ({"index": {"kind": "lsh"}}, "eval.index.kind"),
        ({"embedding_dtype": "int4"}, "eval.embedding_dtype"),
    ],
)
def test_bad_values_fail_naming_the_key(miracl_root, kwargs, key):
    root, corpus = miracl_root
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        load_miracl(**{"languages": ["en"], "root": root, "corpus_dir": corpus, **kwargs})


def test_job_with_miracl_writes_per_language_and_low_resource_keys(miracl_root, tmp_path):
    from hybrid_retrieval.job.run_job import run_job

    root, corpus = miracl_root
    cfg = compose_config(
        smoke_overrides(root, tmp_path)
        + [
            "eval=miracl",
            "eval.benchmarks.miracl.languages=[en,sw,yo]",
            f"eval.benchmarks.miracl.corpus_dir={corpus}",
            "eval.benchmarks.miracl.metrics=[ndcg@10,recall@100]",
            "eval.benchmarks.miracl.depth=100",
            "eval.save_runs=true",
            "trainer.max_steps=2",
            "eval.index.kind=hnsw",
            "eval.embedding_dtype=float16",
        ]
    )
    metrics = run_job(cfg)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    for key in [
        "miracl/mono/ndcg@10",
        "miracl/mono/recall@100",
        "miracl/mono/ndcg@10/sw",
        "miracl/mono/ndcg@10/en",
        "miracl/mono/recall@100/low_resource",
        "miracl/mono/ndcg@10/low_resource",
    ]:
        assert key in on_disk and 0 <= on_disk[key] <= 1, key
    assert on_disk["miracl/mono/ndcg@10/low_resource"] == pytest.approx(
        (on_disk["miracl/mono/ndcg@10/sw"] + on_disk["miracl/mono/ndcg@10/yo"]) / 2
    )
    assert not any(k.startswith("xquad_r/") for k in metrics)
    assert (tmp_path / "runs" / "miracl" / "mono.trec").is_file()
    assert (tmp_path / "per_query_miracl.csv.gz").is_file()


def test_corpus_files_sort_naturally_and_embeddings_dir_is_checked_early(miracl_root, tmp_path):
    from hybrid_retrieval.data.formats.miracl import corpus_files

    for n in (10, 2, 1):
        (tmp_path / "c" / "te").mkdir(parents=True, exist_ok=True)
        (tmp_path / "c" / "te" / f"docs-{n}.jsonl.gz").write_bytes(b"")
    assert [f.name for f in corpus_files(tmp_path / "c", "te")] == [
        "docs-1.jsonl.gz",
        "docs-2.jsonl.gz",
        "docs-10.jsonl.gz",
    ]
    root, corpus = miracl_root
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"eval\.embeddings_dir=.*file/sub: cannot create it"):
        load_miracl(languages=["en"], root=root, corpus_dir=corpus, embeddings_dir=str(tmp_path / "file" / "sub"))


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "topics").is_dir(), reason="needs the data root's MIRACL topics and qrels")
def test_cli_miracl_on_official_layout_with_real_ids_matches_pytrec_eval(tmp_path):
    """Real MIRACL dev ids (en and low-resource sw) over a corpus in the official layout, through the CLI."""
    from cli_helpers import run_cli

    corpus = tmp_path / "corpus"
    for lang in ("en", "sw"):
        topics = read_topics(SHARED / "topics" / f"topics.miracl-v1.0-{lang}-dev.tsv")
        qrels = read_qrels(SHARED / "qrels" / f"qrels.miracl-v1.0-{lang}-dev.tsv")
        rows, seen = [], set()
        for qid in list(qrels)[:40]:  # judged passages of 40 real queries: relevant ones echo their query
            for docid, level in qrels[qid].items():
                if docid not in seen:
                    seen.add(docid)
                    text = topics[qid] if level > 0 else f"{topics[qid][::-1]} {docid}"
                    rows.append({"docid": docid, "title": docid.split("#")[0], "text": text})
        rows += [{"docid": f"9{i}#0", "title": "x", "text": f"distractor {i} {WORDS[lang][i % 6]}"} for i in range(150)]
        write_jsonl(corpus / f"miracl-corpus-v1.0-{lang}" / "docs-0.jsonl.gz", rows[: len(rows) // 2])
        write_jsonl(corpus / f"miracl-corpus-v1.0-{lang}" / "docs-1.jsonl.gz", rows[len(rows) // 2 :])
    out = tmp_path / "job"
    proc = run_cli(
        [
            "experiment=smoke",
            "eval=miracl",
            "eval.benchmarks.miracl.languages=[en,sw]",
            f"eval.benchmarks.miracl.corpus_dir={corpus}",
            f"paths.data_dir={SHARED.parent}",
            "trainer.max_steps=0",
            "save_encoder=false",
            "eval.save_runs=true",
            f"hydra.run.dir={out}",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    from hybrid_retrieval.eval.runfiles import read_run

    run, qrels = read_run(out / "runs" / "miracl" / "mono.trec"), read_run_qrels(out / "runs" / "miracl" / "mono.qrels")
    trec = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10", "recall_100"}).evaluate(run)
    for ours, theirs in (("ndcg@10", "ndcg_cut_10"), ("recall@100", "recall_100")):
        per_lang = {
            lang: np.mean([v[theirs] for q, v in trec.items() if q.startswith(f"{lang}:")]) for lang in ("en", "sw")
        }
        for lang, value in per_lang.items():
            assert metrics[f"miracl/mono/{ours}/{lang}"] == pytest.approx(value, abs=1e-6)
        assert metrics[f"miracl/mono/{ours}"] == pytest.approx(np.mean(list(per_lang.values())), abs=1e-6)
        assert metrics[f"miracl/mono/{ours}/low_resource"] == pytest.approx(per_lang["sw"], abs=1e-6)
    assert metrics["miracl/mono/recall@100/sw"] > 0.05  # the echoed relevant passages are found
