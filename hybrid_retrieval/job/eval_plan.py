"""What a job's evaluation will cost, before it starts: per benchmark and language, passages, queries,
tokens, FLOPs, the expected time at this device's measured rate, and the disk its corpus embeddings take.

Built from the config alone (no download, no network): MIRACL's passages and queries come from the pinned
manifest (:mod:`hybrid_retrieval.data.miracl_manifest`) where they are not local yet; tokens are counted
with the model's tokenizer where the texts are local and estimated (every passage at its max length, an
upper bound) where they are not; FLOPs on :mod:`hybrid_retrieval.bench.flops`'s convention; the rate is
the one this device measured last (:mod:`hybrid_retrieval.eval.rates`) or a stated default.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from hybrid_retrieval.text_spec import TextSpec

log = logging.getLogger(__name__)
ID_BYTES = 24  # a docid as stored (fixed-width bytes) and its share of the ids file
QUERY_TOKENS_EST = 24  # a MIRACL question with its prefix, where the topics are not local
SAMPLE = 2000  # local passages tokenized to measure their mean length


@dataclass
class Row:
    benchmark: str
    lang: str
    passages: int
    queries: int
    tokens: float
    token_squares: float
    estimated: bool
    disk_bytes: int
    cached: bool = False  # embeddings already complete for this model (nothing to encode)


def _shape(cfg: DictConfig, model=None) -> tuple[dict, int, object, TextSpec]:
    """Non-embedding parameters, layers, width; embedding dim; tokenizer (None where not available offline);
    the prefixes and lengths the evaluation encodes with (the model's own where it is built)."""
    from hybrid_retrieval.bench.flops import encoder_shape

    if model is not None:
        return encoder_shape(model.encoder), int(model.head.dim), model.tokenizer, model.text_format.spec
    try:
        from transformers import AutoConfig, AutoTokenizer

        from hybrid_retrieval.backbones.registry import materialise

        backbone = materialise(str(cfg.model.backbone))  # a local build (e.g. the bundled model) is made offline
        conf = AutoConfig.from_pretrained(backbone, local_files_only=True)
        tok = AutoTokenizer.from_pretrained(backbone, local_files_only=True)
        width, layers = int(conf.hidden_size), int(conf.num_hidden_layers)
        inter = int(getattr(conf, "intermediate_size", 4 * width))
        params = layers * (4 * width * width + 2 * width * inter)
        limit = min(int(getattr(tok, "model_max_length", 512) or 512), int(conf.max_position_embeddings or 512))
        return {"params": params, "layers": layers, "width": width}, width, tok, _config_spec(cfg, min(limit, 512))
    except Exception as err:  # noqa: BLE001 - no local config: estimate from the declared size
        log.info("plan: no local config for %s (%s); FLOPs from model.size", cfg.model.get("backbone"), err)
        size = int(cfg.model.get("size") or 0)
        return {"params": size, "layers": 12, "width": 768}, 768, None, _config_spec(cfg, 512)


def _config_spec(cfg: DictConfig, limit: int) -> TextSpec:
    """Without a built model (``eval.plan_only``): the config's prefixes and lengths; a null one ("as the model
    says") counts as no prefix and ``limit`` tokens, an upper bound for the plan."""
    m = cfg.model
    return TextSpec(
        "" if m.get("query_prefix") is None else str(m.query_prefix),
        "" if m.get("passage_prefix") is None else str(m.passage_prefix),
        int(m.get("max_query_length") or limit),
        int(m.get("max_passage_length") or limit),
    )


def _lengths(spec: TextSpec, tokenizer, texts: list[str], kind: str) -> tuple[float, float]:
    ids = spec.token_ids(tokenizer, texts, kind) if texts else []
    return float(sum(len(x) for x in ids)), float(sum(len(x) ** 2 for x in ids))


def miracl_rows(name: str, node: DictConfig, spec: TextSpec, tokenizer, dim: int) -> list[Row]:
    from hybrid_retrieval.data import miracl_corpus
    from hybrid_retrieval.data.formats import miracl as layout
    from hybrid_retrieval.data.formats.trec import read_topics
    from hybrid_retrieval.data.miracl_manifest import PASSAGES, QUERIES
    from hybrid_retrieval.files import resolve_root

    root = resolve_root(node.get("root"))
    split = str(node.get("split") or "dev")
    itemsize = 2 if str(node.get("embedding_dtype")) == "float16" else 4
    pmax = spec.max_length("passage")
    rows = []
    sample = node.get("corpus_sample")
    label = f"{name}_sample{int(sample)}" if sample not in (None, "") else name
    for lang in node.languages:
        topics_path = root / layout.topics_relpath(lang, split)
        local = miracl_corpus.corpus_dir(root, lang)
        estimated = False
        if topics_path.is_file() and tokenizer is not None:
            topics = list(read_topics(topics_path).values())
            q_tok, q_sq = _lengths(spec, tokenizer, topics, "query")
            queries = len(topics)
        else:
            queries = len(read_topics(topics_path)) if topics_path.is_file() else QUERIES[split].get(lang, 0)
            q_tok, q_sq, estimated = queries * QUERY_TOKENS_EST, queries * QUERY_TOKENS_EST**2, True
        if node.get("corpus_dir") in (None, "") and miracl_corpus.read_manifest(local) is not None:
            corpus = miracl_corpus.ParquetCorpus.from_dir(local)
            passages = len(corpus)
            if tokenizer is not None:
                texts = next(corpus.batches(SAMPLE))[1]
                s_tok, s_sq = _lengths(spec, tokenizer, texts, "passage")
                p_tok, p_sq = s_tok / len(texts) * passages, s_sq / len(texts) * passages
            else:
                p_tok, p_sq, estimated = passages * pmax, passages * pmax**2, True
        elif node.get("corpus_dir") not in (None, "") and layout.corpus_files(Path(str(node.corpus_dir)), lang):
            from hybrid_retrieval.data.formats.passages import open_text

            passages = 0
            for f in layout.corpus_files(Path(str(node.corpus_dir)).expanduser(), lang):
                with open_text(f) as fh:
                    passages += sum(1 for line in fh if line.strip())
            p_tok, p_sq, estimated = passages * pmax, passages * pmax**2, True
        else:
            passages = PASSAGES.get(lang, 0)
            p_tok, p_sq, estimated = passages * pmax, passages * pmax**2, True
        if sample not in (None, ""):
            frac = min(1.0, (int(sample) + 10 * queries) / max(passages, 1))  # ~10 judged passages per query
            passages, p_tok, p_sq = int(passages * frac), p_tok * frac, p_sq * frac
        rows.append(
            Row(
                label,
                lang,
                passages,
                queries,
                q_tok + p_tok,
                q_sq + p_sq,
                estimated,
                passages * (dim * itemsize + ID_BYTES),
            )
        )
    return rows


def build_plan(cfg: DictConfig, model=None) -> tuple[list[Row], dict]:
    from hybrid_retrieval.bench.flops import encoding_flops
    from hybrid_retrieval.eval.rates import rate_for
    from hybrid_retrieval.precision import resolve_precision

    shape, dim, tokenizer, spec = _shape(cfg, model)
    rows: list[Row] = []
    for name, node in (cfg.eval.get("benchmarks") or {}).items():
        if node is None:
            continue
        if str(node.get("_target_", "")).endswith("load_miracl"):
            rows += miracl_rows(name, node, spec, tokenizer, dim)
    device = "cuda" if _cuda(cfg) else "cpu"
    precision = resolve_precision(str(cfg.trainer.precision), device)
    rate, source = rate_for(device, precision)
    for r in rows:
        r.flops = encoding_flops(**shape, tokens=r.tokens, token_squares=r.token_squares)
        r.seconds = r.flops / rate
    return rows, {
        "rate": rate,
        "rate_source": source,
        "device": device,
        "precision": precision,
        "shape": shape,
        "dim": dim,
    }


def _cuda(cfg: DictConfig) -> bool:
    try:
        import torch

        return torch.cuda.is_available() and str(cfg.trainer.get("accelerator") or "auto") in ("auto", "gpu", "cuda")
    except Exception:  # noqa: BLE001
        return False


def _t(seconds: float) -> str:
    return (
        f"{seconds / 3600:.1f} h"
        if seconds >= 3600
        else f"{seconds / 60:.1f} min"
        if seconds >= 60
        else f"{seconds:.0f} s"
    )


def plan_lines(rows: list[Row], info: dict, free_bytes: int | None = None) -> list[str]:
    est = lambda r: " (est.: every passage at max length)" if r.estimated else ""  # noqa: E731
    lines = [
        f"evaluation plan on {info['device']} at {info['precision']}: rate {info['rate']:.2e} FLOP/s, "
        f"{info['rate_source']}; encoder {info['shape']['params']:,} non-embedding parameters, dim {info['dim']}"
    ]
    for r in rows:
        lines.append(
            f"{r.benchmark} {r.lang}: {r.passages:,} passages, {r.queries:,} queries, "
            f"{r.tokens / 1e6:,.1f} M tokens{est(r)}, {r.flops:.2e} FLOPs, expected {_t(r.seconds)}, "
            f"disk {r.disk_bytes / 1e9:.2f} GB"
        )
    if rows:
        total = sum(r.disk_bytes for r in rows)
        free = "" if free_bytes is None else f" ({free_bytes / 1e9:.1f} GB free)"
        lines.append(
            f"{rows[0].benchmark} total: {sum(r.passages for r in rows):,} passages, "
            f"{sum(r.queries for r in rows):,} queries, {sum(r.tokens for r in rows) / 1e6:,.1f} M tokens, "
            f"{sum(r.flops for r in rows):.2e} FLOPs, expected {_t(sum(r.seconds for r in rows))}, "
            f"disk {total / 1e9:.2f} GB for embeddings{free}"
        )
    return lines


def embeddings_free(cfg: DictConfig) -> tuple[Path, int]:
    from hybrid_retrieval.eval.embedding_cache import embeddings_root

    folder = embeddings_root(cfg.eval.get("embeddings_dir"))
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return folder, shutil.disk_usage(probe).free


def log_plan_and_check_disk(cfg: DictConfig, model=None) -> list[Row]:
    """Log the plan; fail (before training) when the embeddings' disk is short."""
    rows, info = build_plan(cfg, model)
    if not rows:
        return rows
    folder, free = embeddings_free(cfg)
    for line in plan_lines(rows, info, free):
        log.info("%s", line)
    need = sum(r.disk_bytes for r in rows)
    if need > free:
        raise OSError(
            f"eval.embeddings_dir={folder}: the evaluation's corpus embeddings need {need / 1e9:.1f} GB, "
            f"{free / 1e9:.1f} GB are free there; free space, point eval.embeddings_dir elsewhere, or set "
            f"eval.embedding_dtype=float16 (half the size)"
        )
    return rows


def print_plan(cfg: DictConfig) -> None:
    """``eval.plan_only=true``: the plan on stdout, from the config alone (no download, no network)."""
    rows, info = build_plan(cfg)
    _, free = embeddings_free(cfg)
    for line in plan_lines(rows, info, free) if rows else ["evaluation plan: no benchmark with a large corpus"]:
        print(line, flush=True)
