"""Hydra entry point: python run.py [-m] key=value ...  (see README.md and docs/sweeps.md)."""

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

import hybrid_retrieval.config.resolvers  # noqa: F401

log = logging.getLogger("run")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run one job and record how it ended in ``<job dir>/status.json``.

    A job that already completed in its dir with the same config is skipped (``rerun=true``
    runs it again), so re-running a sweep's command finishes only what was left.

    In a multirun, a job that fails while training or evaluating (NaN loss, out of
    memory) is recorded and returns, so the sweep goes on and exits 0; the report
    lists the job as failed. Bad input that gets past the checks made before the
    sweep starts (sweep_validation.py), e.g. a backbone that cannot be loaded, is
    re-raised: it fails before training, and Hydra, having run the remaining jobs,
    exits non-zero. A single run always re-raises, so scripts see a non-zero exit.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from pytorch_lightning.utilities import rank_zero_only

    from hybrid_retrieval.job import job_status, tracking
    from hybrid_retrieval.job.evaluate import optimized_metric
    from hybrid_retrieval.job.preemption import Preempted, hand_over
    from hybrid_retrieval.job.run_job import run_job

    if cfg.eval.get("plan_only"):  # the evaluation's cost from the config alone: nothing downloaded or trained
        from hybrid_retrieval.job.eval_plan import print_plan

        print_plan(cfg)
        return None
    out_dir = Path(cfg.paths.output_dir)
    digest = job_status.config_digest(cfg)
    done = None if cfg.get("rerun", False) else job_status.finished_metrics(out_dir, digest)
    if done is not None:  # a re-run sweep: this job finished with this config; its results stand
        log.info("job already complete in %s (same config): skipped; rerun=true runs it again", out_dir)
        key = optimized_metric(cfg)  # from the benchmarks.json the job wrote beside its metrics
        return done.get(key) if key else None
    records = rank_zero_only.rank == 0  # extra DDP ranks rerun this job in the same dir; rank 0 speaks for it
    if records:
        job_status.write_status(out_dir, job_status.RUNNING)
    try:
        metrics = run_job(cfg)
    except Preempted as err:  # checkpointed on a scheduler's signal: record it, ask for the requeue
        if records:
            job_status.write_status(
                out_dir,
                job_status.PREEMPTED,
                signal=err.signum,
                step=err.step,
                checkpoint=str(err.checkpoint),
                message=err.message,
            )
        log.warning("%s", err.message)
        hand_over(err)
    except BaseException as err:
        if records:
            job_status.record_failure(out_dir, err)
        try:
            tracking.fail_run(cfg, err)
        except Exception as wandb_err:  # noqa: BLE001 - never hide the job's own error behind a logging one
            log.warning("W&B: could not mark the run failed: %s", wandb_err)
        in_sweep = HydraConfig.get().mode == RunMode.MULTIRUN
        if not in_sweep or not isinstance(err, Exception) or job_status.is_input_error(err):
            raise
        log.error(
            "job %s failed (%s: %s); recorded in %s, the sweep goes on",
            HydraConfig.get().job.num,
            type(err).__name__,
            err,
            out_dir / job_status.STATUS_FILE,
        )
        return None
    if records:
        job_status.write_status(out_dir, job_status.COMPLETE, config_sha256=digest)
    tracking.finish()  # no-op unless a W&B run is still open; the next job must get its own
    key = optimized_metric(cfg)  # from the benchmarks.json the job wrote beside its metrics
    if key is not None and key not in metrics:
        log.warning("optimized_metric=%s is not among this job's metrics; Hydra gets None", key)
    return metrics.get(key) if key else None


if __name__ == "__main__":
    main()
