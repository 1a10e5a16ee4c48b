"""MIRACL: monolingual passage retrieval over Wikipedia, nDCG@10 and Recall@100 per language.

Topics and qrels come from the data root's ``miracl/`` folder (or, with
network, from the hub dataset ``miracl/miracl``); the passage corpus from
``corpus_dir`` in the official ``miracl-corpus`` layout or, with network and
no ``corpus_dir``, streamed from the hub dataset ``miracl/miracl-corpus``
through ``datasets``.  Everything is checked at load time, before training.
Passages are encoded as ``"title text"`` like MIRACL's dense baselines.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from hybrid_retrieval.data.download import ENV_VAR, DataNotFoundError, require_file, resolve_root
from hybrid_retrieval.data.formats import miracl as layout
from hybrid_retrieval.data.formats.passages import JsonlCorpus, batched, passage_from_record
from hybrid_retrieval.data.formats.trec import read_qrels, read_topics
from hybrid_retrieval.eval.pipeline import Benchmark, Plan, QuerySet, Task, make_options
from hybrid_retrieval.eval.protocol import Protocol

log = logging.getLogger(__name__)
LOW_RESOURCE = ("sw", "te", "yo", "bn", "th")
DEFAULT_HEADLINE = ("mono/ndcg@10", "mono/recall@100")


@dataclass(frozen=True)
class HubCorpus:
    """One language of ``miracl/miracl-corpus`` streamed from the hub with ``datasets`` (no full download)."""

    repo: str
    lang: str
    files: tuple[str, ...]

    @property
    def description(self) -> str:
        return f"hub:{self.repo}/{layout.HUB_CORPUS_FOLDER.format(lang=self.lang)}"

    def batches(self, size: int) -> Iterator[tuple[list[str], list[str]]]:
        import datasets

        stream = datasets.load_dataset("json", data_files=list(self.files), split="train", streaming=True)
        return batched((passage_from_record(r, "docid", self.description) for r in stream), size)


def load_miracl(name: str = "miracl", languages: Iterable[str] = layout.LANGUAGES["dev"], split: str = "dev",
                root: str | Path | None = None, corpus_dir: str | Path | None = None,
                hub_corpus: str | None = "miracl/miracl-corpus", hub_topics: str | None = "miracl/miracl",
                index=None, ignore_identical_ids: bool = False, embedding_dtype: str = "float32",
                embeddings_dir: str | None = None, encode_chunk: int = 16384, **protocol: Any) -> Benchmark:
    """Read topics and qrels and locate every language's corpus; any gap fails here, naming the key."""
    key = f"eval.benchmarks.{name}"
    protocol = {"settings": ["mono"], "metrics": ["ndcg@10", "recall@100"], "low_resource": list(LOW_RESOURCE),
                **protocol}
    proto = Protocol.from_node(name, protocol, ("mono",), DEFAULT_HEADLINE)
    if split not in layout.LANGUAGES:
        raise ValueError(f"{key}.split={split!r}: valid splits with qrels are {sorted(layout.LANGUAGES)}")
    languages = list(languages)
    unknown = [lang for lang in languages if lang not in layout.LANGUAGES[split]]
    if unknown or not languages or len(set(languages)) != len(languages):
        raise ValueError(f"{key}.languages={languages}: MIRACL {split} has topics and qrels for "
                         f"{list(layout.LANGUAGES[split])} (each at most once); unknown: {unknown}")
    bad_group = [lang for lang in proto.groups.get("low_resource", ()) if lang not in layout.LANGUAGES["dev"]]
    if bad_group:
        raise ValueError(f"{key}.low_resource: {bad_group} are not MIRACL languages; valid: {list(layout.LANGUAGES['dev'])}")
    options = make_options(index, ignore_identical_ids, embedding_dtype, embeddings_dir, encode_chunk)
    root = resolve_root(root)
    if corpus_dir not in (None, "") and not Path(corpus_dir).expanduser().is_dir():
        raise DataNotFoundError(f"{key}.corpus_dir={corpus_dir}: directory does not exist\n"
                                + _corpus_remedies(key, hub_corpus))
    query_sets, corpora, tasks = {}, {}, []
    for lang in languages:
        topics = read_topics(_judgment_file(root, layout.topics_relpath(lang, split), hub_topics,
                                            layout.hub_topics_path(lang, split)))
        qrels = read_qrels(_judgment_file(root, layout.qrels_relpath(lang, split), hub_topics,
                                          layout.hub_qrels_path(lang, split)))
        query_sets[lang] = QuerySet(lang, topics)
        corpora[lang] = _corpus(key, lang, corpus_dir, hub_corpus)
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
            raise DataNotFoundError(f"{missing}\n  - or, with network access, it is read from the hub dataset "
                                    f"{hub_repo} ({hub_path}); that failed: {type(err).__name__}: {err}") from None


