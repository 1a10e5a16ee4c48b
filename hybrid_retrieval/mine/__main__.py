"""python -m hybrid_retrieval.mine --retriever bm25|dense [options] [config overrides]

Mines hard negatives for the training corpus of the composed project config (the same ``conf/`` a job
composes: ``data=...``, ``data.languages=...``, ``paths.data_dir=...``; for ``dense`` also ``model=...``
or ``model.backbone=<a fine-tuned encoder dir>``), e.g.::

    python -m hybrid_retrieval.mine --retriever bm25 --out mined/mlqa_r.bm25.jsonl
    python -m hybrid_retrieval.mine --retriever dense model=me5_small_q4 --out mined/mlqa_r.dense.jsonl

then train with ``data.hard_negatives.source=file data.hard_negatives.path=... data.hard_negatives.n=2``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hybrid_retrieval.mine.core import PAIRS, MineSettings, mine

CONF = Path(__file__).resolve().parents[2] / "conf"


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import hybrid_retrieval.config.resolvers  # noqa: F401  (registers ${hr.*})

    if not (CONF / "config.yaml").is_file():
        raise SystemExit(f"{CONF}: no config.yaml; run from a source checkout (pip install -e .)")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def default_out(cfg, tag: str) -> Path:
    """Next to the training data: ``<data root>/<folder>/hard_negatives/<tag>.jsonl`` (LAReQA) or beside
    ``data.corpus.path`` (JSON lines)."""
    from hybrid_retrieval.data.download import resolve_root

    node = cfg.data.corpus
    if node.get("folder"):
        base = resolve_root(node.get("root")) / str(node.folder)
    elif node.get("path"):
        path = Path(str(node.path)).expanduser()
        base = path if path.is_dir() else path.parent
    else:
        raise SystemExit("this training corpus has no single place (several sources): give --out PATH")
    out = base / "hard_negatives" / f"{tag}.jsonl"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SystemExit(
            f"cannot write next to the training data ({out.parent}: {err.strerror}); give --out PATH"
        ) from None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hybrid_retrieval.mine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--retriever",
        choices=["bm25", "dense"],
        required=True,
        help="bm25 (bm25s over the words of data/words.py) or dense (the config's model)",
    )
    parser.add_argument("--k", type=int, default=8, help="negatives per line (default 8)")
    parser.add_argument("--skip", type=int, default=3, help="top non-answer ranks left out (default 3)")
    parser.add_argument("--window", type=int, default=30, help="ranks after the skipped ones sampled from (30)")
    parser.add_argument(
        "--pairs",
        choices=PAIRS,
        default="same",
        help="same: each query against its own language's passages (one line per query and "
        "language); all: also against every other language of its item (dense)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the sampling from the window")
    parser.add_argument("--batch-size", type=int, default=None, help="dense: texts per forward (eval.batch_size)")
    parser.add_argument("--out", type=Path, default=None, help="default: next to the training data")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. data.languages=[de,en] model=me5_small_q4")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # one "Building index" line per language
    settings = MineSettings(k=args.k, skip=args.skip, window=args.window, pairs=args.pairs, seed=args.seed)

    from hybrid_retrieval.job.train import build

    cfg = compose(args.overrides)
    corpus = build(cfg.data.corpus)
    if args.retriever == "bm25":
        from hybrid_retrieval.mine.retrievers import BM25Retriever

        retriever, tag = BM25Retriever(), "bm25"
    else:
        from hybrid_retrieval.mine.retrievers import DenseRetriever

        model = build(cfg.model)
        batch = args.batch_size or int(cfg.eval.batch_size)
        encoder = model.text_encoder(batch_size=batch, precision=str(cfg.trainer.precision))
        name = str(cfg.model.get("name") or "model")
        retriever, tag = DenseRetriever(encoder, f"{name} ({cfg.model.backbone})"), f"dense-{name}"
    out = args.out or default_out(cfg, tag)
    mine(corpus, retriever, settings, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
