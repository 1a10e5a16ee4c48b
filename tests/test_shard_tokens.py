"""Corpus token ids kept per tokenizer, prefix, max length and corpus: the same vectors as from texts, one
tokenisation per shard for every model sharing a tokenizer, resumed after an interruption, and a cache of
their own for another max length or prefix."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_retrieval.data.shard_tokens import TOKENIZED_LOG, ShardTokens, shard_tokens_key
from hybrid_retrieval.eval.embedding_cache import (
    ENCODED_LOG,
    encode_sharded,
    passage_tokens,
    store_key,
)
from hybrid_retrieval.text_spec import TextSpec

ROWS, N = 40, 190  # 5 shards, the last one short
WORDS = ["mto", "ngome", "injini", "bustani", "soko", "baridi", "mlima", "ziwa", "odo", "ile", "ero"]


class Corpus:
    """A corpus source like ParquetCorpus: an identity and ``(ids, texts)`` chunks from passage ``skip`` on."""

    def __init__(self, n: int = N, ident: str = "corpus-a"):
        self.ident = ident
        self.ids = [f"d{i}" for i in range(n)]
        self.texts = [" ".join(WORDS[(i * k) % len(WORDS)] for k in range(1 + i % 17)) + f" {i}" for i in range(n)]

    def fingerprint(self) -> str:
        return self.ident

    def batches(self, size: int, skip: int = 0):
        for lo in range(skip, len(self.ids), size):
            yield self.ids[lo : lo + size], self.texts[lo : lo + size]


@pytest.fixture(scope="module")
def tiny_paths():
    from hybrid_retrieval.backbones.tiny import build_tiny_bert

    return build_tiny_bert(seed=0), build_tiny_bert(seed=1)


def make_encoder(path: str, **kw):
    from transformers import AutoModel, AutoTokenizer

    from hybrid_retrieval.eval.encode import TextEncoder
    from hybrid_retrieval.model.pooling import mean_pool

    kw = {"batch_size": 16, "show_progress": False, **kw}
    return TextEncoder(AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path), mean_pool, **kw)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRID_RETRIEVAL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def encode(encoder, corpus, emb_dir, tokens=None):
    """What the pipeline does for a kept store: the store keyed by encoder and corpus, ids from the token cache."""
    folder = emb_dir / store_key(encoder.fingerprint(), corpus.fingerprint(), "float32", ROWS)
    if tokens is None:
        tokens = passage_tokens(encoder, corpus.fingerprint(), ROWS)
    return encode_sharded(encoder, corpus, folder, "float32", ROWS, kept_ids=tokens), tokens


def from_texts(encoder, corpus) -> np.ndarray:
    """Each shard encoded from its texts, as encode_sharded did before ids were kept (batches are formed within
    a shard, so a shard's vectors are compared with its own texts' vectors)."""
    return np.concatenate([encoder.encode(texts, "passage") for _, texts in corpus.batches(ROWS)])


def stored(store) -> np.ndarray:
    return np.concatenate([np.fromfile(f, dtype=np.float32).reshape(-1, store.dim) for f in store.files])


def log_shards(folder, name=TOKENIZED_LOG) -> list[int]:
    path = folder / name
    return [int(line.split()[1]) for line in path.read_text().splitlines()] if path.is_file() else []


def test_embeddings_from_kept_ids_equal_embeddings_from_texts(tiny_paths, cache, tmp_path):
    corpus = Corpus()
    direct = make_encoder(tiny_paths[0])
    texts = from_texts(direct, corpus)
    first = make_encoder(tiny_paths[0])
    store, tokens = encode(first, corpus, tmp_path / "emb1")  # tokenised now
    assert tokens.folder.parent == cache / "tokens" / "shards" and tokens.tokenized == 5 and tokens.read == 0
    again = make_encoder(tiny_paths[0])
    store2, tokens2 = encode(again, corpus, tmp_path / "emb2")  # another store: every shard's ids read
    assert tokens2.tokenized == 0 and tokens2.read == 5
    assert np.array_equal(stored(store), texts) and np.array_equal(stored(store2), texts)
    assert list(store2.ids.astype(str)) == corpus.ids
    # the counters eval/rates.py prices with: the same from ids as from texts
    for enc, s in ((first, store), (again, store2)):
        assert (enc.tokens_encoded, enc.token_squares) == (direct.tokens_encoded, direct.token_squares)
        assert (s.new_tokens, s.new_token_squares) == (direct.tokens_encoded, direct.token_squares)
    # encode_ids itself: any order of kept ids gives encode's vectors bit for bit (length-sorted batches kept)
    ids = direct.token_ids(corpus.texts[:37], "passage")
    assert np.array_equal(
        direct.encode_ids([np.asarray(x, np.int32) for x in ids], "passage"),
        direct.encode(corpus.texts[:37], "passage"),
    )


def test_two_models_with_one_tokenizer_tokenise_each_shard_once(tiny_paths, cache, tmp_path):
    corpus, emb = Corpus(), tmp_path / "emb"
    a, b = make_encoder(tiny_paths[0]), make_encoder(tiny_paths[1])  # other weights, the same tokenizer
    assert a.fingerprint() != b.fingerprint()
    sa, ta = encode(a, corpus, emb)
    sb, tb = encode(b, corpus, emb)
    assert ta.folder == tb.folder and sa.folder != sb.folder
    assert log_shards(ta.folder) == [0, 1, 2, 3, 4]  # counted from the log: each shard tokenised once in all
    assert log_shards(sa.folder, ENCODED_LOG) == log_shards(sb.folder, ENCODED_LOG) == [0, 1, 2, 3, 4]
    assert (tb.tokenized, tb.read) == (0, 5)
    assert np.array_equal(stored(sb), from_texts(make_encoder(tiny_paths[1]), corpus))


def test_an_interrupted_tokenisation_resumes_at_the_next_untokenised_shard(tiny_paths, cache, tmp_path):
    corpus, emb, k = Corpus(), tmp_path / "emb", 2
    killed = make_encoder(tiny_paths[0])
    real, calls = killed.token_ids, []

    def dies_after_k(texts, kind):
        if len(calls) == k:
            raise KeyboardInterrupt("killed while tokenising")
        calls.append(len(texts))
        return real(texts, kind)

    killed.token_ids = dies_after_k
    with pytest.raises(KeyboardInterrupt):
        encode(killed, corpus, emb)
    tokens = passage_tokens(killed, corpus.fingerprint(), ROWS)
    assert tokens.done() == k and log_shards(tokens.folder) == [0, 1]
    assert not list(tokens.folder.glob(".*tmp*"))  # no torn shard left behind
    # the rerun (here another model with the same tokenizer, whose embeddings are all still to encode)
    other = make_encoder(tiny_paths[1])
    store, tokens = encode(other, corpus, emb)
    assert (tokens.read, tokens.tokenized) == (k, 5 - k)
    assert log_shards(tokens.folder) == [0, 1, 2, 3, 4]  # went on at shard k; none tokenised twice
    assert np.array_equal(stored(store), from_texts(make_encoder(tiny_paths[1]), corpus))


def test_another_max_length_prefix_corpus_or_shard_size_gets_its_own_cache(tiny_paths, cache, tmp_path):
    from transformers import AutoTokenizer

    from hybrid_retrieval.data.token_cache import tokenizer_fingerprint

    tok, same = AutoTokenizer.from_pretrained(tiny_paths[0]), AutoTokenizer.from_pretrained(tiny_paths[1])
    key = shard_tokens_key(tok, "passage: ", 128, "corpus-a", ROWS)
    assert shard_tokens_key(same, "passage: ", 128, "corpus-a", ROWS) == key  # a tokenizer, not a model
    assert shard_tokens_key(tokenizer_fingerprint(tok), "passage: ", 128, "corpus-a", ROWS) == key
    others = [
        shard_tokens_key(tok, "passage: ", 16, "corpus-a", ROWS),
        shard_tokens_key(tok, "", 128, "corpus-a", ROWS),
        shard_tokens_key(tok, "passage: ", 128, "corpus-b", ROWS),
        shard_tokens_key(tok, "passage: ", 128, "corpus-a", ROWS * 2),
    ]
    assert len({key, *others}) == 5
    corpus, emb = Corpus(), tmp_path / "emb"
    _, full = encode(make_encoder(tiny_paths[0]), corpus, emb)
    short_encoder = make_encoder(tiny_paths[0], spec=TextSpec(max_passage_length=8))
    short_store, short = encode(short_encoder, corpus, emb)
    bare_store, bare = encode(make_encoder(tiny_paths[0], spec=TextSpec(passage_prefix="")), corpus, emb)
    assert len({full.folder, short.folder, bare.folder}) == 3
    for t in (full, short, bare):
        assert log_shards(t.folder) == [0, 1, 2, 3, 4] and t.tokenized == 5
    assert max(len(x) for x in ShardTokens(short.folder).ids(0, corpus.texts[:ROWS], None)) == 8
    assert np.array_equal(
        stored(short_store), from_texts(make_encoder(tiny_paths[0], spec=TextSpec(max_passage_length=8)), corpus)
    )
