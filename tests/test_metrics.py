"""Ranking metrics: hand-computed values, trec_eval agreement through run files, and trec_eval's tie order."""

from __future__ import annotations

from math import log2

import numpy as np
import pytest
import pytrec_eval

from hybrid_retrieval.eval.embedding_store import ArrayStore
from hybrid_retrieval.eval.metrics import per_query_metrics
from hybrid_retrieval.eval.runfiles import read_qrels, read_run, write_qrels, write_run
from hybrid_retrieval.eval.search import IndexSpec, id_order, search_store


def search(emb, queries, depth, doc_order, chunk_size=1024):
    """The evaluation's search path over an in-memory pool (as LAReQA and TyDi pools are searched)."""
    store = ArrayStore(np.ascontiguousarray(emb, dtype=np.float32), np.array([b"%d" % i for i in range(len(emb))]))
    return search_store(store, queries, depth, IndexSpec(query_chunk=chunk_size), doc_order)


def hits_matrix(ranked, relevant):
    """Hit matrix from ranked document indices and each query's relevant indices."""
    return np.stack([np.isin(row, np.asarray(list(rel), dtype=np.int64)) for row, rel in zip(ranked, relevant)])


OURS_TO_TREC = {
    "map": "map",
    "recall@1": "recall_1",
    "recall@5": "recall_5",
    "recall@10": "recall_10",
    "recall@100": "recall_100",
    "ndcg@10": "ndcg_cut_10",
}


def _hits(depth: int, relevant_ranks: list[list[int]]) -> np.ndarray:
    hits = np.zeros((len(relevant_ranks), depth), dtype=bool)
    for i, ranks in enumerate(relevant_ranks):
        hits[i, [r - 1 for r in ranks]] = True
    return hits


def test_metrics_match_hand_computed_ranking():
    # depth 8; relevant documents at these ranks (1-based):
    #   q1: ranks 1, 3, 6 of 4 relevant (one relevant document was not retrieved)
    #   q2: ranks 4, 7 of 2 relevant
    #   q3: nothing retrieved of 1 relevant
    #   q4: ranks 1, 2 of 2 relevant (perfect)
    hits = _hits(8, [[1, 3, 6], [4, 7], [], [1, 2]])
    n_rel = np.array([4, 2, 1, 2])
    names = ["map", "recall@1", "recall@5", "recall@10", "mrr@3", "mrr@5", "ndcg@5", "ndcg@10"]
    got = per_query_metrics(hits, n_rel, names)
    d = lambda r: 1 / log2(r + 1)  # noqa: E731  discount of rank r
    idcg4 = d(1) + d(2) + d(3) + d(4)  # q1: 4 relevant, k >= 4
    idcg2 = d(1) + d(2)  # q2, q4: 2 relevant
    expected = {
        # AP = sum of precision at each relevant hit / n_relevant
        #   q1: (1/1 + 2/3 + 3/6) / 4 = 13/24;  q2: (1/4 + 2/7) / 2 = 15/56
        "map": [13 / 24, 15 / 56, 0.0, 1.0],
        # relevant in top k / n_relevant (k = 10 is past the depth: all retrieved relevant count)
        "recall@1": [1 / 4, 0.0, 0.0, 1 / 2],
        "recall@5": [2 / 4, 1 / 2, 0.0, 1.0],
        "recall@10": [3 / 4, 2 / 2, 0.0, 1.0],
        # 1 / rank of the first relevant within the top k, 0 when none: q2's first hit is at rank 4
        "mrr@3": [1.0, 0.0, 0.0, 1.0],
        "mrr@5": [1.0, 1 / 4, 0.0, 1.0],
        # DCG@k / ideal DCG over min(n_relevant, k) documents
        #   q1@5: (1 + 1/log2 4) / idcg4 = 1.5 / 2.56161 = 0.58557
        #   q1@10: (1 + 1/log2 4 + 1/log2 7) / idcg4 = 1.85621 / 2.56161 = 0.72463
        #   q2@5: (1/log2 5) / idcg2 = 0.43068 / 1.63093 = 0.26407
        #   q2@10: (1/log2 5 + 1/log2 8) / idcg2 = 0.76401 / 1.63093 = 0.46845
        "ndcg@5": [(d(1) + d(3)) / idcg4, d(4) / idcg2, 0.0, 1.0],
        "ndcg@10": [(d(1) + d(3) + d(6)) / idcg4, (d(4) + d(7)) / idcg2, 0.0, 1.0],
    }
    assert expected["ndcg@5"][0] == pytest.approx(0.58557, abs=1e-5)
    assert expected["ndcg@10"][1] == pytest.approx(0.46845, abs=1e-5)
    assert set(got) == set(names)
    for name in names:
        assert got[name] == pytest.approx(expected[name], abs=1e-12), name


