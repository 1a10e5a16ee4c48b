"""MIRACL at scale: the corpus fetched once per machine (served from 127.0.0.1), encoded once per model,
resumed after a kill, and priced before the work."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ROOT, without_timing, write_lareqa

from hybrid_retrieval.data import download, miracl_corpus
from hybrid_retrieval.data.download import DataNotFoundError
from hybrid_retrieval.data.formats.passages import JsonlCorpus
from hybrid_retrieval.data.miracl_manifest import REVISION

WORDS = {
    "sw": ["mto", "ngome", "injini", "bustani", "soko", "baridi", "mlima", "ziwa"],
    "yo": ["odo", "ile", "ero", "ogba", "oja", "otutu", "oke", "adagun"],
}
SHARDS, PER_SHARD = 3, 500  # per language: 1,500 passages in 3 shards (3,000 in all)


def passages(lang: str) -> list[dict]:
    w = WORDS[lang]
    return [
        {
            "docid": f"{i // 4}#{i % 4}",
            "title": f"{w[i % 8].title()} {i // 4}",
            "text": f"{w[(i * 3) % 8]} {i} {w[(i * 5) % 8]} {w[(i // 7) % 8]} {i % 13}",
        }
        for i in range(SHARDS * PER_SHARD)
    ]


def write_origin(origin: Path, root: Path) -> dict[str, bytes]:
    """The hub's layout for two languages at the pinned revision (tree API + resolve URLs), and topics/qrels
    under the data root; returns the shard bytes by URL path."""
    served = {}
    for lang in WORDS:
        folder = f"miracl-corpus-v1.0-{lang}"
        rows, tree = passages(lang), []
        for s in range(SHARDS):
            data = gzip.compress(
                "".join(
                    json.dumps(r, ensure_ascii=False) + "\n" for r in rows[s * PER_SHARD : (s + 1) * PER_SHARD]
                ).encode(),
                mtime=0,
            )
            rel = f"datasets/miracl/miracl-corpus/resolve/{REVISION}/{folder}/docs-{s}.jsonl.gz"
            (origin / rel).parent.mkdir(parents=True, exist_ok=True)
            (origin / rel).write_bytes(data)
            served["/" + rel] = data
            tree.append(
                {
                    "type": "file",
                    "path": f"{folder}/docs-{s}.jsonl.gz",
                    "size": len(data),
                    "oid": "x",
                    "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134},
                }
            )
        api = origin / "api" / "datasets" / "miracl" / "miracl-corpus" / "tree" / REVISION / folder
        api.parent.mkdir(parents=True, exist_ok=True)
        api.write_text(json.dumps(tree))
        topics, qrels = [], []
        for q in range(30):
            i = q * 37 % len(rows)
            topics.append(f"{q + 1}\t{rows[i]['text'].split()[0]} {i}")
            qrels += [f"{q + 1}\tQ0\t{rows[i]['docid']}\t1", f"{q + 1}\tQ0\t{rows[(i + 1) % len(rows)]['docid']}\t0"]
        for kind, lines in (("topics", topics), ("qrels", qrels)):
            path = root / "miracl" / kind / f"{kind}.miracl-v1.0-{lang}-dev.tsv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
    for lang in ("de", "en", "es"):
        write_lareqa(root / "mlqa-r" / f"{lang}.json", lang)
        write_lareqa(root / "xquad-r" / f"{lang}.json", lang)
    return served


class _Handler(SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A hub stand-in on 127.0.0.1 (a free port), counting the GETs it answers; and a data root."""
    origin, root = tmp_path_factory.mktemp("origin"), tmp_path_factory.mktemp("root")
    served = write_origin(origin, root)
    handler = type("Handler", (_Handler,), {"requests": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(origin)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {
        "url": f"http://127.0.0.1:{httpd.server_address[1]}",
        "handler": handler,
        "root": root,
        "served": served,
        "origin": origin,
    }
    httpd.shutdown()
    httpd.server_close()


def shard_gets(handler) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in handler.requests:
        if path.endswith(".jsonl.gz"):
            counts[path] = counts.get(path, 0) + 1
    return counts


def encoded_lines(emb_dir: Path) -> list[str]:
    return [line for log in sorted(emb_dir.glob("*/encoded.log")) for line in log.read_text().splitlines()]


def tokenized_lines(cache: Path) -> list[str]:
    """Every shard tokenised into the kept corpus token ids (data/shard_tokens.py), one line each."""
    logs = sorted((cache / "tokens" / "shards").glob("*/tokenized.log"))
    return [line for log in logs for line in log.read_text().splitlines()]


def env_for(hub, cache: Path) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_ENDPOINT": hub["url"],
        "HYBRID_RETRIEVAL_DOWNLOAD": "auto",
        "HYBRID_RETRIEVAL_CACHE": str(cache),
        "OMP_NUM_THREADS": "1",
        "WANDB_MODE": "offline",
    }


def job_args(hub, extra=()) -> list[str]:
    return [
        "experiment=smoke",
        "model=tiny",
        "eval=miracl",
        "eval.benchmarks.miracl.languages=[sw,yo]",
        f"paths.data_dir={hub['root']}",
        "data.batch_size=8",
        "eval.encode_chunk=100",
        *extra,
    ]


def test_fetch_verifies_each_shard_once_and_reads_like_the_jsonl(hub, tmp_path, monkeypatch, caplog):
    root = tmp_path / "data"
    monkeypatch.setattr(download, "_unreachable", None)
    before = dict(shard_gets(hub["handler"]))
    with caplog.at_level("INFO"):
        folder = miracl_corpus.ensure_corpus(root, "sw", hub_endpoint=hub["url"])
        assert miracl_corpus.ensure_corpus(root, "sw", hub_endpoint=hub["url"]) == folder  # complete: no request
    got = {k: v - before.get(k, 0) for k, v in shard_gets(hub["handler"]).items() if v - before.get(k, 0)}
    assert sorted(got) == sorted(k for k in hub["served"] if "-sw/" in k) and set(got.values()) == {1}
    assert sorted(p.name for p in folder.iterdir()) == [
        "docs-0.parquet",
        "docs-1.parquet",
        "docs-2.parquet",
        "manifest.json",
    ]
    assert any("shard 3/3 docs-2.jsonl.gz verified, 500 passages" in r.getMessage() for r in caplog.records)
    corpus = miracl_corpus.ParquetCorpus.from_dir(folder)
    jsonl = tmp_path / "sw.jsonl"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in passages("sw")))
    assert list(corpus.batches(128)) == list(JsonlCorpus((jsonl,), "docid").batches(128))
    assert list(corpus.batches(128, skip=384)) == list(corpus.batches(128))[3:]  # resumable at a shard boundary
    assert len(corpus) == 1500