def _corpus(key: str, lang: str, corpus_dir, hub_corpus: str | None):
    if corpus_dir not in (None, ""):
        files = layout.corpus_files(Path(corpus_dir).expanduser(), lang)
        if not files:
            raise DataNotFoundError(
                f"MIRACL corpus for {lang!r} not found under {key}.corpus_dir={corpus_dir}: expected "
                f"{corpus_dir}/{lang}/*.jsonl[.gz] or {corpus_dir}/{layout.HUB_CORPUS_FOLDER.format(lang=lang)}/"
                f"docs-*.jsonl.gz\n" + _corpus_remedies(key, hub_corpus))
        return JsonlCorpus(tuple(files), "docid", f"{Path(corpus_dir)}/{files[0].parent.name}")
    if not hub_corpus:
        raise DataNotFoundError(f"MIRACL corpus for {lang!r}: {key}.corpus_dir is not set and {key}.hub_corpus is "
                                f"null\n" + _corpus_remedies(key, "miracl/miracl-corpus"))
    try:
        from huggingface_hub import HfFileSystem

        folder = layout.HUB_CORPUS_FOLDER.format(lang=lang)
        found = HfFileSystem().glob(f"datasets/{hub_corpus}/{folder}/*.jsonl.gz")
        import datasets  # noqa: F401  (streaming needs it; fail now rather than after training)
    except Exception as err:
        raise DataNotFoundError(f"MIRACL corpus for {lang!r}: {key}.corpus_dir is not set and the hub dataset "
                                f"{hub_corpus} could not be reached ({type(err).__name__}: {err})\n"
                                + _corpus_remedies(key, hub_corpus)) from None
    if not found:
        raise DataNotFoundError(f"MIRACL corpus for {lang!r}: the hub dataset {hub_corpus} has no "
                                f"{folder}/*.jsonl.gz\n" + _corpus_remedies(key, hub_corpus))
    files = sorted((f"hf://{f}" for f in found), key=lambda f: layout.natural_key(Path(f)))
    return HubCorpus(hub_corpus, lang, tuple(files))


def _corpus_remedies(key: str, hub_corpus: str | None) -> str:
    hub = hub_corpus or "miracl/miracl-corpus"
    return (f"  provide the corpus in one of two ways:\n"
            f"  - local files: {key}.corpus_dir=DIR with DIR/<lang>/*.jsonl[.gz] (lines {{\"docid\", \"title\", "
            f"\"text\"}}), or the hub layout DIR/miracl-corpus-v1.0-<lang>/docs-*.jsonl.gz as fetched by\n"
            f"      hf download {hub} --repo-type dataset --include 'miracl-corpus-v1.0-<lang>/*' --local-dir DIR\n"
            f"  - network: leave {key}.corpus_dir=null and {key}.hub_corpus={hub}; it is streamed from the "
            f"Hugging Face hub with `datasets` (pip install datasets)\n"
            f"  topics and qrels are read from the data root's miracl/ folder (${ENV_VAR} or paths.data_dir)")
