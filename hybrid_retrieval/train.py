"""Compose and run one job: validate, build, train, evaluate, write metrics.json."""
from __future__ import annotations

import json
import logging
import math
import time
import warnings
from pathlib import Path
from typing import Any

import hydra
from hydra.errors import InstantiationException
import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

import hybrid_retrieval.hydra_ddp  # noqa: F401  (registers the hydra_ddp strategy of conf/trainer/ddp.yaml)
import hybrid_retrieval.resolvers  # noqa: F401  (registers ${hr.*} resolvers)
from hybrid_retrieval.cache import replaced_atomically, write_atomically
from hybrid_retrieval.checkpointing import JobCheckpoints
from hybrid_retrieval.model.precision import resolve_precision
from hybrid_retrieval.validate import validate
from hybrid_retrieval import quiet, train_progress
from hybrid_retrieval.data.download import set_policy as set_download_policy
from hybrid_retrieval.disk import dir_mb
from hybrid_retrieval.memory import peak_rss_gib
from hybrid_retrieval.headline import headline_line
from hybrid_retrieval.progress import phase

log = logging.getLogger(__name__)


def build(node: Any, **kwargs: Any) -> Any:
    """``instantiate`` that surfaces our own errors (missing file, bad value) instead of Hydra's wrapper."""
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as err:
        if isinstance(err.__cause__, (OSError, ValueError)):
            raise err.__cause__ from None
        raise


def _instantiate_benchmarks(cfg: DictConfig) -> dict[str, Any]:
    return {name: build(node) for name, node in (cfg.eval.get("benchmarks") or {}).items() if node is not None}


def evaluate(model, benchmarks: dict[str, Any], cfg: DictConfig, out_dir: Path) -> dict[str, float]:
    """Evaluate every benchmark under its own protocol (metrics, depth, precision); keep per-query scores."""
    metrics: dict[str, float] = {}
    for name, bench in benchmarks.items():
        t0 = time.perf_counter()
        encoder = model.text_encoder(batch_size=int(cfg.eval.batch_size), precision=bench.protocol.precision)
        runs_dir = out_dir / "runs" if cfg.eval.get("save_runs") else None
        found, per_query = bench.evaluate(encoder, runs_dir=runs_dir)
        metrics.update(found)
        metrics.update(data_counts(name, bench.info))
        if not per_query.empty:
            with replaced_atomically(out_dir / f"per_query_{name}.csv.gz") as tmp:
                per_query.to_csv(tmp, index=False, compression="gzip")
        metrics[f"time/eval_{name}_s"] = time.perf_counter() - t0
    return metrics


def data_counts(name: str, info: dict) -> dict[str, float]:
    """What was evaluated, per language (``data/<benchmark>/<count>/<lang>``): questions, candidates, skipped."""
    return {f"data/{name}/{count}/{lang}": float(n) for count, per_lang in info.items()
            if isinstance(per_lang, dict) for lang, n in per_lang.items()}