def test_ndcg_ideal_counts_relevant_beyond_the_run_depth():
    # 3 documents retrieved, all relevant, but 5 are relevant: trec_eval's ideal DCG@5 has 5 terms, so ndcg < 1
    hits = np.ones((1, 3), dtype=bool)
    got = per_query_metrics(hits, np.array([5]), ["ndcg@5", "recall@5", "map"])
    d = lambda r: 1 / log2(r + 1)  # noqa: E731
    assert got["ndcg@5"][0] == pytest.approx((d(1) + d(2) + d(3)) / sum(d(r) for r in range(1, 6)))
    assert got["recall@5"][0] == pytest.approx(3 / 5)
    assert got["map"][0] == pytest.approx(3 / 5)
    qrels = {"q": {f"d{i}": 1 for i in range(5)}}
    run = {"q": {"d0": 3.0, "d1": 2.0, "d2": 1.0}}
    trec = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.5", "recall.5", "map"}).evaluate(run)["q"]
    assert got["ndcg@5"][0] == pytest.approx(trec["ndcg_cut_5"], abs=1e-9)
    assert got["recall@5"][0] == pytest.approx(trec["recall_5"], abs=1e-9)
    assert got["map"][0] == pytest.approx(trec["map"], abs=1e-9)


@pytest.mark.parametrize("metric", ["recall@0", "ndcg@0", "mrr@-1"])
def test_non_positive_cutoff_raises(metric):
    with pytest.raises(ValueError, match="k must be positive"):
        per_query_metrics(_hits(5, [[1]]), np.array([1]), [metric])


def test_query_without_relevant_documents_raises():
    with pytest.raises(ValueError, match="relevant"):
        per_query_metrics(_hits(5, [[1], []]), np.array([1, 0]), ["map"])


@pytest.mark.parametrize("metric", ["precision@5", "map@10", "mrr", "recall", "ndcg"])
def test_unknown_metric_raises(metric):
    with pytest.raises(ValueError, match="unknown metric"):
        per_query_metrics(_hits(5, [[1]]), np.array([1]), [metric])


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        per_query_metrics(_hits(5, [[1], [2]]), np.array([1]), ["map"])
    with pytest.raises(ValueError):
        per_query_metrics(np.ones(5, dtype=bool), np.array([1]), ["map"])


# ---------------------------------------------------------------- search tie order


def test_search_breaks_ties_by_docid_descending():
    rng = np.random.default_rng(1)
    v = np.zeros(8, dtype=np.float32)
    v[0] = 1.0
    tied = ["d9", "d10", "d100", "a", "d2"]  # byte order: a < d10 < d100 < d2 < d9
    others = rng.normal(size=(20, 8)).astype(np.float32)
    others[:, 0] = np.linspace(-3, 3, 20)  # some score above the tie, some below
    others[:, 1:] = 0
    emb = np.vstack([np.tile(v, (len(tied), 1)), others])
    names = tied + [f"x{i}" for i in range(20)]
    query = np.eye(8, dtype=np.float32)[:1] * 0.5
    scores, ids = search(emb, query, len(names), id_order(names))
    assert np.all(np.diff(scores[0]) <= 0)
    tied_rows = [names[i] for i, s in zip(ids[0], scores[0]) if s == np.float32(0.5)]
    assert tied_rows == ["d9", "d2", "d100", "d10", "a"]
    # every group of equal scores, not only the planted one, is in descending id order
    for s in np.unique(scores[0]):
        group = [names[i].encode() for i in ids[0][scores[0] == s]]
        assert group == sorted(group, reverse=True)


def test_id_order_is_bytewise():
    assert id_order(["d9", "d10", "a", "d100"]).tolist() == [3, 1, 0, 2]


