"""Hard negatives of a training pair, in the language of the passage they compete with.

``data.hard_negatives`` says where a pair's extra negatives come from:

- ``source: none``: in-batch negatives only;
- ``source: paragraph``: ``n`` other sentences of the answer's paragraph (what ``data.hard_negatives=<int>``
  always meant, and still means: an integer is ``{source: paragraph, n: <int>}``);
- ``source: file``: ``n`` of the negatives mined for the pair by ``python -m hybrid_retrieval.mine``
  (BM25 or any backbone), read from ``path``.

Mined negatives are in the passage's language: a monolingual pair (query and passage in X) takes the
negatives mined in X; a cross-lingual pair (query in X, passage in Y) takes those mined in Y (the line
of its own query language if the file has one, ``--pairs all``, else the line of the item's query in Y).
``translated: true`` gives a cross-lingual pair the *same* negatives in the query's language instead:
each negative replaced by its translation where the corpus knows one (the answer sentence of a
parallel item), negatives without one left out.  A monolingual pair is unaffected.

The mined file (JSON lines; :func:`read_mined`): a first line ``{"meta": {...}}`` (how it was mined),
then one line per (item, query language, passage language):
``{"item", "query_lang", "lang", "negatives": [passage ids, by rank], "ranks": [1-based ranks]}``.
Passage ids are the training corpus's own, so a file mined from other data fails when training starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_retrieval.data.corpus import ParallelCorpus, Passage
from hybrid_retrieval.rules import Valid

SOURCES = ("none", "paragraph", "file")
KEYS = ("source", "n", "path", "translated")
MINE_COMMAND = "python -m hybrid_retrieval.mine --retriever bm25 --out PATH [data/model overrides]"


def _shape_ok(value: Any) -> bool:
    """The schema's check: an integer >= 0 (legacy) or a node; the node's keys are checked by :func:`spec_from`."""
    if isinstance(value, Mapping):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# data.hard_negatives; the config schema points at it
HARD_NEGATIVES = Valid(
    _shape_ok,
    ">= 0 (that many other sentences of the answer's paragraph per pair) or a node "
    "{source: none|paragraph|file, n: >= 0, path: mined JSONL, translated: bool}",
)


@dataclass(frozen=True)
class HardNegativeSpec:
    source: str = "paragraph"
    n: int = 0
    path: str | None = None
    translated: bool = False


def spec_from(value: Any, key: str = "data.hard_negatives") -> HardNegativeSpec:
    """``data.hard_negatives`` as a spec; ValueError naming the key when a value cannot work."""
    if isinstance(value, HardNegativeSpec):
        return value
    if not isinstance(value, Mapping):
        HARD_NEGATIVES.require(key, value)
        return HardNegativeSpec("paragraph", int(value))
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise ValueError(f"{key}: unknown key(s) {unknown}; valid keys: {list(KEYS)}")
    source, n = value.get("source", "paragraph"), value.get("n", 0)
    path, translated = value.get("path"), value.get("translated", False)
    if source not in SOURCES:
        raise ValueError(f"{key}.source={source!r}: must be one of {list(SOURCES)}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{key}.n={n!r}: must be an integer >= 0 (hard negatives per pair)")
    if not isinstance(translated, bool):
        raise ValueError(f"{key}.translated={translated!r}: must be true or false")
    if source == "file" and not path:
        raise ValueError(f"{key}.path: source=file needs the mined file ({MINE_COMMAND})")
    if source == "none" and n:
        raise ValueError(f"{key}.n={n} with source=none: set source to paragraph or file, or n to 0")
    return HardNegativeSpec(str(source), int(n), None if path is None else str(path), translated)


def check_config(value: Any, key: str = "data.hard_negatives") -> None:
    """Before anything loads: the node's values, and that a mined file exists."""
    spec = spec_from(value, key)
    if spec.source == "file" and spec.n and not Path(spec.path).expanduser().is_file():
        raise FileNotFoundError(
            f"{key}.path={spec.path}: no such file; mine it first: {MINE_COMMAND.replace('PATH', spec.path)}"
        )


# --- the mined file ----------------------------------------------------------------------------


