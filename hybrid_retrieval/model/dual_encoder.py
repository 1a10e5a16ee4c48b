"""DualEncoder: one shared backbone for queries and passages, trained with a contrastive loss."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from hybrid_retrieval.backbones.load import load_published
from hybrid_retrieval.data.collate import PairCollator
from hybrid_retrieval.eval.encode import TextEncoder
from hybrid_retrieval.model.distributed import cross_device_loss
from hybrid_retrieval.model.dropout import set_dropout
from hybrid_retrieval.model.grad_cache import GradCache
from hybrid_retrieval.model.head import EmbeddingHead
from hybrid_retrieval.model.loss import InfoNCELoss
from hybrid_retrieval.model.speed import Speed
from hybrid_retrieval.model.text_format import TextFormat


class DualEncoder(pl.LightningModule):
    """Bi-encoder with L2-normalised pooled embeddings.

    The loss is injected (``loss``) so the same encoder serves InfoNCE, its
    cross-device variant and GradCache without knowing which one it runs.
    """

    def __init__(
        self,
        backbone: str,
        pooling: str | None = None,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        max_query_length: int | None = None,
        max_passage_length: int | None = None,
        loss: nn.Module | None = None,
        lr: float = 3e-5,
        weight_decay: float = 0.01,
        warmup_steps: int = 0,
        size: int | None = None,
        name: str | None = None,
        freeze_embeddings: bool = False,
        dropout: float | None = None,
        cross_device_negatives: bool = False,
        grad_cache: Mapping[str, Any] | None = None,
        speed: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["loss"])
        chunk_size = (grad_cache or {}).get("chunk_size")
        self.grad_cache = GradCache(chunk_size) if chunk_size is not None else None
        self.automatic_optimization = self.grad_cache is None  # GradCache runs its own backward passes
        # the backbone as published: a sentence-transformers model brings its pooling, Dense layers, prompts and
        # lengths (backbones/st_modules.py); a non-null model config value overrides what the model says
        published = load_published(backbone)
        self.encoder, self.tokenizer = published.model, published.tokenizer
        self.encoder.train()  # from_pretrained returns eval mode; fine-tuning wants dropout on
        if freeze_embeddings:  # opt-in: a different model (token vectors fixed), not a speed-up of the same one
            self.encoder.get_input_embeddings().weight.requires_grad_(False)
        set_dropout(self.encoder, dropout)  # opt-in (model.dropout): a different model, not a speed-up of the same one
        self.speed = Speed.of(speed)  # model.speed: how fast it trains, never what it learns (model/speed/)
        self.speed.attach(self.encoder)
        # prefixes, lengths and pooling, shared by the collator, the evaluation encoder and the export
        self.text_format = TextFormat(
            **published.text_format(pooling, query_prefix, passage_prefix, max_query_length, max_passage_length)
        )
        # pooling, then the model's Dense layers (trained with the backbone); embed() normalises
        self.head = EmbeddingHead.from_layers(
            self.text_format.pooling,
            int(self.encoder.config.hidden_size),
            published.modules.dense if published.modules else (),
        )
        self.backbone_card = self._card(published.card)
        self.loss_fn = loss if loss is not None else InfoNCELoss()

    # -- encoding ---------------------------------------------------------------------------
    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.speed.embed(self._embed_padded, input_ids, attention_mask, self.encoder.training)

    def _embed_padded(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return F.normalize(self.head(hidden, attention_mask).float(), dim=-1)

    def make_collator(self) -> PairCollator:
        return self.text_format.collator(self.tokenizer)

    def text_encoder(self, batch_size: int = 32, precision: str = "32") -> TextEncoder:
        """This model as the evaluation encoder (length-sorted batches, inference mode)."""
        return self.text_format.encoder(self.encoder, self.tokenizer, self.head, batch_size, precision)

    def save_encoder(self, out_dir) -> Path:
        """Write the encoder for transformers and sentence-transformers users (see model/export.py)."""
        return self.text_format.export(self.encoder, self.tokenizer, out_dir, dense=self.head.dense)

    def _card(self, source: dict[str, Any]) -> dict[str, Any]:
        """The backbone card (backbones/card.py): where the weights came from and how this job encodes with them."""
        fmt = self.text_format
        return {
            **source,
            "parameters": sum(p.numel() for p in self.encoder.parameters())
            + sum(p.numel() for p in self.head.parameters()),
            "pooling": fmt.pooling,
            "dense": self.head.describe(),
            "normalize": True,
            "dim": self.head.dim,
            "prompts": {"query": fmt.query_prefix, "passage": fmt.passage_prefix},
            "max_length": {"query": fmt.max_query_length, "passage": fmt.max_passage_length},
        }

    # -- training ---------------------------------------------------------------------------
    def contrastive_loss(self, q: torch.Tensor, p: torch.Tensor, passage_keys: torch.Tensor | None) -> torch.Tensor:
        """The injected loss; against the passages of all ranks with ``model.cross_device_negatives``."""
        if self.hparams.cross_device_negatives:
            return cross_device_loss(self.loss_fn, q, p, passage_keys)
        return self.loss_fn(q, p, passage_keys)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        keys = batch.get("passage_keys")
        if self.grad_cache is not None:
            loss = self._grad_cache_step(batch, keys)
        else:
            loss = self.contrastive_loss(self.embed(**batch["query"]), self.embed(**batch["passage"]), keys)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss ({loss.item()}) at step {self.global_step}")
        n = batch["query"]["input_ids"].shape[0]
        # what was trained (batches per kind) is counted once, by job/training_record.TrainingRecord
        # with cross-device negatives the mean over ranks is the loss of the whole global batch
        self.log("train/loss", loss, prog_bar=True, batch_size=n, sync_dist=bool(self.hparams.cross_device_negatives))
        self.log("train/cross_batch", float(batch["cross_lingual"]), batch_size=n)
        return loss

    def _grad_cache_step(self, batch: dict[str, Any], keys: torch.Tensor | None) -> torch.Tensor:
        """One optimisation step with GradCache (manual optimisation: same optimizer and schedule)."""
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        optimizer.zero_grad()
        loss = self.grad_cache(
            self.embed,
            [batch["query"], batch["passage"]],
            lambda q, p: self.contrastive_loss(q, p, keys),
            backward=self.manual_backward,
            no_sync=getattr(self.trainer.strategy, "block_backward_sync", None),
        )
        if torch.isfinite(loss):
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        return loss

    def setup(self, stage: str) -> None:
        """The speed levers that need the run: sparse gradients (one process only), compile."""
        self.speed.setup(self.encoder, self.trainer.world_size if self._trainer is not None else 1, stage)

    def make_optimizer(self) -> torch.optim.Optimizer:
        """AdamW; no weight decay on biases, LayerNorm and embedding tables (which makes sparse rows exact)."""
        decay, no_decay = [], []
        for name, param in self.named_parameters():
            if param.requires_grad:
                (no_decay if param.ndim < 2 or "embeddings" in name else decay).append(param)
        return self.speed.optimizer(
            [{"params": decay, "weight_decay": self.hparams.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.hparams.lr,
        )

    def configure_optimizers(self):
        """:meth:`make_optimizer` with a linear decay over the run's steps."""
        from transformers import get_linear_schedule_with_warmup

        optimizer = self.make_optimizer()
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = get_linear_schedule_with_warmup(optimizer, self.hparams.warmup_steps, total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
