"""Evaluation of a trained (or untrained) encoder and the job's record of it: per-query files and metrics.json."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hybrid_retrieval.eval.declaration import Declarations, headline_keys, read_declarations, write_declarations
from hybrid_retrieval.files import replaced_atomically, write_atomically
from hybrid_retrieval.job.disk import dir_mb
from hybrid_retrieval.job.headline import headline_line
from hybrid_retrieval.job.memory import peak_rss_gib
from hybrid_retrieval.job.train import build

log = logging.getLogger(__name__)


def load_benchmarks(cfg: DictConfig) -> dict[str, Any]:
    """Every benchmark of ``cfg.eval``, its files read and checked (a job does this before training)."""
    return {name: build(node) for name, node in (cfg.eval.get("benchmarks") or {}).items() if node is not None}


def evaluate(model, benchmarks: dict[str, Any], cfg: DictConfig, out_dir: Path) -> dict[str, float]:
    """Evaluate every benchmark under its own protocol (metrics, depth, precision); keep per-query scores."""
    metrics: dict[str, float] = {}
    for name, bench in benchmarks.items():
        t0 = time.perf_counter()
        encoder = model.text_encoder(batch_size=int(cfg.eval.batch_size), precision=bench.protocol.precision)
        runs_dir = out_dir / "runs" if cfg.eval.get("save_runs") else None
        bench.options.keep_embeddings = keep_embeddings(cfg)
        found, per_query = bench.evaluate(encoder, runs_dir=runs_dir)
        metrics.update(found)
        metrics.update(data_counts(name, bench.info))
        if not per_query.empty:
            with replaced_atomically(out_dir / f"per_query_{name}.csv.gz") as tmp:
                per_query.to_csv(tmp, index=False, compression="gzip")
        metrics[f"time/eval_{name}_s"] = time.perf_counter() - t0
    return metrics


def keep_embeddings(cfg: DictConfig) -> bool:
    """``eval.keep_embeddings``: auto keeps an untrained backbone's corpus stores (the zero-shot reference)."""
    keep = cfg.eval.get("keep_embeddings", "auto")
    return int(cfg.trainer.get("max_steps") or 0) == 0 if keep in ("auto", None) else bool(keep)


def data_counts(name: str, info: dict) -> dict[str, float]:
    """What was evaluated, per language (``data/<benchmark>/<count>/<lang>``): questions, candidates, skipped."""
    return {
        f"data/{name}/{count}/{lang}": float(n)
        for count, per_lang in info.items()
        if isinstance(per_lang, dict)
        for lang, n in per_lang.items()
    }


def optimized_metric(cfg: DictConfig, declarations: Declarations | None = None) -> str | None:
    """The metrics.json key a job returns to Hydra: ``optimized_metric``, else the first benchmark's first
    declared headline key (``declarations``, by default the ``benchmarks.json`` in the job's output dir)."""
    if cfg.get("optimized_metric"):
        return str(cfg.optimized_metric)
    if declarations is None:
        declarations = read_declarations(Path(cfg.paths.output_dir)) or {}
    return next(iter(headline_keys(declarations)), None)


def write_backbone_card(model: Any, out_dir: Path) -> dict[str, float]:
    """``backbone.json`` (backbones/card.py: id, revision, parameters, pooling, Dense, prompts, precision) next to
    metrics.json; returns its numeric part for metrics.json (``backbone/parameters``)."""
    from hybrid_retrieval.backbones.card import CARD_FILE, numeric_part

    card = getattr(model, "backbone_card", None)
    if not card:
        return {}
    write_atomically(out_dir / CARD_FILE, json.dumps(card, indent=1, sort_keys=True))
    return numeric_part(card)


def write_metrics(metrics: dict[str, float], cfg: DictConfig, out_dir: Path, benchmarks: dict[str, Any]) -> None:
    """Write what each benchmark declared (``benchmarks.json``), then add what the job leaves behind (disk;
    peak memory unless given) and write ``metrics.json`` in one rename: a job with metrics has both."""
    write_declarations((bench.protocol for bench in benchmarks.values()), out_dir)
    keep_ckpt = bool((cfg.get("checkpoint") or {}).get("keep", False))  # last.ckpt goes after this, unless kept
    metrics["disk/job_mb"] = dir_mb(out_dir, skip=() if keep_ckpt else ("checkpoints",))
    metrics.setdefault("mem/peak_rss_gib", peak_rss_gib())  # run_job sets it from its phases (memory.py)
    write_atomically(out_dir / "metrics.json", json.dumps(metrics, indent=1, sort_keys=True))


def report(logger: Any, metrics: dict[str, float], cfg: DictConfig, out_dir: Path, step: int) -> None:
    """Final metrics to the experiment logger (W&B: config, summary, per-pair table), and the job's last line."""
    if logger:
        logger.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)}, step=step)
        logger.finalize("success")
        from hybrid_retrieval.job.tracking import finish_run

        finish_run(logger, cfg, metrics, out_dir)
    log.info("metrics written to %s", out_dir / "metrics.json")
    declarations = read_declarations(out_dir) or {}
    log.info("%s", headline_line(metrics, declarations, optimized_metric(cfg, declarations)))
