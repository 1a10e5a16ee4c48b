"""Structured-config schemas: the keys of every config group, their types and valid ranges.

Each schema is a dataclass registered in Hydra's ConfigStore as ``schema/<name>``
and merged under its group by the defaults list of ``conf/config.yaml``, before
the group's yaml.  Hydra then checks types while it composes the config
(``data.cross_ratio=abc`` fails naming the key), and a typo in a key name fails
with Hydra's own "Key '...' is not in struct".  Ranges and choices are declared
next to the types (``valid=...``) and checked by :mod:`hybrid_retrieval.config.validate`
before anything is loaded.  A key that a constructor consumes and checks (the sampler's
ratio, the loss temperature, the pooling) is not given a second rule here: the schema
points at the constructor's own (``owned(...)``, :mod:`hybrid_retrieval.rules`).

Closed groups: a key not declared here is an error, even with ``+key=...``:
``trainer``, ``checkpoint``.
Open groups: declared keys are typed and range-checked, and a group yaml may add
keys of its own (other modules consume them), so only ``+key=...`` can add an
undeclared key from the command line: root, ``paths``, ``data``, ``model``,
``model.loss``, ``eval``.
This module imports neither torch nor the model code: it runs at config time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from hybrid_retrieval.rules import Valid, above, at_least, between, non_empty_unique, one_of, optional, owned

UINT32_MAX = 2**32 - 1


def checked(default: Any, valid: Valid) -> Any:
    """A dataclass field whose value must pass ``valid``."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"valid": valid})
    return field(default=default, metadata={"valid": valid})


def recipe_knob(default: Any, valid: Valid) -> Any:
    """A data key that the recipe's batch kinds read by interpolation (conf/recipe/): typed and checked
    here like any key, but no argument of the data module, which is built without it (RECIPE_KNOBS)."""
    return field(default=default, metadata={"valid": valid, "recipe_knob": True})


# --- open groups -------------------------------------------------------------------------------


@dataclass
class PathsSchema:
    data_dir: str | None = None  # benchmark files; null: $HYBRID_RETRIEVAL_DATA, else the download cache
    # auto: a missing benchmark file is downloaded on first use (pinned, sha256-checked); never: fail instead
    download: str = checked("auto", one_of(lambda: ("auto", "never")))
    output_dir: str = MISSING  # the job's directory (Hydra's output dir)


@dataclass
class ProgressSchema:
    """Progress lines in logs (hybrid_retrieval/progress.py, train_progress.py)."""

    every_n_steps: int = checked(0, at_least(0))  # a training line every N optimizer steps (0: by time only)
    every_s: float = checked(10.0, Valid(lambda v: v > 0, "a positive number of seconds"))


@dataclass
class RootSchema:
    seed: int = checked(42, Valid(lambda v: 0 <= v <= UINT32_MAX, f"an integer in [0, {UINT32_MAX}]"))
    save_encoder: bool = True
    rerun: bool = False  # false: a job already complete in its dir with the same config is skipped
    optimized_metric: str | None = None  # metrics.json key returned to Hydra; None: first declared headline
    paths: PathsSchema = field(default_factory=PathsSchema)
    progress: ProgressSchema = field(default_factory=ProgressSchema)


@dataclass
class DataSchema:
    """Keys of :class:`~hybrid_retrieval.data.datamodule.HybridDataModule` (defaults are its defaults), and
    the recipe's knobs (``recipe_knob``: values conf/recipe/ reads, e.g. the hybrid recipe's share)."""

    _target_: str = "hybrid_retrieval.data.datamodule.HybridDataModule"
    corpus: Any = MISSING
    languages: list[str] = checked([], non_empty_unique())
    batch_size: int = checked(32, owned("hybrid_retrieval.data.sampler", "BATCH_SIZE"))
    # recipe=hybrid (and xx, xy): the share of cross-lingual batches, and how they pair languages
    cross_ratio: float = recipe_knob(0.5, owned("hybrid_retrieval.data.batch_kinds", "SHARE"))
    cross_mode: str = recipe_knob("per_sample", owned("hybrid_retrieval.data.batch_kinds", "CROSS_MODE"))
    schedule: str = checked("exact", owned("hybrid_retrieval.data.sampler", "SCHEDULE"))
    # an int (that many paragraph sentences) or {source: none|paragraph|file, n, path, translated}
    hard_negatives: Any = checked(
        {"source": "paragraph", "n": 0, "path": None, "translated": False},
        owned("hybrid_retrieval.data.hard_negatives", "HARD_NEGATIVES"),
    )
    num_batches: int | None = checked(None, optional(at_least(1)))
    num_workers: int = checked(0, at_least(0))
    seed: int = 0
    batch_kinds: dict[str, Any] = field(default_factory=dict)  # name -> kind (conf/recipe/, data/batch_kinds.py)
    language_alpha: float = checked(0.0, between(0, 1))  # language temperature: p(lang) ~ n**alpha; 0 uniform
    code_switch_rate: float = recipe_knob(0.5, between(0, 1))  # recipe=code_switched: P(a word is switched)


@dataclass
class LossSchema:
    _target_: str = "hybrid_retrieval.model.loss.InfoNCELoss"
    temperature: float = checked(0.05, owned("hybrid_retrieval.model.loss", "TEMPERATURE"))


@dataclass
class GradCacheSchema:
    chunk_size: int | None = checked(None, optional(at_least(1)))  # texts per forward pass; null: off


