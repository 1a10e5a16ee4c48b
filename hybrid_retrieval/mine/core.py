"""The mining loop: rank, drop the answer, skip, sample from a rank window, append resumably.

Lines are written in a fixed order (passage language, then the corpus's item order, then query
language), in chunks that are flushed as they are done.  A run that finds its output file resumes it:
the meta line must match (same corpus, retriever and settings), a partly written last line is cut off,
and only the lines not yet in the file are written.  Every line depends only on its block's inputs and a
generator seeded by (seed, item, languages), so a killed and resumed run ends with the same bytes as an
uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_retrieval.data.corpus import ParallelCorpus
from hybrid_retrieval.data.hard_negatives import passage_tables
from hybrid_retrieval.progress import emit, phase

log = logging.getLogger(__name__)
PAIRS = ("same", "all")
CHUNK = 256  # queries searched and written per flush
EXTRA = 16  # ranks retrieved beyond skip + window, for the answer and its duplicates that are dropped


@dataclass(frozen=True)
class MineSettings:
    """``k`` negatives per line, sampled from the non-answer ranks ``skip + 1 .. skip + window``."""

    k: int = 8
    skip: int = 3
    window: int = 30
    pairs: str = "same"  # same: each item's query in L against L's passages; all: every query language too
    seed: int = 0

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"--k={self.k}: must be >= 1 (negatives per line)")
        if self.skip < 0:
            raise ValueError(f"--skip={self.skip}: must be >= 0 (top non-answer ranks left out)")
        if self.window < 1:
            raise ValueError(f"--window={self.window}: must be >= 1 (ranks sampled from, after the skipped ones)")
        if self.pairs not in PAIRS:
            raise ValueError(f"--pairs={self.pairs!r}: must be one of {list(PAIRS)}")


def sample_window(
    ranked: list[str], exclude: set[str], settings: MineSettings, rng: np.random.Generator
) -> list[tuple[str, int]]:
    """(passage id, rank) of up to ``k`` negatives: ``ranked`` without ``exclude``, ranks counted after
    removing it (1-based), the first ``skip`` dropped, ``k`` drawn from the next ``window``, by rank."""
    candidates = [pid for pid in ranked if pid not in exclude]
    window = candidates[settings.skip : settings.skip + settings.window]
    chosen = sorted(rng.choice(len(window), min(settings.k, len(window)), replace=False)) if window else []
    return [(window[i], settings.skip + int(i) + 1) for i in chosen]


def corpus_digest(corpus: ParallelCorpus) -> str:
    """Which training pairs the file was mined for (items, languages, answers)."""
    h = hashlib.blake2b(digest_size=8)
    for (item, lang), ex in sorted(corpus.examples(), key=lambda kv: kv[0]):
        h.update(f"{item}\t{lang}\t{ex.positive.pid}\n".encode())
    return h.hexdigest()


def _seed(*parts: Any) -> list[int]:
    return [zlib.crc32(str(p).encode("utf-8")) for p in parts]


def open_resumable(out: Path, meta: dict) -> set[tuple[str, str, str]]:
    """The keys already in ``out`` (cutting off a partly written last line), or a fresh file with the meta line."""
    out.parent.mkdir(parents=True, exist_ok=True)
    header = json.dumps({"meta": meta}, ensure_ascii=False, sort_keys=True) + "\n"
    if not out.is_file() or out.stat().st_size == 0:
        out.write_text(header, encoding="utf-8")
        return set()
    data = out.read_bytes()
    cut = data.rfind(b"\n") + 1
    lines = data[:cut].decode("utf-8").splitlines()
    if not lines:
        out.write_text(header, encoding="utf-8")
        return set()
    found = json.loads(lines[0]).get("meta") if lines[0].startswith('{"meta"') else None
    if found != json.loads(header)["meta"]:
        raise ValueError(
            f"{out}: holds negatives mined otherwise ({found}); this run: {meta}. Delete it or write elsewhere (--out)"
        )
    if cut < len(data):
        with out.open("r+b") as f:
            f.truncate(cut)
        log.info("%s: cut off a partly written last line (a killed run); resuming", out)
    done = set()
    for text in lines[1:]:
        record = json.loads(text)
        done.add((record["item"], record["query_lang"], record["lang"]))
    return done


def mine(
    corpus: ParallelCorpus,
    retriever: Any,
    settings: MineSettings,
    out: str | Path,
    after_chunk: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Mine into ``out`` (resuming it); returns figures (lines, seconds, bytes). ``after_chunk(lines written so
    far)`` runs after each flushed chunk (tests stop a run there)."""
    out = Path(out)
    meta = {
        "format": 1,
        "corpus": corpus_digest(corpus),
        "languages": list(corpus.languages),
        **retriever.describe(),
        **asdict(settings),
    }
    t0 = time.perf_counter()
    done = open_resumable(out, meta)
    resumed = len(done)
    if resumed:
        emit("mine: resuming %s: %d line(s) already there", out, resumed)
    tables = passage_tables(corpus)
    written = 0
    with out.open("a", encoding="utf-8") as f:
        for j, lang in enumerate(corpus.languages):
            jobs = [
                (int(i), qj)
                for i in np.flatnonzero(corpus.available[:, j])
                for qj in ([j] if settings.pairs == "same" else np.flatnonzero(corpus.available[i]).tolist())
            ]
            keys = [(corpus.items[i], corpus.languages[qj], lang) for i, qj in jobs]
            if all(k in done for k in keys):
                continue
            pids = sorted(tables[j])
            by_text: dict[str, set[str]] = {}
            for pid in pids:
                by_text.setdefault(tables[j][pid].text, set()).add(pid)
            retriever.index([tables[j][pid].text for pid in pids])
            queries = retriever.queries([corpus.example(i, qj).query for i, qj in jobs])
            depth = min(len(pids), settings.skip + settings.window + EXTRA)
            with phase(f"mine {lang} ({retriever.name})", total=len(jobs), unit="queries") as progress:
                for lo in range(0, len(jobs), CHUNK):
                    todo = [r for r in range(lo, min(lo + CHUNK, len(jobs))) if keys[r] not in done]
                    if todo:
                        rows = retriever.search(queries[lo : lo + CHUNK], depth)
                        for r in todo:
                            i, qj = jobs[r]
                            answer = corpus.example(i, j).positive
                            exclude = {answer.pid} | by_text.get(answer.text, set())  # and its duplicates
                            ranked = [pids[x] for x in rows[r - lo] if x >= 0]
                            rng = np.random.default_rng(_seed(settings.seed, *keys[r]))
                            chosen = sample_window(ranked, exclude, settings, rng)
                            item, q_lang, _ = keys[r]
                            f.write(
                                json.dumps(
                                    {
                                        "item": item,
                                        "query_lang": q_lang,
                                        "lang": lang,
                                        "negatives": [pid for pid, _ in chosen],
                                        "ranks": [rank for _, rank in chosen],
                                    },
                                    ensure_ascii=False,
                                )
                                + "\n"
                            )
                        f.flush()
                        written += len(todo)
                        if after_chunk is not None:
                            after_chunk(written)
                    progress.update(min(lo + CHUNK, len(jobs)) - lo)
    seconds = time.perf_counter() - t0
    figures = {"lines": resumed + written, "written": written, "seconds": seconds, "bytes": out.stat().st_size}
    emit(
        "mine: %s: %d lines (%d written now) in %.1f s, %.1f MB",
        out,
        figures["lines"],
        written,
        seconds,
        figures["bytes"] / 1e6,
    )
    return figures