def optimized_metric(cfg: DictConfig) -> str | None:
    """The metrics.json key a job returns to Hydra: ``optimized_metric``, else the first benchmark's first headline."""
    if cfg.get("optimized_metric"):
        return str(cfg.optimized_metric)
    for name, node in (cfg.eval.get("benchmarks") or {}).items():
        if node is not None and node.get("headline"):
            return f"{name}/{node.headline[0]}"
    return None


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one job and return its flat metrics (also written to ``<output_dir>/metrics.json``)."""
    quiet.silence_third_party()
    set_download_policy(cfg.paths.get("download"))  # a missing benchmark file is fetched on first use, or not
    validate(cfg)
    # auto: bf16 only where the device that trains computes it natively
    cfg.trainer.precision = resolve_precision(cfg.trainer.precision, cfg.trainer.get("accelerator") or "auto")
    log.info("precision: %s (training and, unless a benchmark sets its own, evaluation)", cfg.trainer.precision)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = int(cfg.trainer.get("max_steps") or 0)
    checkpoints = JobCheckpoints(cfg, out_dir)
    ckpt_path = checkpoints.resume_path() if steps != 0 else None  # before loading anything: a wrong dir fails fast
    pl.seed_everything(int(cfg.seed), workers=True)
    t0 = time.perf_counter()
    benchmarks = _instantiate_benchmarks(cfg)  # loads and checks eval data before any training
    model = build(cfg.model)
    datamodule = build(cfg.data, collate_fn=model.make_collator())
    logger = build(cfg.logger) if cfg.get("logger") else False
    if ckpt_path:
        checkpoints.keep_earlier_log(logger)
    trainer_kwargs = checkpoints.trainer_kwargs()
    progress_kwargs = train_progress.trainer_kwargs(cfg)  # log lines off a terminal (step, loss, pairs/s, ETA)
    trainer_kwargs["callbacks"] = [*trainer_kwargs.get("callbacks", []), *progress_kwargs.pop("callbacks")]
    trainer: pl.Trainer = build(cfg.trainer, logger=logger, **trainer_kwargs, **progress_kwargs)
    metrics: dict[str, float] = {"time/load_s": time.perf_counter() - t0}

    if steps != 0:
        t1 = time.perf_counter()
        try:
            # "fit" heartbeat lines cover what precedes the first step (data set-up) and steps slower than progress.every_s
            with warnings.catch_warnings(), phase("fit", every_s=train_progress.every_s(cfg)):
                # the HybridBatchSampler does resume mid-epoch exactly (checkpointing.py)
                warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch")
                # weights_only=True: checkpoints are plain data; a tampered one is refused (checkpoint_safety.py)
                trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        except FloatingPointError as err:
            raise FloatingPointError(f"training stopped: {err}; {checkpoints.stopped_message()}") from err
        except SIGTERMException:  # a scheduler's signal: last.ckpt is written, exit asking for a requeue (preemption.py)
            raise checkpoints.preemption.preempted(trainer) from None
        train_s = time.perf_counter() - t1
        checkpoints.save_final(trainer)
        batches = checkpoints.record.batches  # this process's batches: a resumed job's time covers only those
        metrics.update({
            "train/steps": float(trainer.global_step),
            # train/batch_share/<kind> and train/cross_batch_fraction over the whole run (resumes included)
            **checkpoints.record.counts.metrics(list(datamodule.batch_kinds)),
            "train/pairs_per_s": batches * datamodule.batch_size * trainer.world_size / train_s if train_s else math.nan,
            "time/train_s": train_s,
        })
        if checkpoints.record.final_loss is not None:
            metrics["train/final_loss"] = checkpoints.record.final_loss
        if cfg.get("save_encoder") and trainer.is_global_zero:
            model.save_encoder(out_dir / "encoder")
    if trainer.is_global_zero:
        with phase("evaluate", every_s=train_progress.every_s(cfg)):  # its heartbeat fills gaps between the pipeline's own progress lines
            metrics.update(evaluate(model, benchmarks, cfg, out_dir))
        # what the job leaves behind: last.ckpt goes once metrics.json is written, unless checkpoint.keep
        keep_ckpt = bool((cfg.get("checkpoint") or {}).get("keep", False))
        metrics["disk/job_mb"] = dir_mb(out_dir, skip=() if keep_ckpt else ("checkpoints",))
        metrics["mem/peak_rss_gib"] = peak_rss_gib()  # training and evaluation included (memory.py)
        write_atomically(out_dir / "metrics.json", json.dumps(metrics, indent=1, sort_keys=True))
        checkpoints.finish()
        if logger:
            logger.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)}, step=trainer.global_step)
            logger.finalize("success")
            from hybrid_retrieval.tracking import finish_run  # W&B: config, summary, per-pair table, finish
            finish_run(logger, cfg, metrics, out_dir)
        log.info("metrics written to %s", out_dir / "metrics.json")
        log.info("%s", headline_line(metrics, cfg))
    return metrics

