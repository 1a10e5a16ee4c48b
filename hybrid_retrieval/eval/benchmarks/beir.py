"""BEIR-format test collections as a generic benchmark (your own test set in BEIR's layout works too).

A collection folder holds ``corpus.jsonl``, ``queries.jsonl`` and
``qrels/<split>.tsv`` (each may be gzipped).  Queries and qrels are read at
load time (before training); the corpus is streamed at evaluation.  BEIR drops
a hit whose id equals the query's id (``ignore_identical_ids``; it matters for
ArguAna, Quora and CQADupStack, where queries are also corpus documents).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hybrid_retrieval.data.download import DataNotFoundError
from hybrid_retrieval.data.formats import beir as layout
from hybrid_retrieval.data.formats.passages import JsonlCorpus
from hybrid_retrieval.eval.pipeline import Benchmark, Plan, QuerySet, Task, make_options
from hybrid_retrieval.eval.protocol import Protocol

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/<name>.zip"


def load_beir(
    path: str | Path | None,
    name: str = "beir",
    split: str = "test",
    lang: str = "en",
    ignore_identical_ids: bool = True,
    index=None,
    embedding_dtype: str = "float32",
    embeddings_dir: str | None = None,
    encode_chunk: int = 16384,
    **protocol: Any,
) -> Benchmark:
    key = f"eval.benchmarks.{name}"
    protocol = {"settings": ["mono"], "metrics": ["ndcg@10", "recall@100", "map", "mrr@10"], **protocol}
    proto = Protocol.from_node(name, protocol, ("mono",), ("mono/ndcg@10",))
    if path in (None, ""):
        raise ValueError(
            f"{key}.path is not set: point it at a BEIR-format folder with {layout.CORPUS}, "
            f"{layout.QUERIES} and qrels/{split}.tsv (e.g. {key}.path=/data/beir/scifact)"
        )
    folder = Path(path).expanduser()
    options = make_options(index, ignore_identical_ids, embedding_dtype, embeddings_dir, encode_chunk)
    wanted = {"corpus": layout.CORPUS, "queries": layout.QUERIES, "qrels": f"qrels/{split}.tsv"}
    found = {role: layout.find_file(folder, rel) for role, rel in wanted.items()}
    missing = [wanted[role] for role, p in found.items() if p is None]
    if missing:
        raise DataNotFoundError(
            f"{key}.path={path}: missing {missing} (a BEIR-format folder holds {layout.CORPUS}, {layout.QUERIES} "
            f"and qrels/<split>.tsv, optionally gzipped; {key}.split={split!r})\n"
            f"  provide it in one of two ways:\n"
            f"  - download a BEIR dataset and unzip it: {BEIR_URL}, then {key}.path=<unzipped folder>\n"
            f"  - or write your own collection in that layout (see docs/data.md) and point {key}.path at it"
        )
    queries = layout.read_queries(found["queries"])
    qrels = layout.read_qrels_tsv(found["qrels"])
    if not set(qrels) & set(queries):
        raise ValueError(f"{found['qrels']}: none of its query ids appear in {found['queries']}")
    corpus = JsonlCorpus((found["corpus"],), "_id", str(found["corpus"]))
    queries = {q: t for q, t in queries.items() if q in qrels}
    plan = Plan(
        {lang: QuerySet(lang, queries)}, {lang: corpus}, [Task("mono", lang, lang, qrels, run_prefix=f"{lang}:")]
    )
    return Benchmark(name, proto, plan, options, [lang])