def test_a_shard_that_is_not_the_pinned_one_is_not_kept(hub, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_unreachable", None)
    real = miracl_corpus.list_shards

    def wrong(*args, **kwargs):
        shards = real(*args, **kwargs)
        return [shards[0].__class__(s.name, s.size, "0" * 64, s.url) if i == 1 else s for i, s in enumerate(shards)]

    monkeypatch.setattr(miracl_corpus, "list_shards", wrong)
    with pytest.raises(download.ChecksumMismatchError, match="docs-1.jsonl.gz"):
        miracl_corpus.ensure_corpus(tmp_path, "yo", hub_endpoint=hub["url"])
    folder = miracl_corpus.corpus_dir(tmp_path, "yo")
    assert sorted(p.name for p in folder.iterdir()) == ["docs-0.parquet"]  # verified shard kept, nothing else
    assert miracl_corpus.read_manifest(folder) is None


def test_download_never_and_no_network_keep_the_clear_error(hub, tmp_path, monkeypatch):
    from hybrid_retrieval.eval.benchmarks.miracl import load_miracl

    download.set_policy("never")
    try:
        with pytest.raises(DataNotFoundError, match=r"(?s)paths\.download=never.*hf download miracl/miracl-corpus"):
            load_miracl(languages=["sw"], root=hub["root"], hub_topics=None)
    finally:
        download.set_policy(None)
    download.set_policy("auto")
    monkeypatch.setattr(download, "_unreachable", None)
    try:
        with pytest.raises(DataNotFoundError, match=r"(?s)fetching it from the hub.*127\.0\.0\.1:9.*corpus_dir=DIR"):
            load_miracl(
                languages=["sw"],
                root=_root_with_topics(hub, tmp_path),
                hub_topics=None,
                hub_endpoint="http://127.0.0.1:9",
            )
    finally:
        download.set_policy(None)


def _root_with_topics(hub, tmp_path) -> Path:
    import shutil

    shutil.copytree(hub["root"] / "miracl" / "topics", tmp_path / "r" / "miracl" / "topics", dirs_exist_ok=True)
    shutil.copytree(hub["root"] / "miracl" / "qrels", tmp_path / "r" / "miracl" / "qrels", dirs_exist_ok=True)
    return tmp_path / "r"


def test_plan_only_prints_the_plan_offline_before_any_download(tmp_path):
    from cli_helpers import run_cli

    root = tmp_path / "empty"
    root.mkdir()
    proc = run_cli(
        [
            "experiment=smoke",
            "eval=miracl",
            "eval.benchmarks.miracl.languages=[sw,te,yo,bn,th]",
            f"paths.data_dir={root}",
            "eval.plan_only=true",
            f"hydra.run.dir={tmp_path / 'job'}",
        ],
        HF_ENDPOINT="http://127.0.0.1:9",
        HYBRID_RETRIEVAL_DOWNLOAD="auto",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    for lang, n in (("sw", "131,924"), ("te", "518,079"), ("yo", "49,043"), ("bn", "297,265"), ("th", "542,166")):
        assert f"miracl {lang}: {n} passages" in out, out[-3000:]
    assert "miracl total: 1,538,477 passages" in out and "expected" in out and "disk" in out
    assert not any(root.iterdir())  # nothing downloaded
    assert not (tmp_path / "job" / "metrics.json").exists()


def test_corpus_sample_keeps_judged_passages_under_its_own_name(hub, tmp_path, monkeypatch):
    from hybrid_retrieval.data.formats.trec import read_qrels
    from hybrid_retrieval.eval.benchmarks.miracl import load_miracl

    root = _root_with_topics(hub, tmp_path)
    download.set_policy("auto")
    monkeypatch.setattr(download, "_unreachable", None)
    try:
        bench = load_miracl(
            languages=["yo"], root=root, hub_topics=None, hub_endpoint=hub["url"], corpus_sample=200, sample_seed=3
        )
    finally:
        download.set_policy(None)
    assert bench.name == "miracl_sample200" and bench.protocol.name == "miracl_sample200"
    ids = [d for chunk, _ in bench.plan.corpora["yo"].batches(64) for d in chunk]
    judged = {d for j in read_qrels(root / "miracl" / "qrels" / "qrels.miracl-v1.0-yo-dev.tsv").values() for d in j}
    assert judged <= set(ids) and len(ids) == len(judged) + 200 == len(set(ids))
    again = [d for chunk, _ in bench.plan.corpora["yo"].batches(64) for d in chunk]
    assert again == ids  # fixed seed


@pytest.mark.slow
def test_sweep_fetches_each_shard_once_and_the_reference_encodes_the_corpus_once(hub, tmp_path):
    """A 3-job sweep with the zero-shot reference, run twice: shards fetched once, the reference's corpus
    encoded once (counted by the server and by the stores' encoded.log), and tokenised once for all four
    models, which share the tiny tokenizer (counted by the token cache's tokenized.log)."""
    cache, emb = tmp_path / "cache", tmp_path / "cache" / "embeddings"
    root = tmp_path / "data"
    import shutil

    shutil.copytree(hub["root"], root)
    hub = {**hub, "root": root}
    before = dict(shard_gets(hub["handler"]))

    def sweep(n: int) -> None:
        env = {**env_for(hub, cache), "HYBRID_RETRIEVAL_ZEROSHOT_CACHE": str(tmp_path / f"zeroshot{n}")}
        proc = subprocess.run(
            [
                sys.executable,
                "run.py",
                "-m",
                *job_args(
                    hub,
                    [
                        "trainer.max_steps=2",
                        "data.cross_ratio=0,0.5,1",
                        "+reference=zeroshot",
                        "save_encoder=false",
                        f"hydra.sweep.dir={tmp_path / f'sweep{n}'}",
                    ],
                ),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert (tmp_path / f"sweep{n}" / "reference").is_dir(), proc.stderr[-4000:]

    sweep(1)
    got = {k: v - before.get(k, 0) for k, v in shard_gets(hub["handler"]).items() if v - before.get(k, 0)}
    assert sorted(got) == sorted(hub["served"]) and set(got.values()) == {1}  # 6 shards, each fetched once
    stores = sorted(p.parent.name for p in emb.glob("*/meta.json"))
    assert len(stores) == 2  # the reference's sw and yo stores are kept; the trained jobs' are removed
    first = encoded_lines(emb)
    assert len(first) == 2 * SHARDS * PER_SHARD // 100  # every 100-passage shard encoded exactly once
    tokenized = tokenized_lines(cache)
    assert len(tokenized) == 2 * SHARDS * PER_SHARD // 100  # and tokenised once, for the 3 jobs and the reference
    sweep(2)  # a fresh zero-shot cache: the reference job runs again, and finds its embeddings
    again = {k: v - before.get(k, 0) for k, v in shard_gets(hub["handler"]).items() if v - before.get(k, 0)}
    assert again == got  # nothing downloaded again
    assert encoded_lines(emb) == first  # nothing encoded again for the reference
    assert tokenized_lines(cache) == tokenized  # nor tokenised again, for any of the 4 models
    assert sorted(p.parent.name for p in emb.glob("*/meta.json")) == stores
    m1 = json.loads(next((tmp_path / "sweep1" / "reference").glob("*/metrics.json")).read_text())
    m2 = json.loads(next((tmp_path / "sweep2" / "reference").glob("*/metrics.json")).read_text())
    assert without_timing(m1) == without_timing(m2)


@pytest.mark.slow
def test_a_job_killed_while_encoding_resumes_at_the_next_shard_with_the_same_metrics(hub, tmp_path):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(hub["root"], root)
    hub = {**hub, "root": root}
    args = job_args(hub, ["trainer.max_steps=0", "save_encoder=false"])
    cache = tmp_path / "cache"
    emb = cache / "embeddings"
    job = tmp_path / "job"
    # fetch the corpus first (the job would too), so that the kill lands in the encoding
    from hybrid_retrieval.data.download import set_policy
    from hybrid_retrieval.eval.benchmarks.miracl import load_miracl

    set_policy("auto")
    try:
        load_miracl(languages=["sw", "yo"], root=root, hub_topics=None, hub_endpoint=hub["url"])
    finally:
        set_policy(None)
    proc = subprocess.Popen(
        [sys.executable, "run.py", *args, f"hydra.run.dir={job}"],
        cwd=ROOT,
        env=env_for(hub, cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        while not list(emb.glob("*/shard-00001.emb")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed = {log.parent.name: len(log.read_text().splitlines()) for log in emb.glob("*/encoded.log")}
    assert 1 <= sum(killed.values()) < 30, "the kill should land while the corpus is being encoded"
    assert not (job / "metrics.json").exists()
    rerun = subprocess.run(
        [sys.executable, "run.py", *args, f"hydra.run.dir={job}"],
        cwd=ROOT,
        env=env_for(hub, cache),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    per_store = {
        log.parent.name: [line.split() for line in log.read_text().splitlines()] for log in emb.glob("*/encoded.log")
    }
    assert sorted(len(v) for v in per_store.values()) == [15, 15]  # 1,500 passages a language, shards of 100
    for store, lines in per_store.items():
        assert [int(x[1]) for x in lines] == list(range(15)), store  # each shard encoded once, in order
        done = killed.get(store, 0)
        pids = [x[5] for x in lines]
        assert len(set(pids[:done])) <= 1 and (done == 15 or set(pids[done:]) != set(pids[:done]))
        if 0 < done < 15:  # the rerun went on at the first shard the killed job had not finished
            assert f"resuming at shard {done}" in rerun.stderr + rerun.stdout
    # an uninterrupted run, with its own (empty) embeddings cache, gives the same metrics
    fresh = subprocess.run(
        [sys.executable, "run.py", *args, f"hydra.run.dir={tmp_path / 'fresh'}"],
        cwd=ROOT,
        env=env_for(hub, tmp_path / "cache2"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert fresh.returncode == 0, fresh.stderr[-4000:]
    resumed = json.loads((job / "metrics.json").read_text())
    uninterrupted = json.loads((tmp_path / "fresh" / "metrics.json").read_text())
    assert without_timing(resumed) == without_timing(uninterrupted)
    assert "miracl/mono/ndcg@10/sw" in resumed
