"""Reader for the LAReQA JSON format (XQuAD-R, MLQA-R).

The files are SQuAD v1.1 with two extra fields per paragraph, ``sentences`` and
``sentence_breaks`` (``[start, end)`` character spans).  LAReQA turns reading
comprehension into retrieval: a question's relevant candidate is the sentence
that contains its answer, and the candidate pool is every sentence of every
paragraph in the language.  Question ids are shared across languages, which is
what makes items parallel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hybrid_retrieval.data.formats.squad import iter_paragraphs, load_squad, question_fields

log = logging.getLogger(__name__)

KNOWN_LANGUAGES = {
    "xquad-r": ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"),
    "mlqa-r": ("ar", "de", "en", "es", "hi", "vi", "zh"),
}


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


def require_language_files(root: str | Path | None, folder: str, languages: Iterable[str], key: str) -> list[Path]:
    """Every language's file under the data root (fetched if allowed), or an error naming ``key`` and the language."""
    from hybrid_retrieval.data.download import DataNotFoundError, require_file, resolve_root

    root = resolve_root(root)
    files = []
    for lang in check_languages(folder, languages, key):
        try:
            files.append(require_file(root, f"{folder}/{lang}.json"))
        except DataNotFoundError as err:
            raise DataNotFoundError(f"{key}: no data for {lang!r}: {err}") from None
    return files


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    sentence: int  # index into LareqaLanguage.sentences


@dataclass
class LareqaLanguage:
    """One language file: candidate sentences, questions, and paragraph grouping."""

    lang: str
    sentence_ids: list[str] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    paragraph_of: list[int] = field(default_factory=list)  # sentence -> paragraph index
    questions: list[Question] = field(default_factory=list)
    skipped_questions: int = 0

    def paragraph_sentences(self, sentence: int) -> list[int]:
        """All sentence indices of the paragraph that holds ``sentence`` (for hard negatives)."""
        return self._paragraphs[self.paragraph_of[sentence]]

    def __post_init__(self) -> None:
        self._paragraphs: list[list[int]] = []


class LareqaFormatError(ValueError):
    """A LAReQA file that does not follow the format; the message names file and record."""


def _sentence_containing(breaks: list[list[int]], offset: int) -> int | None:
    for i, (start, end) in enumerate(breaks):
        if start <= offset < end:
            return i
    return None


def read_lareqa(path: str | Path, lang: str) -> LareqaLanguage:
    """Parse one LAReQA language file.

    Questions whose answer falls in no sentence are skipped and counted
    (``skipped_questions``, and a warning in the log), as a few MLQA answers
    straddle a break.  A file left with no question is an error naming the language.
    """
    path = Path(path)
    doc = load_squad(path, LareqaFormatError)
    out = LareqaLanguage(lang=lang)
    for where, a_idx, p_idx, _, para in iter_paragraphs(doc, path, LareqaFormatError):
        sentences, breaks, qas = _paragraph_fields(para, where)
        para_index = len(out._paragraphs)
        first = len(out.sentences)
        out._paragraphs.append(list(range(first, first + len(sentences))))
        for s_idx, text in enumerate(sentences):
            out.sentence_ids.append(f"{lang}:{a_idx}-{p_idx}-{s_idx}")
            out.sentences.append(text.strip())
            out.paragraph_of.append(para_index)
        for q_idx, qa in enumerate(qas):
            qid, question, start = question_fields(qa, f"{where}.qas[{q_idx}]", LareqaFormatError)
            s = _sentence_containing(breaks, start)
            if s is None:
                out.skipped_questions += 1
                continue
            out.questions.append(Question(qid=qid, text=question.strip(), sentence=first + s))
    if out.skipped_questions:
        log.warning("%s: skipped %d question(s) whose answer lies in no sentence", path, out.skipped_questions)
    if not out.questions:
        raise LareqaFormatError(
            f"{path}: language {lang!r} has no usable question "
            f"({out.skipped_questions} skipped: answer in no sentence); fix the file or drop {lang!r}"
        )
    return out


def _paragraph_fields(para: dict, where: str) -> tuple[list[str], list[list[int]], list]:
    try:
        sentences, breaks, qas = para["sentences"], para["sentence_breaks"], para["qas"]
    except KeyError as err:
        raise LareqaFormatError(
            f"{where}: missing field {err.args[0]!r} (LAReQA needs sentences, sentence_breaks, qas)"
        ) from None
    if not isinstance(sentences, list) or not all(isinstance(t, str) for t in sentences):
        raise LareqaFormatError(f"{where}: 'sentences' must be a list of strings")
    if not isinstance(breaks, list) or not all(
        isinstance(b, list) and len(b) == 2 and all(isinstance(x, int) for x in b) for b in breaks
    ):
        raise LareqaFormatError(f"{where}: 'sentence_breaks' must be a list of [start, end] integer pairs")
    if len(sentences) != len(breaks):
        raise LareqaFormatError(f"{where}: {len(sentences)} sentences but {len(breaks)} sentence_breaks")
    if not isinstance(qas, list):
        raise LareqaFormatError(f"{where}: 'qas' must be a list")
    return sentences, breaks, qas
