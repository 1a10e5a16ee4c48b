"""ParallelCorpus: the training view of a parallel collection.

An *item* is one question that exists in several languages; for every
(item, language) the corpus holds the query, its positive passage and, where
the format has them, hard negatives.  The sampler only needs the availability
matrix; the dataset reads texts back by (item, language).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybrid_retrieval.data.download import DataNotFoundError, resolve_root
from hybrid_retrieval.data.formats.lareqa import read_lareqa, require_language_files


@dataclass(frozen=True)
class Passage:
    pid: str
    text: str


@dataclass(frozen=True)
class Example:
    query: str
    positive: Passage
    negatives: tuple[Passage, ...] = ()


class ParallelCorpus:
    """item x language -> Example, with a boolean availability matrix for sampling."""

    def __init__(self, examples: dict[tuple[str, str], Example], languages: Sequence[str]):
        langs_seen = {lang for _, lang in examples}
        missing = [lang for lang in languages if lang not in langs_seen]
        if missing:
            raise ValueError(
                f"data.languages: no training items for {missing}; languages with data: {sorted(langs_seen)}"
            )
        self.languages: list[str] = list(languages)
        lang_index = {lang: j for j, lang in enumerate(self.languages)}
        self.items: list[str] = sorted({item for item, lang in examples if lang in lang_index})
        item_index = {item: i for i, item in enumerate(self.items)}
        self.available = np.zeros((len(self.items), len(self.languages)), dtype=bool)
        self._examples: dict[tuple[int, int], Example] = {}
        for (item, lang), ex in examples.items():
            if lang in lang_index:
                key = (item_index[item], lang_index[lang])
                self.available[key] = True
                self._examples[key] = ex

    def __len__(self) -> int:
        return len(self.items)

    def example(self, item: int, lang: int) -> Example:
        return self._examples[(item, lang)]

    def texts(self) -> tuple[list[str], list[str]]:
        """Every distinct query and passage text (for tokenising the corpus once)."""
        queries = list(dict.fromkeys(ex.query for ex in self._examples.values()))
        passages = list(dict.fromkeys(p.text for ex in self._examples.values() for p in (ex.positive, *ex.negatives)))
        return queries, passages

    def examples(self) -> Iterable[tuple[tuple[str, str], Example]]:
        """((item id, language), Example) for every pair the corpus holds."""
        for (i, j), ex in self._examples.items():
            yield (self.items[i], self.languages[j]), ex

    def items_per_language(self) -> dict[str, int]:
        return {lang: int(n) for lang, n in zip(self.languages, self.available.sum(axis=0))}

    @classmethod
    def from_lareqa(cls, folder: str, languages: Iterable[str], root: str | Path | None = None) -> ParallelCorpus:
        """Build from LAReQA files (``<root>/<folder>/<lang>.json``); negatives are the paragraph's other sentences."""
        examples: dict[tuple[str, str], Example] = {}
        languages = list(languages)
        for lang, path in zip(languages, require_language_files(root, folder, languages, "data.languages")):
            data = read_lareqa(path, lang)
            for q in data.questions:
                negatives = tuple(
                    Passage(data.sentence_ids[s], data.sentences[s])
                    for s in data.paragraph_sentences(q.sentence)
                    if s != q.sentence
                )
                examples[(q.qid, lang)] = Example(
                    q.text, Passage(data.sentence_ids[q.sentence], data.sentences[q.sentence]), negatives
                )
        return cls(examples, languages)

    @classmethod
    def from_jsonl(cls, path, languages: Iterable[str]) -> ParallelCorpus:
        """Build from parallel JSON-lines files (format in :mod:`hybrid_retrieval.data.formats.jsonl`, docs/data.md)."""
        from hybrid_retrieval.data.formats.jsonl import jsonl_files, read_parallel_jsonl

        languages = list(languages)
        wanted = set(languages)
        examples: dict[tuple[str, str], Example] = {}
        for line in read_parallel_jsonl(jsonl_files(path)):
            if line.lang in wanted:
                examples[(line.item, line.lang)] = Example(
                    line.query, Passage(*line.positive), tuple(Passage(*n) for n in line.negatives)
                )
        return cls(examples, languages)

    @classmethod
    def from_tydi_goldp(
        cls, languages: Iterable[str], root: str | Path | None = None, split: str = "train"
    ) -> ParallelCorpus:
        """Monolingual QA pairs from TyDi QA GoldP (``<root>/tydiqa-goldp``; train has en, ko, sw).

        Each question is an item in its own language only, so it appears in monolingual
        (and code-switched) batches and never in a cross-lingual pair.  As in LAReQA, the
        positive is the sentence that holds the answer's first character and the other
        sentences of the passage are hard negatives (sentences split by the same
        segmenter as the TyDi evaluation).  Questions whose answer starts between
        sentences are skipped.
        """
        from hybrid_retrieval.data.formats.tydi import goldp_file, read_goldp
        from hybrid_retrieval.data.sentences import split_sentences

        root = resolve_root(root)
        examples: dict[tuple[str, str], Example] = {}
        languages = list(languages)
        for lang in languages:
            records = read_goldp(goldp_file(root, lang, split), [lang]).get(lang, [])
            sentences: dict[str, list[tuple[int, int, str]]] = {}
            for r in records:
                spans = sentences.setdefault(r.context, split_sentences(r.context, lang))
                pid = f"tydi-{lang}-{abs(hash_text(r.context))}"
                hit = next((s for s, (a, b, _) in enumerate(spans) if a <= r.answer_start < b), None)
                if hit is None:
                    continue
                passages = [Passage(f"{pid}-s{s}", text) for s, (_, _, text) in enumerate(spans)]
                examples[(r.qid, lang)] = Example(
                    r.question, passages[hit], tuple(p for s, p in enumerate(passages) if s != hit)
                )
        return cls(examples, languages)

    @classmethod
    def combine(cls, sources: Mapping[str, ParallelCorpus], languages: Iterable[str]) -> ParallelCorpus:
        """Parallel and monolingual sources in one training corpus (e.g. MLQA-R plus TyDi GoldP sw).

        Item ids become ``<source>:<id>``, so items of different sources never pair up;
        languages outside ``languages`` are dropped.
        """
        languages = list(languages)
        wanted = set(languages)
        examples: dict[tuple[str, str], Example] = {}
        for name, corpus in sources.items():
            for (item, lang), ex in corpus.examples():
                if lang in wanted:
                    examples[(f"{name}:{item}", lang)] = ex
        return cls(examples, languages)


