"""One job from its composed config: validate, load the evaluation data, train, evaluate, write metrics.json."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytorch_lightning as pl
from omegaconf import DictConfig

import hybrid_retrieval.config.resolvers  # noqa: F401  (registers ${hr.*} resolvers)
from hybrid_retrieval import quiet
from hybrid_retrieval.config.validate import validate
from hybrid_retrieval.data.download import set_policy as set_download_policy
from hybrid_retrieval.job import train_progress
from hybrid_retrieval.job.checkpointing import JobCheckpoints
from hybrid_retrieval.job.eval_plan import log_plan_and_check_disk
from hybrid_retrieval.job.evaluate import evaluate, load_benchmarks, report, write_backbone_card, write_metrics
from hybrid_retrieval.job.memory import PhasePeaks
from hybrid_retrieval.job.train import set_up, train
from hybrid_retrieval.precision import resolve_precision
from hybrid_retrieval.progress import phase

log = logging.getLogger(__name__)


def run_job(cfg: DictConfig) -> dict[str, float]:
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
    memory = PhasePeaks()  # this job's own peaks, also when a sweep runs its jobs in one process
    t0 = time.perf_counter()
    benchmarks = load_benchmarks(cfg)  # loads and checks eval data before any training
    training = set_up(cfg, checkpoints, resuming=bool(ckpt_path))
    if training.trainer.is_global_zero:  # what the evaluation will cost; a short disk fails here, before training
        log_plan_and_check_disk(cfg, training.model)
    metrics: dict[str, float] = {"time/load_s": time.perf_counter() - t0}
    memory.close("load")
    if steps != 0:
        metrics.update(train(cfg, training, checkpoints, ckpt_path, out_dir))
        memory.close("train")
    if training.trainer.is_global_zero:
        with phase(
            "evaluate", every_s=train_progress.every_s(cfg)
        ):  # its heartbeat fills gaps between the pipeline's own progress lines
            metrics.update(evaluate(training.model, benchmarks, cfg, out_dir))
        memory.close("evaluate")
        metrics.update(memory.metrics())
        metrics.update(write_backbone_card(training.model, out_dir))  # backbone.json: which weights, exactly
        write_metrics(metrics, cfg, out_dir, benchmarks)
        checkpoints.finish()
        report(training.logger, metrics, cfg, out_dir, step=training.trainer.global_step)
    return metrics
