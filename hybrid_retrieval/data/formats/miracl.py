"""MIRACL v1.0 file layout: topics and qrels per (language, split), corpus per language.

Under the data root (the layout of Anserini's and the hub's release files):

    miracl/topics/topics.miracl-v1.0-<lang>-<split>.tsv    <qid>\\t<query>
    miracl/qrels/qrels.miracl-v1.0-<lang>-<split>.tsv      <qid> Q0 <docid> <0|1>

The corpus (Wikipedia passages, JSON lines ``{"docid", "title", "text"}``,
gzipped) is published only on the hub as ``miracl/miracl-corpus``, in folders
``miracl-corpus-v1.0-<lang>/docs-<n>.jsonl.gz``.  A local copy may keep that
folder name or be ``<corpus_dir>/<lang>/*.jsonl[.gz]``.
"""

from __future__ import annotations

from pathlib import Path

# Languages with published topics and qrels per split (MIRACL v1.0; de and yo have no train split).
LANGUAGES = {
    "dev": ("ar", "bn", "de", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te", "th", "yo", "zh"),
    "train": ("ar", "bn", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te", "th", "zh"),
}
HUB_CORPUS_FOLDER = "miracl-corpus-v1.0-{lang}"


def topics_relpath(lang: str, split: str) -> str:
    return f"miracl/topics/topics.miracl-v1.0-{lang}-{split}.tsv"


def qrels_relpath(lang: str, split: str) -> str:
    return f"miracl/qrels/qrels.miracl-v1.0-{lang}-{split}.tsv"


def hub_topics_path(lang: str, split: str) -> str:
    """Path of the topics file inside the hub dataset ``miracl/miracl``."""
    return f"miracl-v1.0-{lang}/topics/topics.miracl-v1.0-{lang}-{split}.tsv"


def hub_qrels_path(lang: str, split: str) -> str:
    return f"miracl-v1.0-{lang}/qrels/qrels.miracl-v1.0-{lang}-{split}.tsv"


def corpus_files(corpus_dir: str | Path, lang: str) -> list[Path]:
    """The language's corpus files in a local copy, sorted so ``docs-2`` comes before ``docs-10``; [] if none."""
    root = Path(corpus_dir)
    for folder in (root / lang, root / HUB_CORPUS_FOLDER.format(lang=lang)):
        files = (
            [p for p in folder.glob("*.jsonl*") if p.name.endswith((".jsonl", ".jsonl.gz"))] if folder.is_dir() else []
        )
        if files:
            return sorted(files, key=natural_key)
    return []


def natural_key(path: Path) -> tuple:
    """Sort key that puts ``docs-2`` before ``docs-10``."""
    stem = path.name.split(".", 1)[0]
    head = stem.rstrip("0123456789")
    digits = stem[len(head) :]
    return head, int(digits) if digits else -1, path.name
