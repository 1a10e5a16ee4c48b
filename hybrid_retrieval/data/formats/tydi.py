"""Reader for TyDi QA GoldP v1.1 (SQuAD-1.1 JSON), official single file or per-language files.

The official release is one file for all languages
(``tydiqa-goldp-v1.1-{dev,train}.json``); per-language splits of it
(``<language>_tydiqa_<split>.json``) hold the same records.  Either way a
question's language is the prefix of its id (``"swahili-8211...-4"``), which
is what this reader trusts, so both layouts give identical records.
MIRACL's and Mr. TyDi's low-resource queries (sw, te, bn) come from TyDi QA,
which makes GoldP the offline window on those languages: every record is a
question, the Wikipedia passage that answers it, and the answer span.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hybrid_retrieval.data.formats.squad import iter_paragraphs, load_squad, question_fields

LANGUAGE_NAMES = {
    "arabic": "ar",
    "bengali": "bn",
    "english": "en",
    "finnish": "fi",
    "indonesian": "id",
    "japanese": "ja",
    "korean": "ko",
    "russian": "ru",
    "swahili": "sw",
    "telugu": "te",
    "thai": "th",
}
CODE_NAMES = {code: name for name, code in LANGUAGE_NAMES.items()}
# GoldP's published languages per split (Japanese and Thai have none in GoldP v1.1)
SPLIT_LANGUAGES = ("ar", "bn", "en", "fi", "id", "ko", "ru", "sw", "te")
OFFICIAL_FILE = "tydiqa-goldp-v1.1-{split}.json"
PER_LANGUAGE_FILE = "{split}/{name}_tydiqa_{split}.json"


class TydiFormatError(ValueError):
    """A GoldP file that does not follow the format; the message names file and record."""


@dataclass(frozen=True)
class GoldpRecord:
    """One question with its passage; ``answer_start`` is a character offset into ``context``."""

    qid: str
    lang: str
    question: str
    title: str
    context: str
    answer: str
    answer_start: int


def language_of(qid: str) -> str | None:
    """ISO code from the id prefix (``swahili-...`` -> ``sw``), None when the prefix is not a GoldP language."""
    return LANGUAGE_NAMES.get(qid.split("-", 1)[0].lower())


def read_goldp(path: str | Path, languages: Iterable[str] | None = None) -> dict[str, list[GoldpRecord]]:
    """Records per language (in file order), keeping only ``languages`` when given.

    Errors name the file and the record; an answer offset that does not fall
    inside its passage is an error, since the relevant passage or sentence
    could not be told.
    """
    path = Path(path)
    wanted = None if languages is None else set(languages)
    doc = load_squad(path, TydiFormatError)
    out: dict[str, list[GoldpRecord]] = {}
    for where, _, _, article, para in iter_paragraphs(doc, path, TydiFormatError):
        title, context, qas = article.get("title", ""), para.get("context"), para.get("qas")
        if not isinstance(context, str) or not isinstance(qas, list):
            raise TydiFormatError(f"{where}: needs a string 'context' and a 'qas' list")
        if not isinstance(title, str):
            raise TydiFormatError(f"{where}: article title must be a string, got {title!r}")
        for q_idx, qa in enumerate(qas):
            at = f"{where}.qas[{q_idx}]"
            qid, question, start = question_fields(qa, at, TydiFormatError)
            lang = language_of(qid)
            if lang is None:
                raise TydiFormatError(
                    f"{at}: id {qid!r} does not start with a GoldP language name ({', '.join(sorted(LANGUAGE_NAMES))})"
                )
            if wanted is not None and lang not in wanted:
                continue
            answer = qa["answers"][0].get("text", "")
            if not isinstance(answer, str) or not 0 <= start < len(context):
                raise TydiFormatError(
                    f"{at}: answer_start={start} lies outside its context of {len(context)} characters"
                )
            out.setdefault(lang, []).append(
                GoldpRecord(qid, lang, question.strip(), title.strip(), context, answer, start)
            )
    return out


def goldp_relpaths(lang: str, split: str) -> list[str]:
    """Where a language's GoldP records may be under the data root, per-language file first."""
    return [
        f"tydiqa-goldp/{PER_LANGUAGE_FILE.format(split=split, name=CODE_NAMES[lang])}",
        f"tydiqa-goldp/{OFFICIAL_FILE.format(split=split)}",
    ]


def goldp_file(root: Path, lang: str, split: str) -> Path:
    """The file under the data root that holds ``lang``'s records, or a DataNotFoundError saying how to get it."""
    from hybrid_retrieval.data.download import require_file

    if lang not in CODE_NAMES:
        raise ValueError(f"TyDi GoldP has no language {lang!r}; valid: {list(SPLIT_LANGUAGES)}")
    for rel in goldp_relpaths(lang, split):
        if (Path(root) / rel).is_file():
            return Path(root) / rel
    return require_file(Path(root), goldp_relpaths(lang, split)[0])
