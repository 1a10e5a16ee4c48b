"""Shared fixtures: tiny LAReQA-format data written by the tests, and in-process config composition."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("de", "en", "es")
WORDS = {
    "en": ["river", "castle", "engine", "garden", "market", "winter", "bridge", "forest"],
    "de": ["Fluss", "Burg", "Motor", "Garten", "Markt", "Winter", "Bruecke", "Wald"],
    "es": ["rio", "castillo", "motor", "jardin", "mercado", "invierno", "puente", "bosque"],
}


def write_lareqa(path: Path, lang: str, n_paragraphs: int = 24, questions_per_paragraph: int = 2) -> None:
    """A small parallel LAReQA file: paragraphs of 3 sentences, questions answered in sentences 0/1."""
    words = WORDS[lang]
    paragraphs = []
    for p in range(n_paragraphs):
        sentences = [
            f"The {words[(p + s) % 8]} number {p * 3 + s} is near {words[(p * 5 + s) % 8]} {p}." for s in range(3)
        ]
        breaks, pos = [], 0
        for s in sentences:
            breaks.append([pos, pos + len(s)])
            pos += len(s) + 1
        context = " ".join(sentences)
        qas = []
        for q in range(questions_per_paragraph):
            start = breaks[q][0] + 4  # inside sentence q
            qas.append(
                {
                    "id": f"p{p}q{q}",
                    "question": f"Where is {words[(p + q) % 8]} {p * 3 + q}?",
                    "answers": [{"answer_start": start, "text": context[start : start + 3]}],
                }
            )
        paragraphs.append({"context": context, "sentences": sentences, "sentence_breaks": breaks, "qas": qas})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}), encoding="utf-8"
    )


GOLDP = {
    "sw": ("swahili", ["mto", "ngome", "injini", "bustani", "soko", "baridi"]),
    "te": ("telugu", ["నది", "కోట", "ఇంజిన్", "తోట", "మార్కెట్", "చలి"]),
    "bn": ("bengali", ["নদী", "দুর্গ", "ইঞ্জিন", "বাগান", "বাজার", "শীত"]),
    "en": ("english", ["river", "castle", "engine", "garden", "market", "winter"]),
}


def write_goldp(path: Path, lang: str, n_passages: int = 12, split: str = "dev") -> None:
    """A small TyDi GoldP file (SQuAD 1.1, one article per question as in the release): 3 sentences a passage."""
    name, words = GOLDP[lang]
    stop = "।" if lang == "bn" else "."
    data = []
    for p in range(n_passages):
        sentences = [f"{words[(p + s) % 6]} {p * 3 + s} {words[(p * 5 + s) % 6]} {p}{stop}" for s in range(3)]
        context = " ".join(sentences)
        for q in range(2):
            start = context.index(sentences[q])
            data.append(
                {
                    "title": f"{words[p % 6]} {p}",
                    "paragraphs": [
                        {
                            "context": context,
                            "qas": [
                                {
                                    "id": f"{name}-{p}-{q}",
                                    "question": f"{words[(p + q) % 6]} {p * 3 + q}?",
                                    "answers": [{"answer_start": start, "text": context[start : start + 2]}],
                                }
                            ],
                        }
                    ],
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"data": data}, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """A data root in the official layouts: xquad-r/ and mlqa-r/ (de, en, es), tydiqa-goldp/ dev (sw, te, bn, en)."""
    root = tmp_path_factory.mktemp("data")
    for folder in ("xquad-r", "mlqa-r"):
        for lang in LANGS:
            write_lareqa(root / folder / f"{lang}.json", lang)
    for lang, (name, _) in GOLDP.items():
        write_goldp(root / "tydiqa-goldp" / "dev" / f"{name}_tydiqa_dev.json", lang)
    return root


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Built models go to a per-session cache unless the caller set one (CI may share a warm cache)."""
    if not os.environ.get("HYBRID_RETRIEVAL_CACHE"):
        os.environ["HYBRID_RETRIEVAL_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    # whatever the caller's shell says: tests never log online, and a missing benchmark file is an error in
    # tests, never a download (tests/test_download.py turns downloads on for its own 127.0.0.1 server)
    os.environ["WANDB_MODE"] = "offline"
    os.environ["HYBRID_RETRIEVAL_DOWNLOAD"] = "never"
    yield


@pytest.fixture(scope="module")
def encoder():
    """The tiny random BERT as an evaluation encoder (mean pooling, the default prefixes); one per test module."""
    from transformers import AutoModel, AutoTokenizer

    from hybrid_retrieval.backbones.tiny import build_tiny_bert
    from hybrid_retrieval.eval.encode import TextEncoder
    from hybrid_retrieval.model.pooling import mean_pool

    path = build_tiny_bert()
    return TextEncoder(
        AutoModel.from_pretrained(path),
        AutoTokenizer.from_pretrained(path),
        mean_pool,
        batch_size=64,
        show_progress=False,
    )


@pytest.fixture
def one_torch_thread():
    """Torch's two threads crawl on a busy 2-core machine; exact comparisons hold for any fixed count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def without_timing(metrics: dict) -> dict:
    """Figures of the machine, not the job (wall clock ``time/*``, ``train/pairs_per_s``, peak memory ``mem/*``,
    bytes left on disk ``disk/*``) differ between any two runs; nothing else may."""
    return {
        k: v for k, v in metrics.items() if not k.startswith(("time/", "mem/", "disk/")) and k != "train/pairs_per_s"
    }


def smoke_overrides(data_root: Path, out_dir: Path) -> list[str]:
    return [
        "experiment=smoke",
        f"paths.data_dir={data_root}",
        f"paths.output_dir={out_dir}",
        "data.batch_size=8",
        "trainer.max_steps=6",
    ]


def compose_config(overrides: list[str]) -> DictConfig:
    import hybrid_retrieval.config.resolvers  # noqa: F401

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)
