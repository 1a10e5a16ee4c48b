"""Training only: build the model, data and trainer from the config, fit, and report the training figures."""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import hydra
import pytorch_lightning as pl
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

import hybrid_retrieval.job.hydra_ddp  # noqa: F401  (registers the hydra_ddp strategy of conf/trainer/ddp.yaml)
from hybrid_retrieval.config.schema import RECIPE_KNOBS
from hybrid_retrieval.config.validate import ConfigError
from hybrid_retrieval.job import resume, train_progress
from hybrid_retrieval.job.callbacks import find_callback, instantiate_callbacks
from hybrid_retrieval.job.checkpointing import JobCheckpoints
from hybrid_retrieval.job.preemption import PreemptionCheckpoint
from hybrid_retrieval.job.training_record import TrainingRecord
from hybrid_retrieval.progress import phase


def build_datamodule(data: DictConfig, **kwargs: Any) -> Any:
    """The data module of the ``data`` node, built without the recipe's knobs (``data.cross_ratio``, ...:
    config/schema.RECIPE_KNOBS), which the recipe's batch kinds have already read by interpolation."""
    args = OmegaConf.to_container(data, resolve=True, throw_on_missing=True)
    for key in RECIPE_KNOBS:
        args.pop(key, None)
    return build(args, **kwargs)


def build(node: Any, **kwargs: Any) -> Any:
    """``instantiate`` that surfaces our own errors (missing file, bad value) instead of Hydra's wrapper."""
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as err:
        if isinstance(err.__cause__, (OSError, ValueError)):
            raise err.__cause__ from None
        raise


class Training(NamedTuple):
    """What a job trains with; the evaluation gets only ``model`` (and the logger to report to)."""

    model: Any
    datamodule: Any
    logger: Any
    trainer: pl.Trainer


def set_up(cfg: DictConfig, checkpoints: JobCheckpoints, resuming: bool) -> Training:
    """Build model, data module, logger and trainer (``model.backbone`` is loaded, or materialised, here)."""
    model = build(cfg.model)
    datamodule = build_datamodule(cfg.data, collate_fn=model.make_collator())
    logger = build(cfg.logger) if cfg.get("logger") else False
    if resuming:
        resume.keep_earlier_log(logger)
    callbacks = instantiate_callbacks(cfg)  # conf/callbacks/: checkpoints, RNG state, training record, progress, ...
    # only the configured ModelCheckpoint writes checkpoints; Lightning would add its own (every epoch) otherwise
    writes_checkpoints = any(isinstance(cb, ModelCheckpoint) for cb in callbacks)
    trainer: pl.Trainer = build(
        cfg.trainer,
        logger=logger,
        callbacks=callbacks,
        enable_checkpointing=writes_checkpoints,
        **checkpoints.trainer_kwargs(),
        **train_progress.trainer_kwargs(cfg),
    )
    return Training(model, datamodule, logger, trainer)


def train(
    cfg: DictConfig, training: Training, checkpoints: JobCheckpoints, ckpt_path: str | None, out_dir: Path
) -> dict[str, float]:
    """Fit (resuming from ``ckpt_path``), save the final checkpoint and return the ``train/*`` figures."""
    model, datamodule, _, trainer = training
    record = find_callback(trainer.callbacks, TrainingRecord)
    if record is None:
        raise ConfigError(
            "callbacks: no TrainingRecord, which counts what the job reports as train/*; "
            "keep callbacks.training_record (conf/callbacks/training_record.yaml)"
        )
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
        preemption = find_callback(trainer.callbacks, PreemptionCheckpoint)
        if preemption is None:  # callbacks.preemption=null: stopped, nothing written
            raise
        raise preemption.preempted(trainer) from None
    train_s = time.perf_counter() - t1
    batches = record.batches  # this process's batches: a resumed job's time covers only those
    checkpoints.save_final(trainer, batches)
    metrics = {
        "train/steps": float(trainer.global_step),
        # train/batch_share/<kind> and train/cross_batch_fraction over the whole run (resumes included)
        **record.counts.metrics(list(datamodule.batch_kinds)),
        "train/pairs_per_s": batches * datamodule.batch_size * trainer.world_size / train_s if train_s else math.nan,
        "time/train_s": train_s,
    }
    if record.final_loss is not None:
        metrics["train/final_loss"] = record.final_loss
    if cfg.get("save_encoder") and trainer.is_global_zero:
        model.save_encoder(out_dir / "encoder")
    release_optimizer_state(trainer, model)
    return metrics


def release_optimizer_state(trainer: pl.Trainer, model) -> None:
    """AdamW's moments (twice the weights) and the last gradients: in last.ckpt now, and evaluation needs neither."""
    for optimizer in trainer.optimizers:
        optimizer.state.clear()
    model.zero_grad(set_to_none=True)
