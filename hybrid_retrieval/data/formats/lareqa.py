"""Reader for the LAReQA JSON format (XQuAD-R, MLQA-R).

The files are SQuAD v1.1 with two extra fields per paragraph, ``sentences`` and
``sentence_breaks`` (``[start, end)`` character spans).  LAReQA turns reading
comprehension into retrieval: a question's relevant candidate is the sentence
that contains its answer, and the candidate pool is every sentence of every
paragraph in the language.  Question ids are shared across languages, which is
what makes items parallel.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


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
    try:
        with path.open(encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as err:
        raise LareqaFormatError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}): {err.msg}") from err
    except UnicodeDecodeError:
        raise LareqaFormatError(f"{path}: not UTF-8 text ({_first_bad_byte(path)})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise LareqaFormatError(f"{path}: expected a SQuAD-style object with a 'data' list")
    out = LareqaLanguage(lang=lang)
    for a_idx, article in enumerate(doc["data"]):
        paragraphs = article.get("paragraphs", []) if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise LareqaFormatError(f"{path}: data[{a_idx}]: expected an object with a 'paragraphs' list")
        for p_idx, para in enumerate(paragraphs):
            where = f"{path}: data[{a_idx}].paragraphs[{p_idx}]"
            sentences, breaks, qas = _paragraph_fields(para, where)
            para_index = len(out._paragraphs)
            first = len(out.sentences)
            out._paragraphs.append(list(range(first, first + len(sentences))))
            for s_idx, text in enumerate(sentences):
                out.sentence_ids.append(f"{lang}:{a_idx}-{p_idx}-{s_idx}")
                out.sentences.append(text.strip())
                out.paragraph_of.append(para_index)
            for q_idx, qa in enumerate(qas):
                qid, question, start = _question_fields(qa, f"{where}.qas[{q_idx}]")
                s = _sentence_containing(breaks, start)
                if s is None:
                    out.skipped_questions += 1
                    continue
                out.questions.append(Question(qid=qid, text=question.strip(), sentence=first + s))
    if out.skipped_questions:
        log.warning("%s: skipped %d question(s) whose answer lies in no sentence", path, out.skipped_questions)
    if not out.questions:
        raise LareqaFormatError(f"{path}: language {lang!r} has no usable question "
                                f"({out.skipped_questions} skipped: answer in no sentence); fix the file or drop {lang!r}")
    return out


def _first_bad_byte(path: Path) -> str:
    """Where a file stops being UTF-8, counted from its start (the decoder's own offset is per chunk)."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        return f"line {line}, byte offset {err.start}: {err.reason}"
    return "unknown position"


def _paragraph_fields(para: object, where: str) -> tuple[list[str], list[list[int]], list]:
    if not isinstance(para, dict):
        raise LareqaFormatError(f"{where}: expected an object, got {type(para).__name__}")
    try:
        sentences, breaks, qas = para["sentences"], para["sentence_breaks"], para["qas"]
    except KeyError as err:
        raise LareqaFormatError(f"{where}: missing field {err.args[0]!r} (LAReQA needs sentences, sentence_breaks, qas)") from None
    if not isinstance(sentences, list) or not all(isinstance(t, str) for t in sentences):
        raise LareqaFormatError(f"{where}: 'sentences' must be a list of strings")
    if not isinstance(breaks, list) or not all(isinstance(b, list) and len(b) == 2 and all(isinstance(x, int) for x in b)
                                               for b in breaks):
        raise LareqaFormatError(f"{where}: 'sentence_breaks' must be a list of [start, end] integer pairs")
    if len(sentences) != len(breaks):
        raise LareqaFormatError(f"{where}: {len(sentences)} sentences but {len(breaks)} sentence_breaks")
    if not isinstance(qas, list):
        raise LareqaFormatError(f"{where}: 'qas' must be a list")
    return sentences, breaks, qas


def _question_fields(qa: object, where: str) -> tuple[str, str, int]:
    try:
        qid, question, start = qa["id"], qa["question"], qa["answers"][0]["answer_start"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        raise LareqaFormatError(f"{where}: needs id, question and answers[0].answer_start") from None
    if not isinstance(question, str):
        raise LareqaFormatError(f"{where}: question must be a string, got {question!r}")
    if isinstance(start, bool) or not isinstance(start, int):
        raise LareqaFormatError(f"{where}: answers[0].answer_start={start!r} must be an integer character offset")
    return str(qid), question, start