def test_search_chunks_agree():
    rng = np.random.default_rng(2)
    emb = np.round(rng.uniform(-1, 1, (60, 8)) * 4) / 4  # coarse values: many exact ties
    queries = np.round(rng.uniform(-1, 1, (25, 8)) * 4) / 4
    order = id_order([f"doc{i}" for i in range(60)])
    full = search(emb, queries, 30, order)
    chunked = search(emb, queries, 30, order, chunk_size=7)
    assert np.array_equal(full[0], chunked[0]) and np.array_equal(full[1], chunked[1])
    s, i = search(emb, queries, 500, order)  # depth is capped at the index size
    assert s.shape == i.shape == (25, 60)


# ---------------------------------------------------------------- run files vs trec_eval


def _retrieval_fixture(seed: int = 0, n_docs: int = 400, n_queries: int = 50, dim: int = 16):
    """Embeddings on a 1/8 grid, so inner products are exact in float32 and duplicate vectors tie exactly."""
    rng = np.random.default_rng(seed)
    docs = np.round(rng.uniform(-1, 1, (n_docs, dim)) * 8) / 8
    # 40 tie groups: each doc copied onto one or two others
    groups = []
    perm = rng.permutation(n_docs)
    pos = 0
    for g in range(40):
        size = 3 if g % 4 == 0 else 2
        members = perm[pos : pos + size]
        pos += size
        docs[members[1:]] = docs[members[0]]
        groups.append(members)
    names = [f"d{n}" for n in rng.choice(100_000, n_docs, replace=False)]  # lengths vary: byte order != numeric
    queries = np.round(rng.uniform(-1, 1, (n_queries, dim)) * 8) / 8
    relevant: list[list[int]] = []
    for q in range(n_queries):
        rel: set[int] = set()
        if q < 35:  # aim at a tie group: the query is near it and one of its members is relevant
            members = groups[q]
            queries[q] = np.round((docs[members[0]] * 2 + queries[q] * 0.5) * 8) / 8
            rel.add(int(rng.choice(members)))
        rel.update(int(x) for x in rng.choice(n_docs, rng.integers(1 if q >= 35 else 0, 3), replace=False))
        relevant.append(sorted(rel))
    return docs, queries, names, relevant


def test_run_file_round_trip_agrees_with_trec_eval(tmp_path):
    docs, queries, names, relevant = _retrieval_fixture()
    depth = 100
    scores, ids = search(docs, queries, depth, id_order(names))
    assert ids.shape == (len(queries), depth)
    qids = [f"q{i}" for i in range(len(queries))]
    doc_names = np.array(names, dtype=object)
    write_run(tmp_path / "run.trec", qids, ids, scores, doc_names)
    write_run(tmp_path / "run10.trec", qids, ids[:, :10], scores[:, :10], doc_names)
    write_qrels(tmp_path / "run.qrels", {q: {names[d]: 1 for d in rel} for q, rel in zip(qids, relevant)})
    run, run10, qrels = (
        read_run(tmp_path / "run.trec"),
        read_run(tmp_path / "run10.trec"),
        read_qrels(tmp_path / "run.qrels"),
    )

    # the files hold what we searched: every line, and scores that round-trip to the same float32
    assert set(run) == set(qids) and all(len(run[q]) == depth for q in qids)
    for qi, q in enumerate(qids):
        assert [np.float32(run[q][names[d]]) for d in ids[qi]] == list(scores[qi])
    assert qrels == {q: {names[d]: 1 for d in rel} for q, rel in zip(qids, relevant)}

    # the fixture makes tie order matter: relevant documents tied with non-relevant ones inside the top 10
    hits = hits_matrix(ids, [np.array(r) for r in relevant])
    tied_hits = sum(
        1
        for qi in range(len(qids))
        for r in range(10)
        if hits[qi, r] and np.any((scores[qi] == scores[qi, r]) & ~hits[qi])
    )
    assert tied_hits >= 5
    assert any(len(r) > 0 and not set(r) <= set(ids[qi].tolist()) for qi, r in enumerate(relevant))  # some unretrieved

    ours = per_query_metrics(hits, np.array([len(r) for r in relevant]), list(OURS_TO_TREC) + ["mrr@10"])
    trec = pytrec_eval.RelevanceEvaluator(qrels, {"map", "recall.1,5,10,100", "ndcg_cut.10"}).evaluate(run)
    trec_rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run10)
    for qi, q in enumerate(qids):
        for name, measure in OURS_TO_TREC.items():
            assert ours[name][qi] == pytest.approx(trec[q][measure], abs=1e-6), (q, name)
        assert ours["mrr@10"][qi] == pytest.approx(trec_rr[q]["recip_rank"], abs=1e-6), q
