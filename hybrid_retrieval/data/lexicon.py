"""Bilingual lexicons for code-switching: MUSE-format files, or induced from the training set's own parallel text.

A :class:`Lexicon` maps (source language, target language) to {word: translation}
(casefolded words, one translation each).  Two sources, both built once per job in
``load(corpus)`` and never from evaluation data:

- :class:`MuseLexicon`: MUSE-format files (``source target`` per line, the first
  translation of a word wins), given per language pair as a local path or a URL
  (downloaded once into the cache when the machine has network).
- :class:`InducedLexicon`: word alignment with eflomal (a Bayesian IBM-model
  aligner) over the parallel sentences of the training corpus itself: the questions
  of an item in two languages are translations of each other, and so are its answer
  sentences.  Links kept in both alignment directions are counted; a word's
  translation is its most frequent partner seen at least ``min_count`` times.  The
  result is cached on disk under a hash of the text and settings, so the jobs of a
  sweep share it like the token cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from hybrid_retrieval.data.formats.passages import iter_columns
from hybrid_retrieval.data.words import words
from hybrid_retrieval.files import cache_root, write_atomically

log = logging.getLogger(__name__)
PairKey = tuple[str, str]


class Lexicon:
    """(source language, target language) -> {word: translation}."""

    def __init__(self, entries: Mapping[PairKey, Mapping[str, str]] | None = None):
        self.entries: dict[PairKey, dict[str, str]] = {k: dict(v) for k, v in (entries or {}).items()}

    def translate(self, word: str, src: str, tgt: str) -> str | None:
        return self.entries.get((src, tgt), {}).get(word.casefold())

    def targets(self, src: str) -> list[str]:
        """Languages that ``src`` words can be switched into."""
        return sorted(t for (s, t), table in self.entries.items() if s == src and table)

    def to_json(self) -> str:
        return json.dumps({f"{s}-{t}": table for (s, t), table in sorted(self.entries.items())}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Lexicon:
        return cls({tuple(k.split("-", 1)): v for k, v in json.loads(text).items()})


def read_muse(lines: Iterable[str], where: str = "lexicon") -> dict[str, str]:
    """``source target`` per line (tab or space); the first translation of a word wins."""
    table: dict[str, str] = {}
    for _, (source, target) in iter_columns(lines, "source target", where):
        table.setdefault(source.casefold(), target)
    return table


class MuseLexicon:
    """Lexicons from MUSE-format files: ``files`` maps ``"<src>-<tgt>"`` to a path or an http(s) URL."""

    def __init__(self, files: Mapping[str, str]):
        self.files = dict(files)
        for key in self.files:
            if len(key.split("-")) != 2:
                raise ValueError(
                    f"data.lexicon.files: key {key!r} must read '<source lang>-<target lang>', e.g. 'en-de'"
                )

    def load(self, corpus: Any = None) -> Lexicon:
        entries = {}
        for key, where in self.files.items():
            path = _local_copy(where)
            with open(path, encoding="utf-8") as fh:
                entries[tuple(key.split("-"))] = read_muse(fh, str(path))
        return Lexicon(entries)


def _local_copy(where: str) -> Path:
    if not where.startswith(("http://", "https://")):
        path = Path(os.path.expanduser(where))
        if not path.is_file():
            raise FileNotFoundError(f"lexicon file {path} does not exist (give a MUSE-format file or an http(s) URL)")
        return path
    dest = cache_root() / "lexicons" / "muse" / hashlib.sha256(where.encode()).hexdigest()[:16] / Path(where).name
    if not dest.is_file():
        try:
            with urllib.request.urlopen(where, timeout=60) as resp:
                data = resp.read()
        except OSError as err:
            raise FileNotFoundError(
                f"could not download lexicon {where} ({err}); without network, download it "
                f"elsewhere and give its local path instead"
            ) from None
        write_atomically(dest, data.decode("utf-8"))
    return dest


class InducedLexicon:
    """A lexicon induced offline from the training corpus's parallel sentences with eflomal.

    Args:
        min_count: links a (word, translation) pair needs to enter the lexicon.
        pairs: language pairs to induce (``["en-de", ...]``, both directions each);
            default: every pair of training languages that shares items.
        cache_dir: default ``<cache>/lexicons``.
    """

    def __init__(
        self, min_count: int = 2, pairs: list[str] | None = None, cache_dir: str | None = None, n_samplers: int = 2
    ):
        self.min_count, self.pairs, self.cache_dir, self.n_samplers = int(min_count), pairs, cache_dir, int(n_samplers)
        self.seconds = 0.0  # time the last load() spent inducing (0 when it came from the cache)

    def load(self, corpus: Any) -> Lexicon:
        texts = parallel_sentences(corpus, self._pairs(corpus))
        key = hashlib.sha256(json.dumps([sorted(texts.items()), self.min_count], ensure_ascii=False).encode())
        path = Path(self.cache_dir or cache_root() / "lexicons") / f"induced-{key.hexdigest()[:24]}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        # one induction per cache: eflomal's sampler takes no seed, so DDP ranks and the parallel
        # jobs of a sweep must all read the one lexicon written first
        with FileLock(str(path) + ".lock"):
            if path.is_file():
                self.seconds = 0.0
                return Lexicon.from_json(path.read_text(encoding="utf-8"))
            t0 = time.perf_counter()
            entries: dict[PairKey, dict[str, str]] = {}
            for (a, b), sents in texts.items():
                forward, backward = induce_pair(sents, self.min_count, self.n_samplers)
                entries[(a, b)], entries[(b, a)] = forward, backward
            self.seconds = time.perf_counter() - t0
            log.info("induced lexicons for %d language pairs in %.1f s", len(texts), self.seconds)
            lexicon = Lexicon(entries)
            write_atomically(path, lexicon.to_json())
        return lexicon

    def _pairs(self, corpus: Any) -> list[PairKey]:
        if self.pairs is not None:
            return [tuple(p.split("-")) for p in self.pairs]
        langs = list(corpus.languages)
        return [(a, b) for i, a in enumerate(langs) for b in langs[i + 1 :]]


def parallel_sentences(corpus: Any, pairs: list[PairKey]) -> dict[PairKey, list[tuple[str, str]]]:
    """Per language pair: (text in a, text in b) for every shared item: its question and its answer sentence."""
    index = {lang: j for j, lang in enumerate(corpus.languages)}
    out: dict[PairKey, list[tuple[str, str]]] = {}
    for a, b in pairs:
        if a not in index or b not in index:
            raise ValueError(f"data.lexicon.pairs: {a}-{b} is not a pair of training languages {corpus.languages}")
        ja, jb = index[a], index[b]
        sents = []
        for item in np.flatnonzero(corpus.available[:, ja] & corpus.available[:, jb]):
            ea, eb = corpus.example(int(item), ja), corpus.example(int(item), jb)
            sents += [(ea.query, eb.query), (ea.positive.text, eb.positive.text)]
        if sents:
            out[(a, b)] = sents
    return out


def induce_pair(
    sents: list[tuple[str, str]], min_count: int = 2, n_samplers: int = 2
) -> tuple[dict[str, str], dict[str, str]]:
    """Align (a, b) sentence pairs with eflomal; return the a->b and b->a word tables."""
    import eflomal

    src = [" ".join(words(a)) or "." for a, _ in sents]
    tgt = [" ".join(words(b)) or "." for _, b in sents]
    with tempfile.TemporaryDirectory() as tmp:
        fwd, rev = Path(tmp) / "fwd", Path(tmp) / "rev"
        eflomal.Aligner(n_samplers=n_samplers).align(
            src, tgt, links_filename_fwd=str(fwd), links_filename_rev=str(rev), quiet=True
        )
        links_f, links_r = fwd.read_text().splitlines(), rev.read_text().splitlines()
    counts: Counter[tuple[str, str]] = Counter()
    for s, t, lf, lr in zip(src, tgt, links_f, links_r):
        sw, tw = s.split(), t.split()
        both = set(lf.split()) & set(lr.split())  # links found in both directions: high precision
        for link in both:
            i, j = map(int, link.split("-"))
            counts[(sw[i], tw[j])] += 1
    return _best(counts, min_count), _best(Counter({(t, s): n for (s, t), n in counts.items()}), min_count)


def _best(counts: Counter, min_count: int) -> dict[str, str]:
    best: dict[str, tuple[int, str]] = defaultdict(lambda: (0, ""))
    for (s, t), n in counts.items():
        if n >= min_count and (n, t) > best[s]:
            best[s] = (n, t)
    return {s: t for s, (n, t) in best.items()}