@dataclass
class SpeedSchema:
    """``model.speed``: levers that change how fast the model trains, never what it learns
    (:class:`~hybrid_retrieval.model.speed.Speed`, whose defaults these are)."""

    sparse_embeddings: bool = True  # sparse embedding gradients + row-wise AdamW: the same parameters
    fused_adamw: bool = True
    unpad: bool = True  # CPU training steps in length-sorted chunks without padding (model/speed/unpad.py)
    unpad_chunk_overhead: int = checked(64, at_least(0))  # tokens: the price of one more forward pass
    fast_dropout: bool = False  # the padded CPU step's dropout masks from NumPy too (another random stream)
    compile: bool = False  # torch.compile the backbone for training


@dataclass
class ModelSchema:
    """Keys of :class:`~hybrid_retrieval.model.dual_encoder.DualEncoder`."""

    _target_: str = "hybrid_retrieval.model.dual_encoder.DualEncoder"
    name: str = MISSING
    size: int = checked(0, at_least(0))  # parameters
    backbone: str = MISSING
    # null: as the model says (a sentence-transformers model's own modules; backbones/st_modules.py); a value overrides
    pooling: str | None = checked(None, optional(owned("hybrid_retrieval.model.pooling", "POOLING")))
    query_prefix: str | None = None
    passage_prefix: str | None = None
    max_query_length: int | None = checked(None, optional(at_least(1)))
    max_passage_length: int | None = checked(None, optional(at_least(1)))
    lr: float = checked(3e-5, above(0))
    weight_decay: float = checked(0.01, at_least(0))
    warmup_steps: int = checked(0, at_least(0))
    freeze_embeddings: bool = False  # token vectors fixed: a different model
    dropout: float | None = checked(None, owned("hybrid_retrieval.model.dropout", "RATE"))  # null: the backbone's
    cross_device_negatives: bool = False  # in-batch negatives from all DDP ranks (docs/scaling.md)
    grad_cache: GradCacheSchema = field(default_factory=GradCacheSchema)
    loss: LossSchema = field(default_factory=LossSchema)
    speed: SpeedSchema = field(default_factory=SpeedSchema)


@dataclass
class EvalSchema:
    benchmarks: dict[str, Any] = field(default_factory=dict)  # each node's protocol: hybrid_retrieval/eval/protocol.py
    save_runs: bool = False
    batch_size: int = checked(128, at_least(1))


# --- closed groups -----------------------------------------------------------------------------


@dataclass
class TrainerSchema:
    """The ``pytorch_lightning.Trainer`` arguments a job may set; defaults are Lightning's own."""

    _target_: str = "pytorch_lightning.Trainer"
    accelerator: str = "auto"
    strategy: str = "auto"
    devices: Any = "auto"
    num_nodes: int = checked(1, at_least(1))
    precision: str = "32-true"
    max_steps: int = checked(-1, at_least(-1))  # -1: no limit (then max_epochs); 0: evaluate only
    max_epochs: int = checked(-1, at_least(-1))
    log_every_n_steps: int = checked(50, at_least(1))
    accumulate_grad_batches: int = checked(1, at_least(1))
    gradient_clip_val: float | None = checked(None, optional(at_least(0)))
    gradient_clip_algorithm: str | None = checked(None, optional(one_of(lambda: ("norm", "value"))))
    deterministic: bool | None = None  # true: ask torch for deterministic kernels (GPU; CPU already is)
    benchmark: bool | None = None
    enable_model_summary: bool = True
    enable_progress_bar: bool | None = None
    num_sanity_val_steps: int = 0
    use_distributed_sampler: bool = False  # the HybridBatchSampler shards by rank itself
    default_root_dir: str | None = None


@dataclass
class CheckpointSchema:
    """Fault tolerance (see docs/errors.md, "Resume after a crash")."""

    every_n_steps: int = checked(50, at_least(0))  # 0: no checkpoints
    resume: bool = True  # continue from <output_dir>/checkpoints/last.ckpt when it exists
    keep: bool = False  # keep last.ckpt after the job succeeded (a re-run then only evaluates again)


# --- registration ------------------------------------------------------------------------------


def open_node(schema: type) -> DictConfig:
    """The schema as a plain dict of typed nodes: values keep their types, but a yaml may add keys.

    Nested dataclass fields become open too; Hydra's struct flag still rejects
    command-line keys that neither the schema nor a yaml declared.
    """
    typed = OmegaConf.structured(schema)
    out = OmegaConf.create({})
    for name in typed:
        child = typed._get_node(name)
        nested = OmegaConf.get_type(child) if isinstance(child, DictConfig) else None
        out[name] = open_node(nested) if is_dataclass(nested) else child
    return out


# data keys that are the recipe's values, not arguments of the data module (job/train.py builds it without them)
RECIPE_KNOBS = tuple(f.name for f in fields(DataSchema) if f.metadata.get("recipe_knob"))
OPEN = {"root": RootSchema, "data": DataSchema, "model": ModelSchema, "eval": EvalSchema}
CLOSED = {"trainer": TrainerSchema, "checkpoint": CheckpointSchema}
# group in the composed config -> schema (root: the top level)
SCHEMAS: dict[str, type] = {**OPEN, **CLOSED}


def register() -> None:
    cs = ConfigStore.instance()
    for name, schema in OPEN.items():
        cs.store(group="schema", name=name, node=open_node(schema))
    for name, schema in CLOSED.items():
        cs.store(group="schema", name=name, node=schema)


register()