def hash_text(text: str) -> int:
    """A stable id for a passage text (Python's hash() differs between processes)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=6).digest(), "little")


# --- checks before loading: each loader brings its own (config/validate.py calls check_config) -----


def _check_lareqa(node: Mapping, languages: list[str], key: str) -> None:
    require_language_files(node.get("root"), node["folder"], languages, key)


def _check_tydi_goldp(node: Mapping, languages: list[str], key: str) -> None:
    from hybrid_retrieval.data.formats.tydi import goldp_file

    root = resolve_root(node.get("root"))
    for lang in languages:
        try:
            goldp_file(root, lang, str(node.get("split") or "train"))
        except DataNotFoundError as err:
            raise DataNotFoundError(f"{key}: no data for {lang!r}: {err}") from None
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from None


# loader (the method named by data.corpus._target_) -> its check; a loader of your own adds its entry
SOURCE_CHECKS = {"from_lareqa": _check_lareqa, "from_tydi_goldp": _check_tydi_goldp}


def check_config(node: Mapping, languages: Sequence[str]) -> None:
    """Fail before anything loads when a training language has no source or no file.

    Raises ValueError (a wrong value) or DataNotFoundError (a missing file), naming the key.
    """
    languages = list(languages)
    sources = node.get("sources") or {}
    if not sources:
        check = SOURCE_CHECKS.get(str(node.get("_target_", "")).rpartition(".")[2])
        if check is not None:
            check(node, list(node.get("languages") or languages), "data.languages")
        return
    given = {name: [lang for lang in src.get("languages") or [] if lang in languages] for name, src in sources.items()}
    missing = [lang for lang in languages if not any(lang in langs for langs in given.values())]
    if missing:
        offered = ", ".join(f"{name}: {list(src.get('languages') or [])}" for name, src in sources.items())
        raise ValueError(
            f"data.languages: {missing} in no source of data.corpus.sources ({offered}); "
            f"add them to a source or drop them from data.languages"
        )
    for name, src in sources.items():
        check = SOURCE_CHECKS.get(str(src.get("_target_", "")).rpartition(".")[2])
        if check is not None:
            check(src, given[name], f"data.corpus.sources.{name}")
