"""LAReQA benchmarks (XQuAD-R, MLQA-R): parallel questions over per-language sentence pools."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from hybrid_retrieval.data.download import require_file, resolve_root
from hybrid_retrieval.data.formats.lareqa import LareqaLanguage, read_lareqa

KNOWN_LANGUAGES = {
    "xquad-r": ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"),
    "mlqa-r": ("ar", "de", "en", "es", "hi", "vi", "zh"),
}


@dataclass
class LareqaBenchmark:
    """Per-language questions and candidate sentences; ``answer[lang][qid]`` is the relevant sentence index."""

    name: str
    languages: list[str]
    data: dict[str, LareqaLanguage]

    def answer(self, lang: str) -> dict[str, int]:
        return {q.qid: q.sentence for q in self.data[lang].questions}

    def evaluate(self, encoder, **kwargs):
        """Run the LAReQA protocol (see :mod:`hybrid_retrieval.eval.lareqa_eval`)."""
        from hybrid_retrieval.eval.lareqa_eval import evaluate_lareqa
        return evaluate_lareqa(self, encoder, key=self.name, **kwargs)


def check_languages(folder: str, languages: Iterable[str], key: str) -> list[str]:
    """Fail early, naming the key, when a language is not part of the benchmark."""
    languages = list(languages)
    known = KNOWN_LANGUAGES.get(folder)
    unknown = [lang for lang in languages if known is not None and lang not in known]
    if unknown:
        raise ValueError(f"{key}: {unknown} not in {folder}; valid languages: {list(known)}")
    if len(set(languages)) != len(languages):
        raise ValueError(f"{key}: duplicate languages in {languages}")
    if not languages:
        raise ValueError(f"{key}: empty language list")
    return languages


def load_lareqa(name: str, folder: str, languages: Iterable[str], root: str | Path | None = None) -> LareqaBenchmark:
    languages = check_languages(folder, languages, "eval.languages")
    root = resolve_root(root)
    data = {lang: read_lareqa(require_file(root, f"{folder}/{lang}.json"), lang) for lang in languages}
    return LareqaBenchmark(name, languages, data)
