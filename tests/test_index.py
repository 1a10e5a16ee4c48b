"""Embedding store, index choice and search order: exact where promised, bounded, trec_eval's tie order."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_retrieval.eval.embedding_store import ArrayStore, EmbeddingStore, encode_to_store
from hybrid_retrieval.eval.pipeline import drop_identical
from hybrid_retrieval.eval.runfiles import read_run, write_run
from hybrid_retrieval.eval.search import IndexSpec, id_order, search_store, trec_order, use_gpu


class ArrayEncoder:
    """Stands in for TextEncoder: a text is the decimal index of its row in a fixed matrix."""

    def __init__(self, vectors: np.ndarray):
        self.vectors, self.calls = vectors, []

    def encode(self, texts, kind):
        self.calls.append((len(texts), kind))
        return self.vectors[[int(t) for t in texts]]


def unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_store(tmp_path, vectors, ids=None, chunk=7, dtype="float32"):
    ids = ids or [f"d{i:05d}" for i in range(len(vectors))]
    batches = (
        (ids[lo : lo + chunk], [str(i) for i in range(lo, min(lo + chunk, len(ids)))])
        for lo in range(0, len(ids), chunk)
    )
    return encode_to_store(ArrayEncoder(vectors), batches, tmp_path / "emb.bin", dtype)


def assert_exact_topk_in_trec_order(got_scores, got, queries, corpus, ids, depth):
    """Exact top-k: nothing left out scores higher than anything kept; order is score desc, then docid desc.

    Among documents tied exactly at the cutoff, which ones make the list is left to FAISS; the run file holds
    whichever did, so metrics and trec_eval still agree.
    """
    exact = queries @ corpus.T
    assert got.shape == (len(queries), min(depth, len(ids)))
    for q, row in enumerate(got):
        assert len(set(row)) == len(row) and (row >= 0).all()
        left_out = np.setdiff1d(np.arange(len(ids)), row)
        if left_out.size:
            assert exact[q, row].min() >= exact[q, left_out].max() - 1e-6
        for a, b, sa, sb in zip(row, row[1:], got_scores[q], got_scores[q][1:]):
            assert sa > sb or (sa == sb and ids[a].encode() > ids[b].encode())


def test_id_order_is_bytewise_like_strcmp():
    ids = ["b", "a", "ä", "Z", "a#10", "a#9", "é", "aa", ""]
    ranks = id_order(ids)
    expected = sorted(range(len(ids)), key=lambda i: ids[i].encode("utf-8"))
    assert [ids[i] for i in np.argsort(ranks)] == [ids[i] for i in expected]
    as_bytes = np.array([i.encode() for i in ids], dtype=bytes)
    assert np.array_equal(id_order(as_bytes), ranks)


def test_trec_order_breaks_ties_by_docid_descending_and_puts_missing_last():
    scores = np.array([[0.5, 0.9, 0.5, -3.4e38]], dtype=np.float32)
    ids = np.array([[0, 1, 2, -1]])
    doc_order = np.array([2, 0, 1])  # doc 0 has the largest id, then doc 2
    s, i = trec_order(scores, ids, doc_order)
    assert i.tolist() == [[1, 0, 2, -1]]
    assert s[0, :3].tolist() == pytest.approx([0.9, 0.5, 0.5])


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_store_round_trips_in_bounded_chunks(tmp_path, dtype):
    vectors = unit(np.random.default_rng(0), 53, 8)
    ids = [f"doc-{i}-ü" for i in range(53)]
    store = make_store(tmp_path, vectors, ids, chunk=10, dtype=dtype)
    assert store.n == 53 and store.dim == 8
    assert (tmp_path / "emb.bin").stat().st_size == 53 * 8 * (4 if dtype == "float32" else 2)
    blocks = [(lo, block.copy()) for lo, block in store.iter_chunks(16)]  # blocks share one buffer: copy
    assert [lo for lo, _ in blocks] == [0, 16, 32, 48] and all(len(b) <= 16 for _, b in blocks)
    back = np.concatenate([b for _, b in blocks])
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, vectors, atol=1e-3 if dtype == "float16" else 0)
    assert store.doc_names(np.array([0, 52])).tolist() == ["doc-0-ü", "doc-52-ü"]


def test_store_rejects_unknown_dtype_naming_key(tmp_path):
    with pytest.raises(ValueError, match=r"eval\.embedding_dtype"):
        make_store(tmp_path, unit(np.random.default_rng(0), 3, 4), dtype="int8")


@pytest.mark.parametrize("corpus_chunk, query_chunk, depth", [(7, 3, 10), (64, 100, 10), (5, 2, 80)])
def test_flat_store_search_is_exact_with_trec_ties(tmp_path, corpus_chunk, query_chunk, depth):
    rng = np.random.default_rng(1)
    corpus = unit(rng, 60, 8)
    corpus[30:40] = corpus[0]  # exact duplicates: tied scores across corpus chunks
    ids = [f"p{rng.integers(1000):03d}-{i}" for i in range(60)]
    queries = np.vstack([corpus[:1], unit(rng, 9, 8)])
    store = make_store(tmp_path, corpus, ids)
    spec = IndexSpec(corpus_chunk=corpus_chunk, query_chunk=query_chunk)
    scores, got = search_store(store, queries, depth, spec, id_order(store.ids))
    assert_exact_topk_in_trec_order(scores, got, queries, corpus, ids, depth)
    tied = [j for j in got[0] if j == 0 or 30 <= j < 40]
    assert len(tied) == min(depth, 11) and tied == sorted(tied, key=lambda j: ids[j].encode(), reverse=True)


def test_on_disk_and_in_memory_corpora_search_alike(tmp_path):
    rng = np.random.default_rng(2)
    corpus, queries = unit(rng, 200, 16), unit(rng, 20, 16)
    store = make_store(tmp_path, corpus, chunk=50)
    order = id_order(store.ids)
    s1, i1 = search_store(ArrayStore(corpus, store.ids), queries, 25, IndexSpec(), order)
    s2, i2 = search_store(store, queries, 25, IndexSpec(corpus_chunk=33), order)
    assert np.array_equal(i1, i2)
    np.testing.assert_allclose(s1, s2, atol=1e-6)


@pytest.mark.parametrize("spec", [IndexSpec(kind="ivf", nlist=8, nprobe=8), IndexSpec(kind="hnsw", hnsw_m=16)])
def test_approximate_indexes_find_the_exact_neighbours(tmp_path, spec):
    rng = np.random.default_rng(3)
    centers = unit(rng, 8, 16)
    corpus = centers[rng.integers(0, 8, 800)] + 0.3 * rng.standard_normal((800, 16)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    queries = corpus[rng.choice(800, 30, replace=False)] + 0.01
    store = make_store(tmp_path, corpus, chunk=128)
    order = id_order(store.ids)
    _, exact = search_store(store, queries, 10, IndexSpec(), order)
    _, approx = search_store(store, queries, 10, spec, order)
    overlap = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert overlap >= 0.9  # nprobe = nlist makes IVF exhaustive; HNSW on 800 points is near-exact


def test_ivf_with_few_probes_may_return_short_lists_which_runs_skip(tmp_path):
    rng = np.random.default_rng(4)
    corpus = unit(rng, 40, 4)
    store = make_store(tmp_path, corpus)
    scores, ids = search_store(
        store, unit(rng, 5, 4), 40, IndexSpec(kind="ivf", nlist=4, nprobe=1), id_order(store.ids)
    )
    assert ids.shape == (5, 40) and (ids == -1).any()
    assert all((row[row >= 0].size == 0) or (row[: (row >= 0).sum()] >= 0).all() for row in ids)  # -1 only at the end
    write_run(tmp_path / "run.trec", [f"q{i}" for i in range(5)], ids, scores, store.doc_names(np.arange(store.n)))
    run = read_run(tmp_path / "run.trec")
    for i in range(5):
        assert len(run.get(f"q{i}", {})) == int((ids[i] >= 0).sum())


def test_drop_identical_removes_own_id_before_cutting():
    ids = np.array([[4, 7, 1, 2], [3, 5, 6, 8], [9, 0, -1, -1]])
    scores = np.array([[0.9, 0.8, 0.7, 0.6], [0.9, 0.8, 0.7, 0.6], [0.5, 0.4, -np.inf, -np.inf]], dtype=np.float32)
    own = np.array([7, -1, 9])
    s, i = drop_identical(scores, ids, own, depth=3)
    assert i.tolist() == [[4, 1, 2], [3, 5, 6], [0, -1, -1]]
    assert s[0].tolist() == pytest.approx([0.9, 0.7, 0.6])


@pytest.mark.parametrize(
    "bad, key",
    [
        ({"kind": "annoy"}, "eval.index.kind"),
        ({"nprobe": 0}, "eval.index.nprobe"),
        ({"gpu": "yes"}, "eval.index.gpu"),
        ({"nlists": 3}, "eval.index"),
    ],
)
def test_index_spec_errors_name_the_key(bad, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        IndexSpec.from_config(bad)


def test_gpu_true_without_gpu_fails_naming_key():
    spec = IndexSpec(gpu=True)
    import faiss

    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        assert use_gpu(spec)
    else:
        with pytest.raises(ValueError, match=r"eval\.index\.gpu"):
            use_gpu(spec)
        assert not use_gpu(IndexSpec(gpu="auto"))


def test_store_of_empty_corpus_fails(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        encode_to_store(ArrayEncoder(np.zeros((1, 2), np.float32)), iter([]), tmp_path / "e.bin")


def test_truncated_store_file_is_reported(tmp_path):
    store = make_store(tmp_path, unit(np.random.default_rng(5), 10, 4))
    with open(store.path, "r+b") as fh:
        fh.truncate(4 * 4 * 5)
    with pytest.raises(OSError, match="truncated"):
        list(store.iter_chunks(8))
    assert isinstance(store, EmbeddingStore)


def test_scale_benchmark_runs_the_evaluation_path_and_reports_peak_memory(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT

    from hybrid_retrieval.eval import synthetic

    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's package, as the test process imports it
    done = subprocess.run(
        [sys.executable, "perf/eval_scale.py", "--passages", "800", "--queries", "20", "--work-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert "passages=800 queries=20" in lines[0]
    assert "passages/s" in lines[1] and "queries/s" in lines[2] and "index build" in lines[2]
    assert lines[-1].startswith("peak_rss_gib=") and float(lines[-1].split("=")[1]) > 0
    assert not any(tmp_path.iterdir())  # the embedding store is removed afterwards
    queries, qrels = synthetic.synthetic_queries(800, 20)
    q, (doc,) = "q7", qrels["q7"]
    assert all(word in synthetic.passage_text(int(doc[1:])).split() for word in queries[q].split())
