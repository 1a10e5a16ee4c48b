"""BatchTrace: each rank writes down what every training batch it took was made of.

Hybrid training is only meaningful if all ranks take the same batch kind and
languages at the same step; the sampler guarantees it by construction, and
this trace lets a run prove it.  With ``callbacks=with_batch_trace`` rank r
appends one JSON line per step to ``<output_dir>/batch_trace/rank<r>.jsonl``:
``{"step", "kind", "is_cross", "query_langs", "passage_langs", "negative_langs"}`` (the batch kind's name,
whether that kind is cross-lingual, languages as codes, one per pair; ``negative_langs``: per pair, the
language of each of its hard negatives).  Compare the files of two ranks line by line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytorch_lightning as pl


def trace_path(out_dir: str | Path, rank: int) -> Path:
    return Path(out_dir) / "batch_trace" / f"rank{rank}.jsonl"


class BatchTrace(pl.Callback):
    """Appends each training batch's kind and languages to this rank's trace file."""

    def __init__(self, out_dir: str | Path | None = None):
        self.out_dir = out_dir
        self._file = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        path = trace_path(self.out_dir or trainer.default_root_dir, trainer.global_rank)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        corpus = getattr(trainer.datamodule, "corpus", None)  # sampler language indices index corpus.languages
        self._languages = list(corpus.languages) if corpus is not None else None

    def _names(self, indices) -> list:
        idx = [int(i) for i in indices]
        return [self._languages[i] for i in idx] if self._languages else idx

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._file is None or "query_lang" not in batch:
            return
        record = {
            "step": trainer.global_step,
            "kind": batch.get("kind"),
            "is_cross": bool(batch["cross_lingual"]),
            "query_langs": self._names(batch["query_lang"]),
            "passage_langs": self._names(batch["passage_lang"]),
            "negative_langs": [self._names(langs) for langs in batch.get("negative_langs", [])],
        }
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
