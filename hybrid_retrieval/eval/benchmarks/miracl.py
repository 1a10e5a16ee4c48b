"""MIRACL: monolingual passage retrieval over Wikipedia, nDCG@10 and Recall@100 per language.

Topics and qrels come from the data root's ``miracl/`` folder (or, with
network, from the hub dataset ``miracl/miracl``); the passage corpus from
``corpus_dir`` in the official ``miracl-corpus`` layout or, without ``corpus_dir``,
from the data root's ``miracl/corpus/<lang>/`` (parquet), which a missing language
is fetched into once from the pinned revision of ``miracl/miracl-corpus``
(:mod:`hybrid_retrieval.data.miracl_corpus`).  Everything is checked at load time,
before training.
Passages are encoded as ``"title text"`` like MIRACL's dense baselines.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_retrieval.data import miracl_corpus
from hybrid_retrieval.data.download import ENV_VAR, DataNotFoundError, policy, require_file, resolve_root
from hybrid_retrieval.data.formats import miracl as layout
from hybrid_retrieval.data.formats.passages import JsonlCorpus
from hybrid_retrieval.data.formats.trec import read_qrels, read_topics
from hybrid_retrieval.data.miracl_manifest import REVISION
from hybrid_retrieval.eval.pipeline import Benchmark, Plan, QuerySet, Task, make_options
from hybrid_retrieval.eval.protocol import Protocol

log = logging.getLogger(__name__)
LOW_RESOURCE = ("sw", "te", "yo", "bn", "th")
DEFAULT_HEADLINE = ("mono/ndcg@10", "mono/recall@100")


@dataclass(frozen=True)
class SampledCorpus:
    """Every judged passage of ``base`` plus ``n`` others drawn with ``seed``: a quick, smaller MIRACL.

    Its numbers are not comparable with published MIRACL ones (fewer distractors make retrieval easier);
    the benchmark that uses it is named ``<name>_sample<n>`` so that they cannot be mistaken for them.
    """

    base: Any
    judged: frozenset
    n: int
    seed: int = 0

    @property
    def description(self) -> str:
        return f"{self.base.description}, judged passages + {self.n} sampled (seed {self.seed})"

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.base.fingerprint()}\0{self.n}\0{self.seed}".encode())
        for docid in sorted(self.judged):
            h.update(docid.encode("utf-8") + b"\0")
        return h.hexdigest()

    def _keep(self) -> np.ndarray:
        ids = np.array(
            list(self.base.docids())
            if hasattr(self.base, "docids")
            else [d for chunk, _ in self.base.batches(65536) for d in chunk],
            dtype=object,
        )
        judged = np.fromiter((d in self.judged for d in ids), dtype=bool, count=len(ids))
        others = np.flatnonzero(~judged)
        pick = np.random.default_rng(self.seed).choice(others, size=min(self.n, len(others)), replace=False)
        keep = judged.copy()
        keep[pick] = True
        return keep

    def batches(self, size: int) -> Iterator[tuple[list[str], list[str]]]:
        keep, row = self._keep(), 0
        ids: list[str] = []
        texts: list[str] = []
        for chunk_ids, chunk_texts in self.base.batches(65536):
            for d, t in zip(chunk_ids, chunk_texts):
                if keep[row]:
                    ids.append(d)
                    texts.append(t)
                    if len(ids) == size:
                        yield ids, texts
                        ids, texts = [], []
                row += 1
        if ids:
            yield ids, texts


def load_miracl(
    name: str = "miracl",
    languages: Iterable[str] = layout.LANGUAGES["dev"],
    split: str = "dev",
    root: str | Path | None = None,
    corpus_dir: str | Path | None = None,
    hub_corpus: str | None = "miracl/miracl-corpus",
    hub_topics: str | None = "miracl/miracl",
    index=None,
    ignore_identical_ids: bool = False,
    embedding_dtype: str = "float32",
    embeddings_dir: str | None = None,
    encode_chunk: int = 16384,
    keep_embeddings: bool = True,
    revision: str = REVISION,
    hub_endpoint: str | None = None,
    corpus_sample: int | None = None,
    sample_seed: int = 0,
    **protocol: Any,
) -> Benchmark:
    """Read topics and qrels and locate every language's corpus (fetching a missing one once, from the pinned
    revision); any gap fails here, naming the key. ``corpus_sample=N``: every judged passage plus N others,
    under the name ``<name>_sample<N>``."""
    key = f"eval.benchmarks.{name}"
    if corpus_sample not in (None, ""):
        if int(corpus_sample) < 0:
            raise ValueError(f"{key}.corpus_sample={corpus_sample}: must be null (the full corpus) or >= 0")
        name = f"{name}_sample{int(corpus_sample)}"
    protocol = {
        "settings": ["mono"],
        "metrics": ["ndcg@10", "recall@100"],
        "low_resource": list(LOW_RESOURCE),
        **protocol,
    }
    proto = Protocol.from_node(name, protocol, ("mono",), DEFAULT_HEADLINE)
    if split not in layout.LANGUAGES:
        raise ValueError(f"{key}.split={split!r}: valid splits with qrels are {sorted(layout.LANGUAGES)}")
    languages = list(languages)
    unknown = [lang for lang in languages if lang not in layout.LANGUAGES[split]]
    if unknown or not languages or len(set(languages)) != len(languages):
        raise ValueError(
            f"{key}.languages={languages}: MIRACL {split} has topics and qrels for "
            f"{list(layout.LANGUAGES[split])} (each at most once); unknown: {unknown}"
        )
    bad_group = [lang for lang in proto.groups.get("low_resource", ()) if lang not in layout.LANGUAGES["dev"]]
    if bad_group:
        raise ValueError(
            f"{key}.low_resource: {bad_group} are not MIRACL languages; valid: {list(layout.LANGUAGES['dev'])}"
        )
    options = make_options(index, ignore_identical_ids, embedding_dtype, embeddings_dir, encode_chunk, keep_embeddings)
    root = resolve_root(root)
    if corpus_dir not in (None, "") and not Path(corpus_dir).expanduser().is_dir():
        raise DataNotFoundError(
            f"{key}.corpus_dir={corpus_dir}: directory does not exist\n" + _corpus_remedies(key, hub_corpus)
        )
    query_sets, corpora, tasks = {}, {}, []
    for lang in languages:
        topics = read_topics(
            _judgment_file(root, layout.topics_relpath(lang, split), hub_topics, layout.hub_topics_path(lang, split))
        )
        qrels = read_qrels(
            _judgment_file(root, layout.qrels_relpath(lang, split), hub_topics, layout.hub_qrels_path(lang, split))
        )
        query_sets[lang] = QuerySet(lang, topics)
        corpora[lang] = _corpus(key, lang, corpus_dir, hub_corpus, root, revision, hub_endpoint)
        if corpus_sample not in (None, ""):
            judged = frozenset(d for levels in qrels.values() for d in levels)
            corpora[lang] = SampledCorpus(corpora[lang], judged, int(corpus_sample), int(sample_seed))
        tasks.append(Task("mono", lang, lang, qrels, run_prefix=f"{lang}:"))
    return Benchmark(name, proto, Plan(query_sets, corpora, tasks), options, languages)


def _judgment_file(root: Path, relpath: str, hub_repo: str | None, hub_path: str) -> Path:
    """A topics/qrels file from the data root, else from the hub dataset (network); else a clear error."""
    try:
        return require_file(root, relpath)
    except DataNotFoundError as missing:
        if not hub_repo:
            raise
        try:
            from huggingface_hub import hf_hub_download

            return Path(hf_hub_download(hub_repo, hub_path, repo_type="dataset"))
        except Exception as err:  # offline, gated, or not installed: the local routes still apply
            raise DataNotFoundError(
                f"{missing}\n  - or, with network access, it is read from the hub dataset "
                f"{hub_repo} ({hub_path}); that failed: {type(err).__name__}: {err}"
            ) from None


def _corpus(
    key: str, lang: str, corpus_dir, hub_corpus: str | None, root: Path, revision: str, hub_endpoint: str | None
):
    """``corpus_dir`` if set; else the data root's copy (``miracl/corpus/<lang>/``), fetched once if missing."""
    if corpus_dir not in (None, ""):
        files = layout.corpus_files(Path(corpus_dir).expanduser(), lang)
        if not files:
            raise DataNotFoundError(
                f"MIRACL corpus for {lang!r} not found under {key}.corpus_dir={corpus_dir}: expected "
                f"{corpus_dir}/{lang}/*.jsonl[.gz] or {corpus_dir}/{layout.HUB_CORPUS_FOLDER.format(lang=lang)}/"
                f"docs-*.jsonl.gz\n" + _corpus_remedies(key, hub_corpus)
            )
        return JsonlCorpus(tuple(files), "docid", f"{Path(corpus_dir)}/{files[0].parent.name}")
    local = miracl_corpus.corpus_dir(root, lang)
    if miracl_corpus.read_manifest(local) is not None:
        return miracl_corpus.ParquetCorpus.from_dir(local)
    if not hub_corpus:
        raise DataNotFoundError(
            f"MIRACL corpus for {lang!r}: {key}.corpus_dir is not set, {local} holds no "
            f"complete copy and {key}.hub_corpus is null\n" + _corpus_remedies(key, "miracl/miracl-corpus")
        )
    if policy() == "never":
        raise DataNotFoundError(
            f"MIRACL corpus for {lang!r}: {key}.corpus_dir is not set, {local} holds no "
            f"complete copy, and paths.download=never\n" + _corpus_remedies(key, hub_corpus)
        )
    try:
        return miracl_corpus.ParquetCorpus.from_dir(
            miracl_corpus.ensure_corpus(root, lang, hub_corpus, revision, hub_endpoint)
        )
    except OSError as err:
        raise DataNotFoundError(
            f"MIRACL corpus for {lang!r}: {key}.corpus_dir is not set and fetching it from "
            f"the hub dataset {hub_corpus}@{revision[:12]} into {local} failed "
            f"({type(err).__name__}: {err})\n" + _corpus_remedies(key, hub_corpus)
        ) from None


def _corpus_remedies(key: str, hub_corpus: str | None) -> str:
    hub = hub_corpus or "miracl/miracl-corpus"
    return (
        f"  provide the corpus in one of two ways:\n"
        f'  - local files: {key}.corpus_dir=DIR with DIR/<lang>/*.jsonl[.gz] (lines {{"docid", "title", '
        f'"text"}}), or the hub layout DIR/miracl-corpus-v1.0-<lang>/docs-*.jsonl.gz as fetched by\n'
        f"      hf download {hub} --repo-type dataset --include 'miracl-corpus-v1.0-<lang>/*' --local-dir DIR\n"
        f"  - network: leave {key}.corpus_dir=null and {key}.hub_corpus={hub} with paths.download=auto; it is "
        f"fetched once (pinned revision, sha256-checked) into <data root>/miracl/corpus/<lang>/\n"
        f"  topics and qrels are read from the data root's miracl/ folder (${ENV_VAR} or paths.data_dir)"
    )