def read_mined(path: str | Path) -> tuple[dict, dict[tuple[str, str, str], tuple[str, ...]]]:
    """(meta, {(item, query language, passage language): negative passage ids by rank}) of a mined file."""
    path = Path(path).expanduser()
    meta: dict = {}
    lines: dict[tuple[str, str, str], tuple[str, ...]] = {}
    with path.open(encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
                if number == 1 and "meta" in record:
                    meta = record["meta"]
                    continue
                key = (str(record["item"]), str(record["query_lang"]), str(record["lang"]))
                lines[key] = tuple(str(p) for p in record["negatives"])
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(
                    f"{path}:{number}: not a mined-negatives line ({err}); expected "
                    f'{{"item", "query_lang", "lang", "negatives": [...]}}'
                ) from None
    return meta, lines


def passage_tables(corpus: ParallelCorpus) -> list[dict[str, Passage]]:
    """Every passage of the corpus by language index: pid -> Passage (positives and paragraph sentences)."""
    tables: list[dict[str, Passage]] = [{} for _ in corpus.languages]
    index = {lang: j for j, lang in enumerate(corpus.languages)}
    for (_, lang), ex in corpus.examples():
        for p in (ex.positive, *ex.negatives):
            tables[index[lang]].setdefault(p.pid, p)
    return tables


def translations(corpus: ParallelCorpus) -> dict[str, dict[int, Passage]]:
    """pid -> {language index: the same passage in that language}: the answers of parallel items."""
    out: dict[str, dict[int, Passage]] = {}
    for i in range(len(corpus)):
        langs = np.flatnonzero(corpus.available[i])
        if len(langs) < 2:
            continue
        versions = {int(j): corpus.example(i, int(j)).positive for j in langs}
        for p in versions.values():
            out.setdefault(p.pid, {}).update(versions)
    return out


class NegativePicker:
    """The hard negatives of one training sample: ``pick(item, query_lang, passage_lang)`` -> [(Passage, lang)].

    The choice is seeded by (seed, item, languages), so a sample reads the same on every rank and resume.
    """

    def __init__(self, corpus: ParallelCorpus, spec: Any = 0, seed: int = 0):
        self.corpus, self.spec, self.seed = corpus, spec_from(spec), seed
        self.mined: dict[tuple[int, int, int], tuple[Passage, ...]] = {}
        self._translations: dict[str, dict[int, Passage]] | None = None
        if self.spec.translated:
            self._translations = translations(corpus)
        if self.spec.source == "file" and self.spec.n:
            self._load(Path(self.spec.path).expanduser())

    def _load(self, path: Path) -> None:
        corpus = self.corpus
        if not path.is_file():
            raise FileNotFoundError(
                f"data.hard_negatives.path={path}: no such file; mine it first: "
                f"{MINE_COMMAND.replace('PATH', str(path))}"
            )
        _, lines = read_mined(path)
        items = {item: i for i, item in enumerate(corpus.items)}
        langs = {lang: j for j, lang in enumerate(corpus.languages)}
        tables = passage_tables(corpus)
        for (item, q_lang, lang), pids in lines.items():
            if item not in items or q_lang not in langs or lang not in langs:
                continue  # mined for languages or items this job does not train on
            table = tables[langs[lang]]
            missing = [pid for pid in pids if pid not in table]
            if missing:
                raise ValueError(
                    f"data.hard_negatives.path={path}: line of item {item!r} ({q_lang}->{lang}) names "
                    f"passage {missing[0]!r}, which is not among the training corpus's {lang} passages; "
                    f"the file was mined from other data: mine it again ({MINE_COMMAND})"
                )
            self.mined[(items[item], langs[q_lang], langs[lang])] = tuple(table[pid] for pid in pids)
        uncovered = [
            (corpus.items[i], corpus.languages[j])
            for i, j in zip(*np.nonzero(corpus.available), strict=True)
            if (int(i), int(j), int(j)) not in self.mined
        ]
        if uncovered:
            item, lang = uncovered[0]
            raise ValueError(
                f"data.hard_negatives.path={path}: no mined negatives for {len(uncovered)} training "
                f"pair(s), e.g. item {item!r} in {lang!r}; mine the same data.languages and corpus "
                f"({MINE_COMMAND})"
            )

    def pick(self, item: int, q_lang: int, p_lang: int) -> list[tuple[Passage, int]]:
        spec = self.spec
        if spec.source == "none" or spec.n == 0:
            return []
        if spec.source == "paragraph" and not spec.translated:
            pool = self.corpus.example(item, p_lang).negatives
            if spec.n < len(pool):  # the draw data.hard_negatives=<int> always made
                pick = np.random.default_rng([self.seed, item, p_lang]).choice(len(pool), spec.n, replace=False)
                pool = tuple(pool[i] for i in sorted(pick))
            return [(p, p_lang) for p in pool]
        if spec.source == "paragraph":
            pool = self.corpus.example(item, p_lang).negatives
        else:
            pool = self.mined.get((item, q_lang, p_lang)) or self.mined[(item, p_lang, p_lang)]
        found = [(p, p_lang) for p in pool]
        if spec.translated and q_lang != p_lang:
            found = [
                (self._translations[p.pid][q_lang], q_lang)
                for p, _ in found
                if q_lang in self._translations.get(p.pid, {})
            ]
        if spec.n < len(found):
            pick = np.random.default_rng([self.seed, item, q_lang, p_lang]).choice(len(found), spec.n, replace=False)
            found = [found[i] for i in sorted(pick)]
        return found
